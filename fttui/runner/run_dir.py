"""Run folders: ``runs/<name>-<YYYYmmdd-HHMMSS>/`` or an exact ``--output-dir`` that must be new or empty."""
from __future__ import annotations

import re
import time
from pathlib import Path

from fttui.atomic import write_text
from fttui.config import RunConfig, dump_config
from fttui.errors import ConfigError

CONFIG_FILE = "config.yaml"
EVENTS_FILE = "events.jsonl"
LOG_FILE = "train.log"
SUMMARY_FILE = "summary.json"


def run_name(config: RunConfig) -> str:
    name = config.output.name or f"{config.method.name}-run"
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-") or "run"


def create_run_dir(config: RunConfig, output_dir: str | None = None) -> Path:
    """Create the run folder (never reusing a non-empty one) and save the resolved config in it."""
    explicit = output_dir or config.output.dir
    if explicit:
        path = Path(explicit).expanduser()
        if path.exists() and (not path.is_dir() or any(path.iterdir())):
            raise ConfigError(
                f"output folder {path} already exists and is not empty",
                "choose a new folder with --output-dir, or remove the old one",
            )
    else:
        base = Path(config.output.runs_dir).expanduser() / f"{run_name(config)}-{time.strftime('%Y%m%d-%H%M%S')}"
        path, n = base, 1
        while path.exists():
            n += 1
            path = base.with_name(f"{base.name}-{n}")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create the run folder {path}: {exc.strerror}") from None
    write_text(path / CONFIG_FILE, dump_config(config))
    return path
