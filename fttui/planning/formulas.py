"""What each planner row trains and how it holds the base: one ``Formula`` per method (row), pure arithmetic.

``planning.memory`` sums the peak from these; the rows themselves (names, labels, order) come from the method
registry in ``config/methods.py``. A new method adds its formula here (and, where its activations differ,
a term in ``memory._block_bytes``, as DoRA, adapters and IA3 have).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fttui.planning.shape import ModelShape

if TYPE_CHECKING:
    from fttui.planning.memory import Settings


@dataclass(frozen=True)
class Formula:
    """How one planner row is sized: what it trains, and how it holds the base weights."""

    trainable: Callable[[ModelShape, Settings, str, int, list[str]], int]  # (shape, s, task, new head, notes)
    base: str = "frozen"  # frozen (half precision; fp32 on CPU) | trains (fp32 master) | top (freeze) | quantized
    in_base: bool = False  # what it trains is part of the base (BitFit's biases), not added to it
    lora: bool = False  # low-rank adapters on the target linears (their dropout and rank-r activations)
    quant_bytes: float = 0.0  # bytes per quantized linear weight (0: NF4, sized from double_quant)


def _full(shape, s, task, new_head, notes):
    return shape.total_params - shape.lm_head_params + new_head if new_head else shape.total_params


def _freeze(shape, s, task, new_head, notes):
    top = shape.blocks[-1]
    k = min(s.freeze_layers, top.count)
    if k < s.freeze_layers:
        notes.append(f"freeze: the model has only {top.count} layers in its last stack; all of them train")
    return freeze_params(shape, k, new_head if task == "seq-cls" else shape.lm_head_params)


def _lora(shape, s, task, new_head, notes):
    return shape.lora_params(s.lora_r, s.lora_targets, dora=s.method == "dora") + new_head


def _bitfit(shape, s, task, new_head, notes):
    if shape.bias_params == 0:
        notes.append(f"bitfit: {shape.family} models have no bias terms, so only a new head (if any) trains")
    return shape.bias_params + new_head


def _prompt(shape, s, task, new_head, notes):
    return s.num_virtual_tokens * shape.hidden_size * (2 if shape.kind == "encoder-decoder" else 1) + new_head


FORMULAS: dict[str, Formula] = {  # one per planner row; a new method adds its own
    "full": Formula(_full, base="trains"),
    "lora": Formula(_lora, lora=True),
    "dora": Formula(_lora, lora=True),  # + the magnitude vector, and B.A in the activations
    "qlora-8bit": Formula(_lora, base="quantized", lora=True, quant_bytes=1.0),  # LLM.int8
    "qlora": Formula(_lora, base="quantized", lora=True),
    "adapter": Formula(lambda shape, s, task, head, notes:
                       adapter_params(shape, s.adapter_reduction, s.adapter_placement) + head),
    "freeze": Formula(_freeze, base="top"),
    "ia3": Formula(lambda shape, s, task, head, notes: shape.ia3_params() + head),
    "prefix": Formula(lambda shape, s, task, head, notes:
                      prefix_params(shape, s.num_virtual_tokens, s.prefix_projection, s.encoder_hidden_size) + head),
    "ptuning": Formula(lambda shape, s, task, head, notes:
                       ptuning_params(shape, s.num_virtual_tokens, s.encoder_hidden_size) + head),
    "prompt": Formula(_prompt),
    "bitfit": Formula(_bitfit, in_base=True),
}


def freeze_params(shape: ModelShape, layers: int, head: int) -> int:
    """The top ``layers`` blocks, everything outside the blocks but the embeddings (final norm, pooler), the head."""
    return layers * shape.blocks[-1].params + shape.other_params + head


def adapter_params(shape: ModelShape, reduction: int, placement: str) -> int:
    """Bottleneck adapters: down (h x h/r + bias) and up (h/r x h + bias) after 1 or 2 sub-layers per block."""
    h = shape.hidden_size
    inner = max(1, h // reduction)
    per_adapter = 2 * h * inner + inner + h
    return per_adapter * shape.num_layers * (2 if placement == "houlsby" else 1)


def ptuning_params(shape: ModelShape, tokens: int, encoder_hidden: int | None) -> int:
    """P-tuning (peft's MLP prompt encoder): token embeddings, then h -> e -> e -> h with biases."""
    h, e = shape.hidden_size, encoder_hidden or shape.hidden_size
    stacks = 2 if shape.kind == "encoder-decoder" else 1
    return tokens * stacks * h + (h * e + e) + (e * e + e) + (e * h + h)


def prefix_params(shape: ModelShape, tokens: int, projection: bool, encoder_hidden: int | None) -> int:
    """Prefix tuning: keys and values for every layer (kv width, as peft sizes it for grouped-query attention)."""
    kv, layers = shape.blocks[0].kv_dim, shape.num_layers
    if not projection:
        return tokens * 2 * kv * layers
    e = encoder_hidden or kv
    return tokens * kv + (kv * e + e) + (e * layers * 2 * kv + layers * 2 * kv)
