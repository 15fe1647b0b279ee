"""What a benchmark's figures were measured on: the torch build, and the share of this CPU's bf16 matrix peak a
training step reaches (model FLOPs from the shape, over the measured step time)."""
from __future__ import annotations

import time


def torch_build() -> str:
    import torch

    kind = f"CUDA {torch.version.cuda} build" if torch.version.cuda else "CPU-only build"
    return f"torch {torch.__version__} ({kind}), {torch.get_num_threads()} threads"


def matmul_peak_tflops(size: int = 2048, repeats: int = 5) -> float:
    """The best of ``repeats`` bf16 matmuls of two size x size matrices: what this machine's matrix units deliver."""
    import torch

    a, b = torch.randn(size, size, dtype=torch.bfloat16), torch.randn(size, size, dtype=torch.bfloat16)
    torch.matmul(a, b)  # warm-up: oneDNN picks and caches its kernel
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        torch.matmul(a, b)
        best = min(best, time.perf_counter() - started)
    return 2 * size ** 3 / best / 1e12


def encoder_lora_training_flops(config, lengths: list[int]) -> float:
    """FLOPs of one LoRA epoch over rows of these token lengths, on an encoder whose base weights are frozen.

    Forward: 2 per linear weight per token, and 4·h·s per token per layer for attention's two matmuls. Backward
    with frozen weights computes the inputs' gradients only: as much as the forward for the linears, twice the
    forward for attention (both operands). LoRA's own matmuls (rank 8) and the embeddings are left out."""
    h, layers, ffn = config.hidden_size, config.num_hidden_layers, config.intermediate_size
    linear_params = layers * (4 * h * h + 2 * h * ffn)
    tokens, attention = sum(lengths), sum(layers * 4 * h * n * n for n in lengths)
    return 2 * (2 * linear_params * tokens) + 3 * attention
