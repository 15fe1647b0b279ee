"""Making run folders: ``runs/<name>-<YYYYmmdd-HHMMSS>/`` or an exact ``--output-dir`` that must be new or empty.

Reading one is ``runner.run_folder``'s.
"""
from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from pathlib import Path

from fttui.atomic import write_text
from fttui.config import RunConfig, dump_config
from fttui.errors import ConfigError
from fttui.disk import write_failure
from fttui.runner.lock import LOCK_FILE, RunBusy, RunLock, claim
from fttui.runner.run_folder import CONFIG_FILE, LOG_FILE


def run_name(config: RunConfig) -> str:
    name = config.output.name or f"{config.method.name}-run"
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-") or "run"


def create_run_dir(config: RunConfig, output_dir: str | None = None) -> tuple[Path, RunLock]:
    """Create and claim the run folder (never reusing a non-empty one) and save the resolved config in it.

    The claim is atomic: of two ``fttui`` started together on one ``--output-dir`` exactly one gets it, and
    two runs named alike in the same second get folders of their own.
    """
    explicit = output_dir or config.output.dir
    if explicit:
        path = Path(explicit).expanduser()
        if path.exists() and not path.is_dir():
            raise ConfigError(f"output folder {path} already exists and is not a folder",
                              "choose a new folder with --output-dir")
        made = not path.exists()
        _make_folder(path, exist_ok=True)
        lock = _claim_new(path, made)
        if any(entry.name != LOCK_FILE for entry in path.iterdir()):
            lock.release()
            lock.path.unlink(missing_ok=True)  # ours: made a moment ago by the O_EXCL claim
            raise ConfigError(f"output folder {path} already exists and is not empty",
                              "choose a new folder with --output-dir, or remove the old one")
    else:
        base = Path(config.output.runs_dir).expanduser() / f"{run_name(config)}-{time.strftime('%Y%m%d-%H%M%S')}"
        path, n = base, 1
        while not _make_folder(path, exist_ok=False):
            n += 1
            path = base.with_name(f"{base.name}-{n}")
        made = True
        lock = _claim_new(path, made)
    try:
        write_text(path / CONFIG_FILE, dump_config(config))
    except OSError as error:  # a full disk or a read-only folder: say so, and leave the place as it was
        lock.release()
        _undo(path, made)
        raise write_failure(error, path) or ConfigError(f"cannot write {path / CONFIG_FILE}: {error.strerror}",
                                                        "choose a writable place with --output-dir") from None
    except BaseException:
        lock.release()
        raise
    return path, lock


def _claim_new(path: Path, made: bool) -> RunLock:
    try:
        return claim(path, "train", new=True)
    except (ConfigError, OSError) as error:
        if not isinstance(error, RunBusy):
            _undo(path, made)
        if isinstance(error, OSError):
            raise write_failure(error, path) or ConfigError(f"cannot lock the run folder {path}: {error.strerror}",
                                                            "check that the folder is writable") from None
        raise


def _undo(path: Path, made: bool) -> None:
    """Remove what creating the run left: the lock file, and the folder when this run made it."""
    (path / LOCK_FILE).unlink(missing_ok=True)
    if made:
        try:
            path.rmdir()
        except OSError:
            pass


def _make_folder(path: Path, exist_ok: bool) -> bool:
    """mkdir; False when ``exist_ok`` is off and the folder exists already (somebody else's)."""
    try:
        path.mkdir(parents=True, exist_ok=exist_ok)
    except FileExistsError:
        return False
    except OSError as exc:
        raise ConfigError(f"cannot create the run folder {path}: {exc.strerror}",
                          "choose a writable place with --output-dir or output.runs_dir") from None
    return True


def discard_run_dir(run_dir: Path, keep_empty: bool, keep_log: bool) -> Path | None:
    """Remove a run that failed before its first step: nothing in it can be resumed or read back.

    ``keep_log`` (a training failure, exit 4) moves ``train.log`` to the temp folder first, since its
    traceback is what a bug report needs; returns where it went. If it cannot be moved, the folder stays.
    ``keep_empty``: the folder was the user's (``--output-dir`` made beforehand), so it stays, empty as it was.
    """
    log, kept = Path(run_dir) / LOG_FILE, None
    if keep_log and log.is_file() and log.stat().st_size:
        handle, name = tempfile.mkstemp(prefix=f"fttui-{Path(run_dir).name}-", suffix=".log")
        os.close(handle)
        try:
            shutil.move(log, name)
        except OSError:
            Path(name).unlink(missing_ok=True)
            return log
        kept = Path(name)
    shutil.rmtree(run_dir, ignore_errors=True)
    if keep_empty:
        Path(run_dir).mkdir(exist_ok=True)
    return kept
