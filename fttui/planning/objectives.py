"""What each ``training.objective`` adds to a step's memory and compute: one ``ObjectiveCost`` per objective.

``planning.memory`` reads this table; the objectives themselves are the schema's (``config.schema.OBJECTIVES``).

* sequences: preference pairs train on the chosen and the rejected reply as two sequences of prompt + reply,
  so activations are those of 2x the batch's rows (DPO, ORPO); a KTO row is one reply.
* reference: DPO and KTO weigh the policy against a reference model in a forward pass without gradients each
  step. With adapters it is the base with the adapter switched off (TRL's ``use_adapter``): no extra weights.
  With full fine-tuning TRL loads a frozen copy of the weights, in the policy's dtype. ORPO has none.
* extra passes: KTO also scores mismatched prompt/reply pairs (its KL estimate), one more forward without
  gradients. A pass without gradients holds one block's activations and the head's forward tile at a time,
  less than the backward pass's block of workspace and backward tile, so it adds compute but not to the peak.
* fused head: DPO and KTO score tokens through TRL's fused LM head (``trl.trainer.utils.add_fused_lm_head``):
  per-token log-probabilities in tiles of at most 4,096 tokens x 32,768 vocabulary entries, never the whole
  logits. On CUDA (Triton) only completion tokens are scored and the kernels work in place on a half tile.
  Without Triton every position is, and the torch fallback (``trl.kernels.chunked_logprob``) holds 8 fp32
  temporaries and a boolean mask per tile entry in the backward pass, besides the tile (measured on CPU under
  bf16 autocast: 35.2 bytes per tile entry in the backward pass, 14.3 in a forward without gradients), so on
  a CPU fttui scores the policy and the reference through its own head instead (engine/training/cpu_lm_head.py: the
  labelled positions, full-logits arithmetic; ``memory.lm_head_kind``). ORPO (TRL's experimental
  ORPOTrainer) takes the model's own logits.
"""
from __future__ import annotations

from dataclasses import dataclass

from fttui.planning.shape import ModelShape

TOKEN_TILE, VOCAB_TILE = 4096, 32768  # trl.kernels.chunked_logprob: TOKEN_CHUNK_SIZE, _CHUNKED_LOGPROB_CHUNK_SIZE
CPU_TILE_BACKWARD = 33  # bytes of fp32 temporaries and the mask per tile entry, besides the tile itself


@dataclass(frozen=True)
class ObjectiveCost:
    """What one objective runs per example each step, beyond SFT's one sequence forward and backward."""

    label: str
    sequences: int = 1  # sequences per example that train (forward and backward)
    reference: bool = False  # a reference forward without gradients (adapter off, or a frozen copy of the weights)
    extra_passes: int = 0  # more forwards without gradients on the policy (KTO's KL pass)
    fused_head: bool = False  # tokens scored by TRL's fused LM head, not the model's full logits
    unit: str = "row"


OBJECTIVES: dict[str, ObjectiveCost] = {
    "sft": ObjectiveCost("SFT"),
    "dpo": ObjectiveCost("DPO", sequences=2, reference=True, fused_head=True, unit="pair"),
    "orpo": ObjectiveCost("ORPO", sequences=2, unit="pair"),
    "kto": ObjectiveCost("KTO", reference=True, extra_passes=1, fused_head=True),
}


def cost(objective: str) -> ObjectiveCost:
    return OBJECTIVES[objective]


def describe(objective: str, copies_weights: bool | None = None) -> str | None:
    """The objective's share of the estimate in words (None for SFT); ``copies_weights``: the method trains the
    base weights (full fine-tuning), so the reference is a frozen copy; None when methods of both kinds are shown."""
    c = OBJECTIVES[objective]
    if objective == "sft":
        return None
    parts = [f"{c.sequences} sequence{'s' if c.sequences > 1 else ''} per {c.unit}"]
    if c.reference:
        where = {True: "a frozen copy of the weights", False: "the base with the adapter off, no second copy",
                 None: "adapters: the base with the adapter off; Full: a frozen copy of the weights"}[copies_weights]
        parts.append(f"reference pass ({where})")
    if c.extra_passes:
        parts.append("KL pass (mismatched prompt/reply, no gradients)")
    return f"{c.label}: " + " + ".join(parts) + ("" if c.reference else ", no reference model")


def fused_head_bytes(shape: ModelShape, rows: int, seq: int, a: int, r: int, device: str) -> float:
    """Bytes TRL's fused LM head holds at the backward peak over ``rows`` sequences of ``seq`` tokens.

    ``a``: bytes of the compute dtype (the tile), ``r``: of the residual stream (the hidden states it keeps and
    the fp32 gradient it accumulates). The planner does not know how much of a sequence is reply, so on CUDA it
    sizes every token as scored (an upper bound)."""
    tokens = rows * max(seq - 1, 1)
    tile = min(tokens, TOKEN_TILE) * min(shape.vocab_size, VOCAB_TILE)
    h = shape.hidden_size
    kept = r * tokens * h  # the final hidden states, saved for the backward pass
    per_entry = a if device == "cuda" else a + CPU_TILE_BACKWARD  # Triton works in place on the half tile
    return per_entry * tile + 4 * tokens * h + kept  # + the hidden states' fp32 gradient
