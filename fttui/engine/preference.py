"""Preference pairs (DPO): rows -> prompt, chosen and rejected tokens, and the TRL trainer that learns from them.

A pair is read as two prompt/completion conversations that share the prompt, and each is rendered and
tokenized whole with the model's chat template (engine.chat), so the completion tokens are exactly the reply
and its end marker. Rows come as TRL writes them (``prompt``, ``chosen``, ``rejected``: strings or message
lists; or only ``chosen`` and ``rejected`` as whole conversations sharing their first turns) or as
LLaMA-Factory's ranking rows (``conversations`` + a ``chosen`` and a ``rejected`` turn). Over-long and
unreadable pairs follow the same ``data.overlong`` and ``data.max_bad_rows`` policies as SFT rows.
"""
from __future__ import annotations

from fttui.engine.chat import IGNORE_INDEX, encode
from fttui.errors import DataError

PAIR_COLUMNS = ("prompt_ids", "chosen_ids", "rejected_ids")
PROMPT_SOURCES = ("prompt", "conversations", "messages")


def _as_turns(value):
    return [value] if isinstance(value, dict) else value


def _split_implicit(chosen: list, rejected: list, where: str) -> tuple[list, list, list]:
    """Whole conversations for both replies: the shared first turns are the prompt."""
    shared = 0
    while shared < min(len(chosen), len(rejected)) - 1 and chosen[shared] == rejected[shared]:
        shared += 1
    if shared == 0:
        raise DataError(f"{where}: 'chosen' and 'rejected' share no prompt turn; add a 'prompt' column")
    return chosen[:shared], chosen[shared:], rejected[shared:]


def read_pair(row: dict, where: str) -> tuple[object, object, object]:
    """(prompt, chosen, rejected) of a pair row, each a string or a list of turns."""
    chosen, rejected = _as_turns(row.get("chosen")), _as_turns(row.get("rejected"))
    for name, value in (("chosen", chosen), ("rejected", rejected)):
        if value is None or (isinstance(value, str) and not value.strip()) or value == []:
            raise DataError(f"{where}: '{name}' is missing or empty")
    source = next((name for name in PROMPT_SOURCES if row.get(name) is not None), None)
    if source is None:
        if not isinstance(chosen, list) or not isinstance(rejected, list):
            raise DataError(f"{where}: no 'prompt' (or 'conversations') for the pair; columns found: {', '.join(row)}")
        prompt, chosen, rejected = _split_implicit(chosen, rejected, where)
    else:
        prompt = row[source]
    if (isinstance(prompt, str) and not prompt.strip()) or prompt == []:
        raise DataError(f"{where}: the prompt is empty")
    if chosen == rejected:
        raise DataError(f"{where}: 'chosen' and 'rejected' are the same reply: nothing to prefer")
    return prompt, chosen, rejected


def _completion(ids: list[int], labels: list[int]) -> tuple[int, int]:
    trained = [i for i, label in enumerate(labels) if label != IGNORE_INDEX]
    return trained[0], trained[-1] + 1


def fit_pair(prompt: list[int], chosen: list[int], rejected: list[int], max_length: int, keep_first: bool):
    """Prompt trimmed from the left (BOS kept) so prompt + the longer reply fit; a reply that alone leaves less
    than a quarter of the length for context loses its end."""
    longest = max(len(chosen), len(rejected))
    if len(prompt) + longest <= max_length:
        return prompt, chosen, rejected
    keep = 1 if keep_first and prompt else 0
    context = max(max_length - longest, min(len(prompt), max_length // 4))
    prompt = prompt[:keep] + prompt[len(prompt) - (context - keep):] if context > keep else prompt[:keep]
    room = max_length - len(prompt)
    return prompt, chosen[:room], rejected[:room]


def encode_pair(row: dict, where: str, render, tokenizer) -> tuple[list[int], list[int], list[int]]:
    """Token ids of the shared prompt and of each reply (its end marker included).

    ``render(row, where)`` renders a prompt/completion row to (text, trained spans, notes).
    """
    prompt, chosen, rejected = read_pair(row, where)
    halves = []
    for reply in (chosen, rejected):
        text, spans, _ = render({"prompt": prompt, "completion": reply, "system": row.get("system")}, where)
        ids, labels = encode(text, spans, tokenizer)
        if all(label == IGNORE_INDEX for label in labels):
            raise DataError(f"{where}: no token of a reply survives tokenization")
        halves.append((ids, *_completion(ids, labels)))
    (chosen_ids, chosen_start, chosen_end), (rejected_ids, rejected_start, rejected_end) = halves
    shared = 0
    limit = min(chosen_start, rejected_start)
    while shared < limit and chosen_ids[shared] == rejected_ids[shared]:
        shared += 1
    return chosen_ids[:shared], chosen_ids[shared:chosen_end], rejected_ids[shared:rejected_end]


def preference_arguments(config) -> dict:
    """DPOConfig's own settings; fttui prepared and truncated the pairs, so TRL keeps them as they are."""
    t = config.training
    return dict(max_length=t.max_length, beta=t.beta, loss_type=[t.preference_loss], truncation_mode="keep_start",
                precompute_ref_log_probs=False, gradient_checkpointing=False, padding_free=False)


def trainer_class():
    """TRL's DPOTrainer, fed fttui's tokenized pairs as they are (its own tokenizing is skipped)."""
    from trl import DPOTrainer

    class PreparedDPOTrainer(DPOTrainer):
        def _prepare_dataset(self, dataset, processing_class, args, dataset_name):
            if all(name in dataset.column_names for name in PAIR_COLUMNS):
                return dataset
            return super()._prepare_dataset(dataset, processing_class, args, dataset_name)

    return PreparedDPOTrainer
