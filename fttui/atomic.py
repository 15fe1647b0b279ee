"""Atomic file and folder writes: a crash or kill mid-write leaves the previous version intact."""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path


def umask() -> int:
    """The process umask, read without setting it (``os.umask`` sets as it reads, racing other threads)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)  # no /proc (macOS): the brief swap is the only portable way
    os.umask(mask)
    return mask


def follow_umask(path: str | os.PathLike) -> None:
    """Give a file or a tree the modes ``open()``/``mkdir()`` would: mkstemp, mkdtemp and safetensors make 0600/0700.

    A shared server's team reads runs and exports through the umask; symlinks are left alone.
    """
    mask = umask()
    file_mode, exec_mode = 0o666 & ~mask, 0o777 & ~mask

    def fix(item: str) -> None:
        if not os.path.islink(item):
            os.chmod(item, exec_mode if os.path.isdir(item) or os.stat(item).st_mode & 0o100 else file_mode)

    fix(os.fspath(path))
    if os.path.isdir(path) and not os.path.islink(path):
        for root, dirs, files in os.walk(path):
            for name in dirs + files:
                fix(os.path.join(root, name))


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write to a temporary file in the same folder, fsync, then rename over the target."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~umask())  # mkstemp makes 0600; a file written with open() follows the umask
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: str | os.PathLike, data) -> None:
    write_text(path, json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")


@contextmanager
def replacing_dir(path: str | os.PathLike):
    """Yield a temporary sibling folder; on success it replaces ``path`` (the old one is kept until then)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    old = path.with_name(f".{path.name}.old")
    if old.exists() and not path.exists():  # an earlier swap was killed half-way: restore the previous folder
        os.replace(old, path)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        yield tmp
        follow_umask(tmp)  # mkdtemp made it 0700, safetensors its files 0600
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    had_old = path.exists()
    if had_old:
        shutil.rmtree(old, ignore_errors=True)
        os.replace(path, old)
    try:
        os.replace(tmp, path)
    except BaseException:
        if had_old:  # put the previous folder back rather than leave nothing
            os.replace(old, path)
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    shutil.rmtree(old, ignore_errors=True)


def fsync_tree(path: str | os.PathLike) -> None:
    """Flush a folder's files, its subfolders and the folder itself to disk (and the parent's entry for it).

    A checkpoint counts as saved only once this returns: after a power cut the Trainer's files may otherwise be
    empty or missing although their names are there.
    """
    path = os.fspath(path)
    for root, dirs, files in os.walk(path, topdown=False):
        for name in files:
            item = os.path.join(root, name)
            if not os.path.islink(item):
                _fsync(item, os.O_RDONLY)
        _fsync(root, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    _fsync(os.path.dirname(os.path.abspath(path)), os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))


def _fsync(path: str, flags: int) -> None:
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
