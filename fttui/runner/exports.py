"""Where an export may go: a new or empty folder, or an earlier fttui export whose every file its manifest lists.

An export replaces its whole folder, so the manifest (``fttui_export.json``, written last) names each file fttui
wrote there: a re-export into a folder where the user added ``NOTES.md`` or a folder of their own is refused
instead of deleting them. Torch-free, so the CLI refuses before it loads anything.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from fttui.atomic import write_json
from fttui.errors import ConfigError

MANIFEST = "fttui_export.json"
SHOWN = 5  # foreign files named in the refusal


def export_target(out: str | os.PathLike) -> Path:
    """The folder an export replaces: ``out``, or the folder a symlink at ``out`` points to (the link stays)."""
    out = Path(out).expanduser()
    return Path(os.path.realpath(out)) if out.is_symlink() else out


def check_target(out: str | os.PathLike) -> Path:
    """The folder to write, after refusing one that holds anything fttui did not write there (ConfigError)."""
    target = export_target(out)
    if not target.exists():
        return target
    if not target.is_dir():
        raise ConfigError(f"{out} is a file, not a folder", "choose a folder (new, empty, or an earlier export) for --out")
    listed = _listed(target)
    if listed is None:
        raise ConfigError(f"{out} was exported by an older fttui that kept no list of its files, so fttui cannot "
                          "tell them from files you added", f"choose another folder, or remove {target} and export again")
    foreign = foreign_entries(target, listed)
    if foreign:
        more = f" and {len(foreign) - SHOWN} more" if len(foreign) > SHOWN else ""
        raise ConfigError(f"{out} holds files fttui did not write: {', '.join(foreign[:SHOWN])}{more}; an export "
                          "replaces the whole folder",
                          f"choose another folder, or move those files out of {target} and export again")
    return target


def _listed(folder: Path) -> set[str] | None:
    """The files the folder's manifest lists; an empty set for an empty folder; None for an unlisted export."""
    manifest = folder / MANIFEST
    if not manifest.is_file():
        return set()
    try:
        files = json.loads(manifest.read_text(encoding="utf-8")).get("files")
    except (OSError, ValueError, AttributeError):
        return set()  # unreadable: nothing is vouched for, every file counts as the user's
    return {str(name) for name in files} if isinstance(files, list) else None


def foreign_entries(folder: Path, listed: set[str]) -> list[str]:
    """Files and folders under ``folder`` that no listed file accounts for ("NOTES.md", "mine/"), sorted."""
    ours = set(listed) | {MANIFEST}
    for name in listed:
        parts = Path(name).parts
        ours.update("/".join(parts[:i]) for i in range(1, len(parts)))  # the folders a listed file lives in
    foreign: list[str] = []
    for root, dirs, files in os.walk(folder):
        relative = Path(root).relative_to(folder)
        for name in sorted(dirs):
            path = (relative / name).as_posix()
            if path not in ours:
                foreign.append(path + "/")
        dirs[:] = [d for d in dirs if (relative / d).as_posix() in ours]  # a foreign folder is named once
        foreign.extend(p for p in ((relative / name).as_posix() for name in sorted(files)) if p not in ours)
    return sorted(foreign)


def write_manifest(folder: Path, info: dict) -> dict:
    """Write ``info`` plus the list of every file in ``folder`` as its manifest; last, so it lists them all."""
    files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")
                   if (p.is_file() or p.is_symlink()) and p.name != MANIFEST)
    manifest = {**info, "files": files}
    write_json(folder / MANIFEST, manifest)
    return manifest
