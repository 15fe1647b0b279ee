"""A full disk, a quota, a read-only or forbidden folder: told as what it is, with the path and the space left.

The libraries report these in their own words (torch: "unexpected pos 1359104 vs 1358996", safetensors:
"I/O error: No space left on device (os error 28)"), or as a bare OSError that would end in a traceback.
``write_failure`` turns any of them into an ``FttuiError`` the CLI and the worker show like every other error.
"""
from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

from fttui.errors import ConfigError, FttuiError, TrainingError

FULL = (errno.ENOSPC, errno.EDQUOT)
REFUSED = (errno.EROFS, errno.EACCES, errno.EPERM)
# Library messages that carry no errno: (text, errno it stands for, or None for "a write failed, ask the disk").
WORDS = (("no space left on device", errno.ENOSPC), ("os error 28", errno.ENOSPC),
         ("disk quota exceeded", errno.EDQUOT), ("os error 122", errno.EDQUOT),
         ("read-only file system", errno.EROFS), ("os error 30", errno.EROFS),
         ("inline_container.cc", None), ("iostream error", None), ("file write failed", None))
NEARLY_FULL_MB = 64  # a torch write that failed with less than this left ran out of space


def free_mb(path: str | os.PathLike | None) -> float | None:
    """Free space in MB on the file system holding ``path`` (its nearest existing parent)."""
    if path is None:
        return None
    place = Path(path).absolute()
    while not place.exists() and place != place.parent:
        place = place.parent
    try:
        return shutil.disk_usage(place).free / 2**20
    except OSError:
        return None


def mount_point(path: str | os.PathLike) -> Path:
    place = Path(path).absolute()
    while not place.exists() and place != place.parent:
        place = place.parent
    while not os.path.ismount(place) and place != place.parent:
        place = place.parent
    return place


def _chain(error: BaseException):
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        yield error
        error = error.__cause__ or error.__context__


def _code(error: BaseException, where) -> tuple[int | None, str | None]:
    """The errno behind ``error`` (or any error it was raised from) and the file it names."""
    for link in _chain(error):
        if isinstance(link, OSError) and link.errno in FULL + REFUSED:
            return link.errno, link.filename2 or link.filename  # a copy names its source first, its target second
    text = str(error).lower()
    for words, code in WORDS:
        if words in text:
            if code is None:
                free = free_mb(where)
                code = errno.ENOSPC if free is not None and free < NEARLY_FULL_MB else None
            return code, None
    return None, None


def write_failure(error: BaseException, where: str | os.PathLike | None = None,
                  hint: str | None = None) -> FttuiError | None:
    """The error to show for a failed write, or None when ``error`` is not about the disk.

    ``where`` is the folder being written (the run folder, an export's ``--out``), used when the error names
    no file; ``hint`` replaces the default advice for a full disk.
    """
    code, filename = _code(error, where)
    if code is None:
        return None
    path = filename or where
    shown = f" writing {path}" if path else ""
    if code in FULL:
        free = free_mb(path)
        room = f" ({free:.0f} MB free)" if free is not None else ""
        what = "no space left" if code == errno.ENOSPC else "disk quota exceeded"
        device = f" on {mount_point(path)}" if path else ""
        return TrainingError(f"{what}{device}{shown}{room}",
                             hint or "free some space, or write somewhere else (--output-dir, output.runs_dir, --out)")
    why = "read-only file system" if code == errno.EROFS else "permission denied"
    return ConfigError(f"cannot write {path or 'a file'}: {why}",
                       "choose a folder you can write (--output-dir, output.runs_dir, or --out for export)")
