"""ORPO on TRL's ORPOTrainer (trl.experimental), fed the pairs fttui tokenized, with the SFT term on the reply.

ORPO adds ``beta`` x an odds-ratio term (chosen over rejected) to the SFT loss of the chosen reply; it needs no
reference model, so there is no second forward pass and nothing to switch off. TRL's trainer tokenizes text rows
in its ``__init__`` (its ``tokenize_row`` hook) and takes the SFT loss over prompt and reply; here the rows are
fttui's (engine.data.preference_rows: masks on the replies, over-long and bad-row policies applied) and the SFT loss is
on the chosen reply's tokens only, as fttui's SFT trains only replies.
"""
from __future__ import annotations

import os

from fttui.engine.data.preference_rows import PAIR_COLUMNS

IGNORE = -100
NOTE = ("orpo: TRL's ORPOTrainer, from trl.experimental (its API may change between TRL releases; "
        "the warning it prints on import is silenced)")


def as_orpo_row(row: dict) -> dict:
    """Prompt + each reply as one sequence, the prompt masked out of its labels (TRL's ``chosen_*`` columns)."""
    prompt, out = row["prompt_ids"], {}
    for side in ("chosen", "rejected"):
        ids = prompt + row[f"{side}_ids"]
        out[f"{side}_input_ids"] = ids
        out[f"{side}_attention_mask"] = [1] * len(ids)
        out[f"{side}_labels"] = [IGNORE] * len(prompt) + row[f"{side}_ids"]
    return out


def _as_orpo(dataset):
    """In memory, so TRL's own passes over the rows in its ``__init__`` write no cache files next to fttui's."""
    if dataset is None:
        return None
    return dataset.map(as_orpo_row, remove_columns=list(PAIR_COLUMNS), keep_in_memory=True)


def config_class():
    os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")  # said once in the run's log instead (NOTE)
    from trl.experimental.orpo import ORPOConfig

    return ORPOConfig


def trainer_class():
    config_class()
    from trl.experimental.orpo import ORPOTrainer

    class PreparedORPOTrainer(ORPOTrainer):
        tally = None  # [chosen wins, pairs, chosen NLL sum, chosen tokens] while evaluating

        def __init__(self, *, train_dataset, eval_dataset=None, **kwargs):
            super().__init__(train_dataset=_as_orpo(train_dataset), eval_dataset=_as_orpo(eval_dataset), **kwargs)

        def tokenize_row(self, feature, model=None):
            return {}  # tokenized by fttui (as_orpo_row): the row is kept as it is

        def concatenated_forward(self, model, batch):
            chosen, rejected, *rest = super().concatenated_forward(model, batch)
            # chosen/rejected are each reply's mean token log-prob; weighted by reply length they give the
            # token-mean NLL of the chosen replies, in place of TRL's over prompt and reply.
            tokens = (batch["chosen_labels"][:, 1:] != IGNORE).sum(1).to(chosen.dtype)
            rest[2] = -(chosen * tokens).sum() / tokens.sum().clamp(min=1)
            if self.tally is not None:
                for i, value in enumerate(((chosen > rejected).sum(), chosen.numel(), -(chosen * tokens).sum(),
                                           tokens.sum())):
                    self.tally[i] += float(value)
            return (chosen, rejected, *rest)

        def evaluation_loop(self, dataloader, description, prediction_loss_only=None, ignore_keys=None,
                            metric_key_prefix="eval"):
            self.tally = [0.0] * 4
            try:
                output = super().evaluation_loop(dataloader, description, prediction_loss_only, ignore_keys,
                                                 metric_key_prefix)
                wins, pairs, loss, tokens = self.tally
            finally:
                self.tally = None
            # As for DPO: how often the model itself finds the chosen reply likelier per token than the rejected
            # one, and the chosen replies' token loss (weighted by tokens, not averaged per batch as nll_loss is)
            output.metrics[f"{metric_key_prefix}_prefers_chosen"] = wins / max(pairs, 1)
            output.metrics[f"{metric_key_prefix}_chosen_loss"] = loss / max(tokens, 1.0)
            return output

    return PreparedORPOTrainer
