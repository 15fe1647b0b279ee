"""The bundled catalogue: real ``config.json`` files of the models people tune, for planning without the hub.

Each ``catalogue/<org>--<name>.json`` is the model's config with one added key, ``_source``: the hub id, the
ids that share its shape (``same_shape``, e.g. the -Instruct twin), the public repository, path and commit it
was copied from, the date it was taken and what it was cross-checked against (see catalogue/README.md).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

CATALOGUE = Path(__file__).with_name("catalogue")


@dataclass(frozen=True)
class Bundled:
    """One catalogue entry, as asked for (``asked`` may be an alias that shares the shape)."""

    asked: str
    hub_id: str
    taken: str
    path: Path
    source: dict

    @property
    def note(self) -> str:
        twin = f" (same shape as {self.asked})" if self.asked.lower() != self.hub_id.lower() else ""
        return f"planned from the bundled config of {self.hub_id}{twin}, taken {self.taken}"

    def config(self) -> dict:
        data = json.loads(self.path.read_text(encoding="utf-8"))
        data.pop("_source", None)
        return data


@lru_cache(maxsize=1)
def _index() -> dict[str, tuple[Path, dict]]:
    index: dict[str, tuple[Path, dict]] = {}
    for path in sorted(CATALOGUE.glob("*.json")):
        source = json.loads(path.read_text(encoding="utf-8")).get("_source") or {}
        for name in [source.get("hub_id", ""), *source.get("same_shape", [])]:
            if name:
                index.setdefault(name.lower(), (path, source))
    return index


def bundled(ref: str) -> Bundled | None:
    """The catalogue entry for a hub id (case-insensitive, aliases included), or None."""
    found = _index().get((ref or "").strip().lower())
    if found is None:
        return None
    path, source = found
    return Bundled(ref, source["hub_id"], source.get("taken", "?"), path, source)


def catalogue_ids() -> list[str]:
    """Every hub id with a bundled config (not the aliases), for hints and the README."""
    return sorted({source["hub_id"] for _, source in _index().values()}, key=str.lower)
