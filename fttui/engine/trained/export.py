"""Export a run: the adapter as it is, or merged into its base model as a standalone transformers model.

A QLoRA adapter is merged into the base loaded unquantized in the chosen dtype, never into 4-bit
weights (that would round the update away and gives models that do not load elsewhere).
"""
from __future__ import annotations

import gc
import json
import shutil
from pathlib import Path

import torch

from fttui.atomic import clean_stale, replacing_dir
from fttui.config import RunConfig
from fttui.config.schema import FULL_MODEL_METHODS, PROMPT_METHODS
from fttui.engine.trained.saved import describe_run, load_tuned
from fttui.engine.training.artifacts import remember_format
from fttui.errors import ConfigError, TrainingError
from fttui.runner.checkpoints import damage_saved
from fttui.runner.exports import check_target, write_manifest

DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def export_run(run_dir: Path, out: Path, merge: bool = False, dtype: str = "float32", progress=None,
               gguf: str | None = None, gguf_adapter: bool = False) -> dict:
    """Write the export atomically to ``out``; returns what was written (for the CLI to print).

    ``out`` may be new, empty, or an earlier export whose files its manifest lists (a symlink: its target). The
    run's saved folder is verified before anything is loaded or copied, and the written export before it
    replaces the old one. ``progress(message)``, when given, hears each slow stage (front ends show it).
    ``gguf`` (f16, bf16, q8_0, q4_k_m, q5_k_m) adds a verified GGUF file and an Ollama Modelfile, made from
    the model merged in 16 bits; the merged safetensors stay only with ``merge``. ``gguf_adapter`` writes a
    LoRA adapter as one verified GGUF LoRA file (for llama.cpp's ``--lora``) instead of the peft folder.
    """
    from transformers import AutoTokenizer

    say = progress or (lambda message: None)
    clean_stale(run_dir)  # temporaries of a killed save or export there (see fttui.atomic.is_stale)
    run = describe_run(run_dir)  # refuses a damaged adapter/ or model/ (TrainingError)
    method, trained, labels = run.config.method.name, run.folder, run.labels
    full_model = method in FULL_MODEL_METHODS  # full, bitfit, freeze: the run saved the whole model
    if (gguf is not None or gguf_adapter) and run.task != "causal-lm":
        raise ConfigError(f"GGUF export is for causal language models; this run trained {run.task}",
                          "export without --gguf or --gguf-adapter")
    if gguf is not None:
        from fttui.gguf_tools import check_gguf_request, intermediate_dtype

        check_gguf_request(gguf)
        dtype = intermediate_dtype(gguf)
    if gguf_adapter:
        from fttui.gguf_tools import check_adapter_request

        if merge or gguf is not None:
            raise ConfigError("--gguf-adapter writes the adapter alone, not a merged model",
                              "export the merged model (--merge or --gguf) to another folder")
        check_adapter_request(method, trained)
    wants_merge = merge or gguf is not None
    if wants_merge and method in PROMPT_METHODS:
        raise ConfigError(f"{method} tuning cannot be merged into the model's weights (its virtual tokens are inputs)",
                          "export without --merge; load it with peft's AutoPeftModel")
    if wants_merge and method == "adapter":
        raise ConfigError("bottleneck adapters cannot be merged into the model's weights: each one adds a "
                          "non-linear layer (down-projection, ReLU, up-projection) that no weight matrix can absorb",
                          "export without --merge and load with fttui.engine.methods.bottleneck.load_from_folder, "
                          "or train with method.name=lora (mergeable)")
    target = check_target(out)
    notes = []
    with replacing_dir(target) as tmp:
        if full_model or wants_merge:
            hf = tmp / ".gguf-source" if gguf is not None and not merge else tmp
            say(f"loading the fine-tuned model in {dtype}" if full_model
                else f"loading the base model in {dtype} with the adapter on it")
            model = load_tuned(run, DTYPES[dtype])  # an adapter goes on the unquantized base, even after QLoRA
            if not full_model:
                say("merging the adapter into the base weights")
                model = model.merge_and_unload()
                if method == "qlora":
                    notes.append(f"merged into the base model loaded in {dtype}, not into its quantized weights")
            tokenizer = AutoTokenizer.from_pretrained(trained)  # with the chat template and EOS the run trained with
            if run.task == "causal-lm":
                remember_format(model, tokenizer)
            say("saving the model as safetensors")
            model.save_pretrained(hf, safe_serialization=True)
            tokenizer.save_pretrained(hf)
            if labels is not None:
                (hf / "labels.json").write_text(json.dumps(labels) + "\n")
            kind = "merged model" if merge and not full_model else "model"
            if gguf is not None:
                del model  # the converter and the check load their own copies
                gc.collect()
                from fttui.engine.trained.gguf_export import write_gguf

                gguf_info = write_gguf(hf, tmp, gguf, tokenizer, run.config, say)
                if hf != tmp:
                    shutil.rmtree(hf)
                kind = "gguf" if hf != tmp else f"{kind} and gguf"
        elif gguf_adapter:
            from fttui.engine.trained.gguf_adapter import write_gguf_adapter
            from fttui.engine.models.loading import resolve_model

            base = Path(resolve_model(run.config.model.name).path)
            gguf_info = write_gguf_adapter(trained, base, tmp, Path(run.config.model.name).name, say)
            kind = "gguf adapter"
        else:
            say("copying the adapter")
            for item in trained.iterdir():
                (shutil.copytree if item.is_dir() else shutil.copy2)(item, tmp / item.name)
            kind = "adapter"
        for name in ("README.md", "config.yaml"):
            if (run_dir / name).is_file() and not (tmp / name).exists():
                shutil.copy2(run_dir / name, tmp / name)
        problem = damage_saved(tmp)
        if problem is not None:  # a disk error, or a library that wrote less than it said
            raise TrainingError(f"the export did not read back whole ({problem}); {out} was left as it was",
                                "check the disk (free space, errors) and export again")
        info = {"run_dir": str(run_dir), "kind": kind, "method": method, "dtype": dtype if kind != "adapter" else None,
                "notes": notes, **({"gguf_adapter" if gguf_adapter else "gguf": gguf_info}
                                  if gguf is not None or gguf_adapter else {})}
        write_manifest(tmp, info)  # last: it lists every file above, so a re-export knows which are fttui's
    return {**info, "out": str(out)}
