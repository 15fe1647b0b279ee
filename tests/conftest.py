"""Fixtures shared by every test folder (keep this small and general)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml


@pytest.fixture(autouse=True)
def _private_data_cache(tmp_path_factory, monkeypatch):
    """Each test prepares its data afresh, in a cache of its own (never the user's ~/.cache/fttui)."""
    monkeypatch.setenv("FTTUI_CACHE", str(tmp_path_factory.mktemp("fttui-cache")))


def write_file(path: Path, content) -> Path:
    """Write ``content`` to ``path``: a list of dicts becomes JSONL, a str is written verbatim."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, list):
        content = "".join(json.dumps(row) + "\n" for row in content)
    path.write_text(content, encoding="utf-8")
    return path


@pytest.fixture
def tmp_preset(tmp_path):
    """Factory: ``tmp_preset(preset, files={"data/train.jsonl": [rows...]}, name="preset.yaml") -> Path``.

    ``preset`` is a dict (dumped as YAML) or raw YAML text; ``files`` are written relative to the preset's
    folder (``tmp_path``), lists of dicts as JSONL, strings verbatim.
    """

    def make(preset, files: dict | None = None, name: str = "preset.yaml") -> Path:
        for relative, content in (files or {}).items():
            write_file(tmp_path / relative, content)
        text = preset if isinstance(preset, str) else yaml.safe_dump(preset, sort_keys=False)
        return write_file(tmp_path / name, text)

    return make
