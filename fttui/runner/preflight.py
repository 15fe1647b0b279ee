"""Cheap checks before any process starts or any folder is created: paths that cannot exist, a local model
folder whose weights are missing or cut short (headers only: no torch, no tensor data read)."""
from __future__ import annotations

import json
from pathlib import Path

from fttui.config import BUILTIN_MODEL, RunConfig
from fttui.errors import ConfigError, DataError
from fttui.runner.continued import shape_reference

DATA_SUFFIXES = (".jsonl", ".ndjson", ".json", ".csv", ".tsv", ".parquet", ".txt")


def _looks_like_file(reference: str) -> bool:
    return reference.startswith((".", "/", "~")) or reference.lower().endswith(DATA_SUFFIXES)


def preflight(config: RunConfig) -> None:
    name = config.model.name
    if name != BUILTIN_MODEL and name.startswith((".", "/", "~")) and not Path(name).expanduser().exists():
        raise ConfigError(f"model.name: no model folder at {name}", "check the path, give a hub id (org/name), or use model.name=builtin")
    folder = Path(shape_reference(name)).expanduser()  # a finished run: its model/, or the base its adapter joins
    if name != BUILTIN_MODEL and folder.is_dir() and (folder / "config.json").is_file():
        problem = model_damage(folder)
        if problem:
            raise ConfigError(f"the model at {name} is damaged or incomplete: {problem}", _download_hint(folder, name))
    deepspeed = config.training.deepspeed_config
    if deepspeed and not Path(deepspeed).expanduser().is_file():
        raise ConfigError(f"training.deepspeed_config: file not found: {deepspeed}",
                          "give the path of a DeepSpeed JSON config (relative paths in a preset start at its folder)")
    for key, reference in (("data.train", config.data.train), ("data.eval", config.data.eval)):
        if isinstance(reference, str) and _looks_like_file(reference) and not Path(reference).expanduser().is_file():
            raise DataError(f"{key}: file not found: {reference}", "check the path (relative paths in a preset are relative to the preset's folder)")


def model_damage(folder: Path) -> str | None:
    """Why ``from_pretrained`` would fail on this folder's files ("model.safetensors: truncated (...)"), or None.

    Without this, a download cut short reaches the worker and ends as exit 4 with the library's words
    ("incomplete metadata, file not fully covered"), naming no file.
    """
    from fttui.runner.checkpoints import CHECKS

    try:
        files = sorted(p for p in folder.iterdir() if p.is_file() or p.is_symlink())  # hub snapshots: links
        safetensors = [p for p in files if p.suffix == ".safetensors"]
        bins = [p for p in files if p.suffix == ".bin" and p.name.startswith("pytorch_model")]
        index = next((p for p in files if p.name.endswith((".safetensors.index.json", ".bin.index.json"))), None)
        if not safetensors and not bins and index is None:
            return "no weights (no model.safetensors or pytorch_model.bin)"
        checked = [p for p in files if p.suffix == ".json"] + (safetensors or bins)  # what from_pretrained reads
        for path in checked:
            problem = CHECKS[path.suffix](path) if path.suffix != ".bin" or _is_zip(path) else None
            if problem:
                return f"{path.name}: {problem}"
        if index is not None:
            names = set(json.loads(index.read_text(encoding="utf-8")).get("weight_map", {}).values())
            missing = sorted(names - {p.name for p in files if p.exists()})
            if missing:
                return f"{index.name} names {missing[0]}, which is not there" + (
                    f" (nor {len(missing) - 1} more)" if len(missing) > 1 else "")
    except OSError as error:
        return f"{Path(error.filename or folder).name}: unreadable ({error.strerror})"
    except (ValueError, AttributeError):  # an index that is not a JSON object of the usual shape
        return f"{index.name}: damaged" if index is not None else "unreadable"
    return None


def _is_zip(path: Path) -> bool:
    """torch.save writes zips; a legacy pickle .bin (torch < 1.6) is left to torch, which reads those."""
    with open(path, "rb") as handle:
        head = handle.read(2)
    return head == b"PK" or not head


def _download_hint(folder: Path, name: str) -> str:
    """Fetch it again: from the hub repo its cache path names (models--org--name), else in general words."""
    cached = next((part for part in folder.resolve().parts if part.startswith("models--")), None)
    repo = cached[len("models--"):].replace("--", "/") if cached else "ORG/NAME"
    return (f"download it again (hf download {repo} --local-dir {name}), copy the missing files in, "
            "or point model.name at an intact folder or a hub id")
