"""Who works in a run folder: one trainer at a time, or any number of readers (export, eval, try).

The claim is an ``flock`` on ``RUN_DIR/.fttui.lock``. The training worker inherits the lock's file
descriptor, so the run stays claimed while the worker trains even when the ``fttui`` that started it was
killed; the kernel drops the lock when the last holder ends, so a dead holder never blocks a run. The
file's text (pid, worker pid, host, start, purpose) is only there to say who holds it.
"""
from __future__ import annotations

import errno
import fcntl
import json
import os
import socket
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from fttui.errors import ConfigError

LOCK_FILE = ".fttui.lock"
TRAINING = ("train", "resume")  # purposes that write the run (an exclusive claim)
DOING = {"train": "training", "resume": "training", "export": "exporting", "eval": "being evaluated",
         "try": "open in Export & try"}
CLAIM_RETRY_S = 1.0  # a reader's quick look (``holder``) can hold the lock for a moment: try again meanwhile


class RunBusy(ConfigError):
    """The run folder is claimed by another process."""


@dataclass
class Holder:
    pid: int  # the process that claimed the folder (fttui, or the wizard)
    host: str
    started: float
    purpose: str  # train | resume | export | eval | try
    worker_pid: int | None = None  # the training worker it started, which keeps the claim when fttui dies

    def describe(self) -> str:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(self.started))
        who = f"pid {self.worker_pid or self.pid}" + (f" on {self.host}" if self.host != socket.gethostname() else "")
        doing = DOING.get(self.purpose, self.purpose)
        return f"{doing} ({who}, since {when})"

    @property
    def signal_pid(self) -> int:
        """The process to signal to stop the work: the worker when there is one."""
        return self.worker_pid or self.pid


def _read_holder(fd: int) -> Holder | None:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        data = json.loads(os.read(fd, 4096).decode("utf-8") or "null")
        return Holder(**data) if isinstance(data, dict) else None
    except (OSError, ValueError, TypeError):
        return None


class RunLock:
    """A held claim on a run folder; ``fd`` is passed to the worker so the claim outlives this process."""

    def __init__(self, fd: int, path: Path, holder: Holder, previous: Holder | None):
        self.fd, self.path, self.holder = fd, path, holder
        self.previous = previous  # what the file said before: a holder that ended without releasing

    @property
    def note(self) -> str | None:
        """A message when the claim took over from a holder that ended without releasing (killed, crashed)."""
        prev = self.previous
        if prev is None or prev.purpose not in TRAINING:
            return None
        return (f"took over {self.path.parent}: its last worker (pid {prev.signal_pid}, {prev.purpose} since "
                f"{time.strftime('%Y-%m-%d %H:%M', time.localtime(prev.started))}) is no longer running")

    def _write(self) -> None:
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, (json.dumps(asdict(self.holder)) + "\n").encode("utf-8"), 0)

    def set_worker(self, pid: int) -> None:
        self.holder.worker_pid = pid
        self._write()

    def release(self) -> None:
        """Say nobody holds it (a clean end), then drop the claim."""
        if self.fd < 0:
            return
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # only the last holder clears the text
            os.ftruncate(self.fd, 0)
        except OSError:
            pass  # other readers still hold it: they clear it when they end
        finally:
            os.close(self.fd)
            self.fd = -1


def claim(run_dir: Path, purpose: str, new: bool = False) -> RunLock:
    """Claim ``run_dir`` for ``purpose``; training claims it alone, readers share it.

    ``new``: the folder must hold nothing yet (a new run's ``--output-dir``): the lock file is created with
    O_EXCL, so of two ``fttui`` started together on one folder exactly one gets it.
    """
    path = Path(run_dir) / LOCK_FILE
    flags = os.O_RDWR | os.O_CREAT | (os.O_EXCL if new else 0)
    try:
        fd = os.open(path, flags, 0o666)  # the umask decides, like every other file of the run
    except FileExistsError:
        raise RunBusy(f"output folder {run_dir} is already in use by another fttui",
                      "choose a new folder with --output-dir") from None
    except OSError as error:
        raise ConfigError(f"cannot lock the run folder {run_dir}: {error.strerror}",
                          "check that the folder exists and is writable") from None
    exclusive = purpose in TRAINING
    deadline = time.monotonic() + CLAIM_RETRY_S
    while True:
        try:
            fcntl.flock(fd, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
            break
        except OSError as error:
            if error.errno not in (errno.EWOULDBLOCK, errno.EAGAIN) or time.monotonic() > deadline:
                busy = _read_holder(fd)
                os.close(fd)
                doing = busy.describe() if busy else "in use by another process"
                raise RunBusy(f"{run_dir} is {doing}",
                              "wait for it to end, follow it with the Runs screen, or stop it there (s)") from None
            time.sleep(0.05)
    previous = _read_holder(fd) if exclusive else None
    lock = RunLock(fd, path, Holder(os.getpid(), socket.gethostname(), time.time(), purpose), previous)
    try:
        lock._write()  # a reader writes too, so a trainer turned away can say what holds the run
    except OSError:  # a full disk: the caller says so (fttui.disk); an open fd must not leak
        os.close(fd)
        raise
    return lock


def holder(run_dir: Path) -> Holder | None:
    """Who holds ``run_dir`` now, or None; a quick look that takes nothing (no process-table scan)."""
    try:
        fd = os.open(Path(run_dir) / LOCK_FILE, os.O_RDONLY)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:  # held exclusively: a trainer
            return _read_holder(fd) or Holder(0, "", 0.0, "train")
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)
