"""Tokenized datasets kept between runs, so a resume, a continue or a re-run does not tokenize again.

An entry is keyed by everything that changes its tokens: the data files (path, size, modification time),
the tokenizer (name, vocabulary size, special tokens, chat template) and the settings (every ``data.*`` key,
``training.max_length``, the seed that splits off eval rows, the objective). It lives in ``$FTTUI_CACHE/datasets``
(default ``~/.cache/fttui/datasets``); the newest entries are kept, and the folder can be deleted any time.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

from fttui.config.schema import PREFERENCE_OBJECTIVES
from fttui.engine.data.data_files import Source

VERSION = 1  # raise when the encoding changes, so old entries are not used
KEEP = 8  # entries kept; older ones are deleted when a new one is written


def cache_root() -> Path:
    """``$FTTUI_CACHE`` (else ``$XDG_CACHE_HOME/fttui``, else ``~/.cache/fttui``) + ``/datasets``."""
    base = os.environ.get("FTTUI_CACHE") or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "fttui"
    return Path(base).expanduser() / "datasets"


def _source_identity(source: Source | None):
    if source is None:
        return None
    if source.path is None:
        return {"hub": source.reference, "split": source.split}
    stat = source.path.stat()
    return {"path": str(source.path.resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns,
            "kind": source.kind}


def tokenizer_identity(tokenizer) -> dict:
    template = getattr(tokenizer, "chat_template", None) or ""
    if isinstance(template, dict):
        template = json.dumps(template, sort_keys=True)
    return {"class": type(tokenizer).__name__, "name": getattr(tokenizer, "name_or_path", ""),
            "vocab": len(tokenizer), "special": {k: str(v) for k, v in tokenizer.special_tokens_map.items()},
            "template": hashlib.sha256(template.encode()).hexdigest()}


def cache_key(config, task: str, tokenizer, sources: list[Source | None]) -> str:
    settings = {"version": VERSION, "task": task, "data": config.data.model_dump(mode="json"),
                "max_length": config.training.max_length, "seed": config.training.seed,
                "sample_prompts": config.training.sample_prompts,
                # KTO reads chat-like rows as labelled replies; DPO and ORPO read the same pairs
                "objective": PREFERENCE_OBJECTIVES.get(config.training.objective, config.training.objective),
                "sources": [_source_identity(source) for source in sources],
                "tokenizer": tokenizer_identity(tokenizer)}
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:32]


def lookup(key: str):
    """(folder, meta) of a complete entry, or None."""
    folder = cache_root() / key
    try:
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if meta.get("version") != VERSION or not all((folder / name).is_file() for name in meta.get("files", [])):
        return None
    os.utime(folder)  # most recently used: kept longest
    return folder, meta


def work_folder() -> Path:
    """A private folder for one preparation's Arrow files, beside the entries (same disk: moved, not copied)."""
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=".work-", dir=root))


def store(work: Path, key: str, meta: dict) -> Path:
    """Turn a finished work folder into the entry ``key``; another process's identical entry wins a race."""
    meta = {**meta, "version": VERSION}
    (work / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
    folder = cache_root() / key
    try:
        os.rename(work, folder)
    except OSError:
        if lookup(key) is None:  # a broken entry (a killed writer, a deleted file): replace it
            shutil.rmtree(folder, ignore_errors=True)
            os.rename(work, folder)
        else:
            shutil.rmtree(work, ignore_errors=True)
    _prune()
    return folder


def _prune() -> None:
    root = cache_root()
    entries = sorted((p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")),
                     key=lambda p: p.stat().st_mtime, reverse=True)
    for old in entries[KEEP:]:
        shutil.rmtree(old, ignore_errors=True)
    for stale in root.glob(".work-*"):  # left by a killed preparation
        if time.time() - stale.stat().st_mtime > 24 * 3600:
            shutil.rmtree(stale, ignore_errors=True)
