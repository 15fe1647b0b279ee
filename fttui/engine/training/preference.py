"""The TRL trainers that learn from preference rows (DPO, KTO; ORPO in ``orpo``), fed fttui's tokenized rows.

The rows are read and tokenized by ``engine.data.preference_rows``; TRL's own tokenizing is skipped.
"""
from __future__ import annotations

from fttui.engine.data.preference_rows import PAIR_COLUMNS, UNPAIRED_COLUMNS
from fttui.planning import pad_multiple


def preference_arguments(config) -> dict:
    """DPOConfig's, ORPOConfig's or KTOConfig's own settings; fttui prepared and truncated the rows: TRL keeps them."""
    t = config.training
    if t.objective == "orpo":  # no reference model: nothing to precompute
        return dict(max_length=t.max_length, beta=t.beta, gradient_checkpointing=False)
    # precompute: TRL scores the rows with the starting model in its __init__ (a resume rebuilds it from the base
    # before the checkpoint loads, so the reference stays the starting model) and keeps no frozen copy
    shared = dict(max_length=t.max_length, beta=t.beta, precompute_ref_log_probs=t.precompute_reference,
                  gradient_checkpointing=False, pad_to_multiple_of=pad_multiple(t.max_length, t.objective))
    if t.objective == "kto":
        # KTO estimates its KL term from each batch's replies rotated by one, so batches follow the (shuffled) data
        return dict(shared, desirable_weight=t.desirable_weight, undesirable_weight=t.undesirable_weight,
                    loss_type="kto", train_sampling_strategy="sequential")
    return dict(shared, loss_type=[t.preference_loss], truncation_mode="keep_start", padding_free=False)


def config_class(objective: str):
    from trl import DPOConfig, KTOConfig

    if objective == "orpo":
        from fttui.engine.training import orpo

        return orpo.config_class()
    return KTOConfig if objective == "kto" else DPOConfig


def trainer_class(objective: str):
    """TRL's DPOTrainer, KTOTrainer or ORPOTrainer, fed fttui's tokenized rows as they are (their own tokenizing is
    skipped)."""
    if objective == "orpo":
        from fttui.engine.training import orpo

        return orpo.trainer_class()
    from trl import DPOTrainer, KTOTrainer

    class PreparedDPOTrainer(DPOTrainer):
        def _prepare_dataset(self, dataset, processing_class, args, dataset_name):
            if all(name in dataset.column_names for name in PAIR_COLUMNS):
                return dataset
            return super()._prepare_dataset(dataset, processing_class, args, dataset_name)

        def evaluation_loop(self, dataloader, description, prediction_loss_only=None, ignore_keys=None,
                            metric_key_prefix="eval"):
            output = super().evaluation_loop(dataloader, description, prediction_loss_only, ignore_keys,
                                             metric_key_prefix)
            for name, value in pair_scores(self, dataloader).items():
                output.metrics[f"{metric_key_prefix}_{name}"] = value
            return output

    class PreparedKTOTrainer(KTOTrainer):
        def _prepare_dataset(self, dataset, processing_class, args, dataset_name):
            if not all(name in dataset.column_names for name in UNPAIRED_COLUMNS):
                return super()._prepare_dataset(dataset, processing_class, args, dataset_name)
            if dataset_name == "train":
                dataset = dataset.shuffle(seed=args.seed)  # sampled in order (the KL term), so shuffled once here
            if self.calculate_KL:  # as TRL does: each row's KL reply is the previous row's, within a batch
                dataset = dataset.map(_rotated, batched=True, batch_size=args.per_device_train_batch_size)
            return dataset

    return PreparedKTOTrainer if objective == "kto" else PreparedDPOTrainer


def _rotated(batch: dict) -> dict:
    completions = batch["completion_ids"]
    batch["KL_completion_ids"] = completions[-1:] + completions[:-1]
    return batch


def pair_scores(trainer, dataloader) -> dict[str, float]:
    """prefers_chosen: the share of pairs whose chosen reply the model itself finds likelier per token than the
    rejected one; chosen_loss: the chosen replies' mean token loss, so a drift away from them shows.

    Unlike DPO's reward accuracy (measured against the reference, so 0 before training), both read the same
    for the base model and the tuned one: the summary's and ``fttui eval``'s before -> after."""
    import torch

    model, wins, pairs, chosen_loss, chosen_tokens = trainer.model, 0, 0, 0.0, 0.0
    was_training = model.training
    model.eval()
    with torch.no_grad():
        for batch in dataloader:
            batch = trainer._prepare_inputs(batch)
            mask = batch["completion_mask"][:, 1:].float()
            labels = batch["input_ids"].masked_fill(batch["completion_mask"] == 0, -100)
            with trainer.accelerator.autocast():
                out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], labels=labels,
                            use_cache=False, fused_lm_head=True)
            per_token = out.log_probs[:, -mask.size(1):].float() * mask
            average = per_token.sum(1) / mask.sum(1).clamp(min=1)
            chosen, rejected = average.chunk(2)
            wins += int((chosen > rejected).sum())
            pairs += chosen.numel()
            chosen_loss -= float(per_token.sum(1).chunk(2)[0].sum())
            chosen_tokens += float(mask.sum(1).chunk(2)[0].sum())
    model.train(was_training)
    return {"prefers_chosen": wins / max(pairs, 1), "chosen_loss": chosen_loss / max(chosen_tokens, 1.0)}
