"""Atomic file and folder writes: a crash or kill mid-write leaves the previous version intact."""
from __future__ import annotations

import json
import os
import re
import shutil
import socket
import tempfile
import time
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
    fd, tmp = tempfile.mkstemp(prefix=_tmp_prefix(path.name), suffix=".tmp", dir=path.parent)
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
    """Yield a temporary sibling folder; on success it replaces ``path`` (the old one is kept until then).

    A symlink at ``path`` stays: the folder it points to is the one replaced. Leftovers of a killed swap next to
    the target (``.NAME.*.tmp``, ``.NAME.old``) are cleaned up first (see ``is_stale``).
    """
    path = Path(path)
    if path.is_symlink():
        path = Path(os.path.realpath(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    old = path.with_name(f".{path.name}.old")
    clean_stale(path.parent, path.name)
    tmp = Path(tempfile.mkdtemp(prefix=_tmp_prefix(path.name), suffix=".tmp", dir=path.parent))
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


# ----------------------------------------------------------------- leftovers of killed writes

STALE_AFTER_S = 10 * 60  # a temporary nobody can vouch for, untouched this long, belongs to a dead writer
_TMP_NAME = re.compile(r"^\.(?P<name>.+?)\.(?:(?P<pid>\d+)@(?P<host>[A-Za-z0-9-]*)\.)?[^.]+\.tmp$")


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname())[:32]


def _tmp_prefix(name: str) -> str:
    """``.NAME.PID@HOST.``: a later cleanup can ask whether the writer of a temporary is still alive."""
    return f".{name}.{os.getpid()}@{_host()}."


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def _newest_change(path: Path) -> float:
    """The latest mtime in a tree: a file still being written keeps its temporary folder young."""
    newest = path.lstat().st_mtime
    if path.is_dir() and not path.is_symlink():
        for root, dirs, files in os.walk(path):
            for name in dirs + files:
                try:
                    newest = max(newest, os.lstat(os.path.join(root, name)).st_mtime)
                except OSError:
                    pass
    return newest


def is_stale(item: Path, now: float | None = None) -> bool:
    """Whether a ``.NAME.*.tmp`` temporary was left by a write that can no longer finish.

    Its name carries its writer's pid and host: on this host it is stale exactly when that process is gone
    (a slow write of a live one, however long, is never touched). Written by another host on a shared disk, or
    by an fttui that named temporaries without a pid, it is stale once nothing in it changed for STALE_AFTER_S.
    """
    match = _TMP_NAME.match(item.name)
    if match is None:
        return False
    if match["pid"] and match["host"] == _host():
        return not _alive(int(match["pid"]))
    try:
        return (time.time() if now is None else now) - _newest_change(item) > STALE_AFTER_S
    except OSError:
        return False


def clean_stale(folder: str | os.PathLike, name: str | None = None) -> list[Path]:
    """Remove the stale temporaries of ``name`` (of every name when None) in ``folder``; returns what went.

    ``.NAME.old`` is the previous folder of a swap killed half-way: put back when ``NAME`` is missing (it is
    the only whole copy), removed when ``NAME`` is there (the swap had finished).
    """
    folder, removed = Path(folder), []
    try:
        items = list(folder.iterdir())
    except OSError:
        return removed
    for item in items:
        match = _TMP_NAME.match(item.name)
        if match is not None and (name is None or match["name"] == name) and is_stale(item):
            _remove(item)
            removed.append(item)
        elif item.name.startswith(".") and item.name.endswith(".old") and (name is None or item.name == f".{name}.old"):
            current = folder / item.name[1:-4]
            try:
                if current.exists() or current.is_symlink():
                    _remove(item)
                    removed.append(item)
                else:
                    os.replace(item, current)
            except OSError:
                pass
    return removed


def _remove(item: Path) -> None:
    if item.is_dir() and not item.is_symlink():
        shutil.rmtree(item, ignore_errors=True)
    else:
        item.unlink(missing_ok=True)


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
