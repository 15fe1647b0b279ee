"""Packing for causal-LM SFT: several rows share one sequence, kept apart by their position ids.

Rows are packed with TRL's ``pack_dataset`` (best fit decreasing, whole rows, a ``seq_lengths`` column), and
batches carry ``position_ids`` that restart at every row and no attention mask. transformers' masking
(``masking_utils.create_causal_mask``) turns restarting position ids into a block-diagonal mask for sdpa and
eager attention, per batch row; flash attention keeps rows apart only in one flattened row (TRL's
padding-free batch). A model whose attention does neither (remote code, prompt methods that prepend virtual
tokens or cached prefixes) is not packed under ``training.packing=auto``, and refused with ``true``.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass

from fttui.config import RunConfig
from fttui.errors import ConfigError
from fttui.planning.packing import packing_stats, settings_rule_out

ROWS, FLAT = "rows", "flat"  # sdpa/eager: a batch of packed rows; flash: one flattened row (TRL padding-free)
MASKED_ATTENTION = ("sdpa", "eager", "flex_attention")
FLASH_ATTENTION = ("flash_attention_2", "flash_attention_3")


@dataclass(frozen=True)
class Packing:
    mode: str | None  # ROWS | FLAT | None (not packed)
    reason: str


def _base(model):
    get_base = getattr(model, "get_base_model", None)
    return get_base() if get_base is not None else model


def keeps_rows_apart(model) -> tuple[str | None, str]:
    """How packed rows can be kept apart in this model's attention, or (None, why not)."""
    base = _base(model)
    implementation = getattr(base.config, "_attn_implementation", None) or "eager"
    module = inspect.getmodule(type(getattr(base, "model", base))) or inspect.getmodule(type(base))
    if module is None or not module.__name__.startswith("transformers.models."):
        return None, f"{type(base).__name__} is not a transformers model class (its attention may not read position ids)"
    if implementation in FLASH_ATTENTION:
        return FLAT, implementation
    if implementation in MASKED_ATTENTION and hasattr(module, "create_causal_mask"):
        return ROWS, implementation
    return None, f"{type(base).__name__} with {implementation} attention does not build masks from position ids"


def decide(config: RunConfig, task: str, model) -> Packing:
    """Pack or not, and why (the log says it); ``training.packing=true`` where it is unsafe is an error."""
    why = settings_rule_out(config, task)
    mode = None
    if why is None:
        mode, why = keeps_rows_apart(model)
    # true was asked for a causal-LM SFT run the model (or its method) cannot pack
    if mode is None and config.training.packing is True and task == "causal-lm" and config.training.objective == "sft":
        raise ConfigError(f"training.packing is true, but {why}: packed rows would see each other",
                          "set training.packing=auto (or false)")
    return Packing(mode, why if mode is None else f"{why} keeps packed rows apart")


def pack_train(train, config: RunConfig):
    """The training rows packed into sequences of at most training.max_length tokens."""
    from trl import pack_dataset

    columns = [name for name in ("input_ids", "labels") if name in train.column_names]
    return pack_dataset(train.select_columns(columns), config.training.max_length, strategy="bfd")


def describe(train, config: RunConfig) -> str:
    import pyarrow.compute as pc

    lengths = pc.list_value_length(train.data.table.column("input_ids")).to_pylist()
    return packing_stats(lengths, config.training.max_length, config.training.batch_size).describe(
        config.training.batch_size)


class PackedCollator:
    """Batches of packed rows: ``position_ids`` restart at each row, no attention mask, and the first token of
    each row carries no loss (it would be predicted from the row before it)."""

    def __init__(self, pad_token_id: int, mode: str):
        from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

        self.mode = mode
        self.inner = DataCollatorForLanguageModeling(pad_token_id=pad_token_id, padding_free=mode == FLAT,
                                                     return_position_ids=True)

    def __call__(self, examples: list[dict]) -> dict:
        batch = self.inner(examples)
        if self.mode == ROWS:
            batch.pop("attention_mask", None)  # with a mask, transformers would not look at the position ids
            batch["use_cache"] = False  # nor with a cache (TRL's compute_loss sets it too)
            batch["labels"][batch["position_ids"] == 0] = -100
        return batch
