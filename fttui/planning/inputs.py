"""The one translation from a ``RunConfig`` (plus the hardware's facts) to the estimator's ``Settings``.

The wizard's Method and Review steps, ``fttui recommend``, the pre-start checks and the engine's calibration
record (summary.json's ``memory_estimate_mb``) all build their estimate here, so for the same run they show
the same number. "auto" precision is resolved here too, from facts the caller measured: the engine passes what
torch reports about the device, the wizard and ``recommend`` what NVML and /proc/cpuinfo report.
"""
from __future__ import annotations

from dataclasses import dataclass

from fttui.config import RunConfig
from fttui.config.methods import plan_row
from fttui.planning.memory import MemoryEstimate, Settings, estimate
from fttui.planning.shape import ModelShape
from fttui.planning.task import resolve_task


@dataclass(frozen=True)
class Compute:
    """Where a run trains (cpu or cuda) and whether that hardware computes bf16 natively."""

    device: str
    bf16: bool


def compute_for(report, device: str) -> Compute:
    """The facts of a ``fttui.hardware`` report; a GPU planned without one (``--gpu-memory``) is taken to have bf16."""
    if device == "cuda":
        gpus = getattr(report, "gpus", None) or []
        return Compute("cuda", all(gpu.bf16 for gpu in gpus))
    return Compute("cpu", bool(report is not None and report.cpu.bf16))


def resolve_precision(requested: str, compute: Compute) -> str:
    """``auto``: bf16 where the hardware has it natively, else fp16 on a GPU (with loss scaling) and fp32 on a CPU."""
    if requested != "auto":
        return requested
    if compute.bf16:
        return "bf16"
    return "fp16" if compute.device == "cuda" else "fp32"


PAD_MULTIPLE = 8


def pad_multiple(max_length: int, objective: str = "sft") -> int | None:
    """What fttui pads each batch's length up to: a multiple of 8 tokens, where ``max_length`` is one.

    Dynamic padding alone gives every batch a new length, and over a run the allocator's heap fragments around
    the new sizes (on a CPU, 60 steps of 6-23 tokens held 357 MB where a fixed length held 148 MB; a multiple
    of 8 held 178 MB). A multiple of ``max_length`` keeps a padded batch within it (and within the model's
    positions). ORPO's TRL collator has no such setting, so its batches keep their own lengths.
    """
    return PAD_MULTIPLE if max_length % PAD_MULTIPLE == 0 and objective != "orpo" else None


def padded_length(tokens: int, max_length: int, objective: str = "sft") -> int:
    """The length a batch whose longest row has ``tokens`` tokens is padded to (``pad_multiple``)."""
    multiple = pad_multiple(max_length, objective)
    return -(-tokens // multiple) * multiple if multiple else tokens


def planning_name(method: str, quant_bits: int = 4) -> str:
    """The planner's row for a config method: QLoRA with 8-bit weights is a row of its own (config/methods.py)."""
    return plan_row(method, {"quant_bits": quant_bits})


def settings_for(config: RunConfig, shape: ModelShape, compute: Compute, *, seq_len: int | None = None,
                 num_labels: int | None = None, task: str | None = None, optimizer: str = "adamw") -> Settings:
    """The estimator's inputs for ``config`` on ``shape``.

    ``seq_len`` defaults to ``training.max_length`` clamped to the model's context (the engine clamps it the
    same way); the engine passes the longest tokenized example instead, since dynamic padding makes that the
    peak, padded up as the collators pad it (``padded_length``). ``num_labels`` defaults to ``data.labels`` (2
    when the data decides); ``task`` to ``model.task`` as ``planning.task`` resolves it (the engine passes what it
    resolved so). The base stays fp32 on a CPU
    (``engine.models.loading.load_model``), which ``base_fp32`` tells the estimator.
    """
    t, m = config.training, config.method
    limit = min(t.max_length, shape.context_length or t.max_length)
    seq_len = padded_length(limit if seq_len is None else seq_len, limit, t.objective)
    labels = config.data.labels
    return Settings(
        method=planning_name(m.name, m.quant_bits), task=task or resolve_task(shape, config.model.task),
        objective=t.objective, precompute_reference=t.precompute_reference,
        batch_size=t.batch_size, seq_len=seq_len, precision=resolve_precision(t.precision, compute),
        gradient_checkpointing=t.gradient_checkpointing, optimizer=optimizer, lora_r=m.lora_r,
        lora_targets=tuple(m.lora_targets) if m.lora_targets else None, lora_dropout=m.lora_dropout,
        freeze_layers=m.trainable_layers, num_virtual_tokens=m.num_virtual_tokens,
        prefix_projection=m.prefix_projection, encoder_hidden_size=m.encoder_hidden_size,
        adapter_reduction=m.adapter_reduction, adapter_placement=m.adapter_placement,
        num_labels=num_labels or (len(labels) if labels else 2), double_quant=m.double_quant,
        base_fp32=compute.device == "cpu", device=compute.device,
    )


def estimate_run(config: RunConfig, shape: ModelShape, compute: Compute, **inputs) -> MemoryEstimate:
    """The memory estimate of ``config``; ``inputs`` are ``settings_for``'s keywords."""
    return estimate(shape, settings_for(config, shape, compute, **inputs))
