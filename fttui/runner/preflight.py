"""Cheap checks before any process starts or any folder is created: paths that cannot exist."""
from __future__ import annotations

from pathlib import Path

from fttui.config import BUILTIN_MODEL, RunConfig
from fttui.errors import ConfigError, DataError

DATA_SUFFIXES = (".jsonl", ".ndjson", ".json", ".csv", ".tsv", ".parquet", ".txt")


def _looks_like_file(reference: str) -> bool:
    return reference.startswith((".", "/", "~")) or reference.lower().endswith(DATA_SUFFIXES)


def preflight(config: RunConfig) -> None:
    name = config.model.name
    if name != BUILTIN_MODEL and name.startswith((".", "/", "~")) and not Path(name).expanduser().exists():
        raise ConfigError(f"model.name: no model folder at {name}", "check the path, give a hub id (org/name), or use model.name=builtin")
    deepspeed = config.training.deepspeed_config
    if deepspeed and not Path(deepspeed).expanduser().is_file():
        raise ConfigError(f"training.deepspeed_config: file not found: {deepspeed}",
                          "give the path of a DeepSpeed JSON config (relative paths in a preset start at its folder)")
    for key, reference in (("data.train", config.data.train), ("data.eval", config.data.eval)):
        if isinstance(reference, str) and _looks_like_file(reference) and not Path(reference).expanduser().is_file():
            raise DataError(f"{key}: file not found: {reference}", "check the path (relative paths in a preset are relative to the preset's folder)")
