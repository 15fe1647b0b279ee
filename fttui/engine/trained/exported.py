"""Load an fttui export folder (merged model, adapter, or GGUF) for ``fttui chat``, as a run folder loads.

An export carries the run's ``config.yaml``, so its base model, data format and system prompt are known; the
models come back as the same ``TryModels`` the wizard's Try it uses, so both generate with the same code.
"""
from __future__ import annotations

from pathlib import Path

from fttui.errors import ConfigError


def load_chat_models(path: Path, max_new_tokens: int, want_base: bool):
    """``TryModels`` for a run folder or an export folder; the base model only when ``want_base``."""
    from fttui.engine.trained.inference import TryModels

    path = Path(path)
    if (path / "fttui_export.json").is_file():
        return _load_export(path, max_new_tokens, want_base)
    models = TryModels.load(path, max_new_tokens)
    if models.task != "causal-lm":
        raise ConfigError(f"{path} is a {models.task} run: there is nothing to chat with",
                          "try it in the wizard (Export & try), or: fttui eval")
    return models


def _load_export(folder: Path, max_new_tokens: int, want_base: bool):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from fttui.config.presets import read_yaml, validate_config
    from fttui.engine.trained.inference import TryModels
    from fttui.engine.trained.saved import TrainedRun

    if not (folder / "config.yaml").is_file():
        raise ConfigError(f"{folder} is neither a run folder nor an fttui export (no config.yaml)",
                          "give a folder under runs/, or one written by fttui export")
    config = validate_config(read_yaml(folder / "config.yaml"), str(folder / "config.yaml"))
    run = TrainedRun(config, "causal-lm", None, folder)
    ggufs = sorted(folder.glob("*.gguf"))
    if (folder / "config.json").is_file():
        tokenizer, tuned = AutoTokenizer.from_pretrained(folder), AutoModelForCausalLM.from_pretrained(folder)
    elif (folder / "adapter_config.json").is_file():
        from fttui.engine.methods.build import load_adapter
        from fttui.engine.trained.saved import load_base_model

        tokenizer, tuned = AutoTokenizer.from_pretrained(folder), load_adapter(load_base_model(run), folder)
    elif ggufs:  # transformers reads it back dequantized (the tokenizer takes a while for a large vocabulary)
        name = ggufs[0].name
        tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
        tuned = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name)
    else:
        raise ConfigError(f"{folder} holds no model, adapter or GGUF file", "export the run again")
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    base = None
    if want_base and not hasattr(tuned, "disable_adapter"):
        from fttui.engine.trained.saved import load_base_model

        base = load_base_model(run)
    fmt = "chat" if getattr(tokenizer, "chat_template", None) else "text"
    return TryModels(run, tokenizer, tuned, base, fmt, max_new_tokens)
