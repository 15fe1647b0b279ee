"""Supervision: one ``Supervisor`` protocol for every source of a run's events, and the two real ones.

``WorkerSupervisor`` starts the training worker as a child process and streams its stdout; ``TailSupervisor``
follows a run folder that another process trains (``events.jsonl`` read from an offset, the worker found through
the run's lock). Both stop alike: one SIGINT (graceful: the worker saves a checkpoint), then SIGKILL on a second
request or after ``STOP_TIMEOUT_S``. The child runs in its own session so a terminal Ctrl-C reaches only this
process. With ``--nproc N`` the child is torchrun, which forwards the SIGINT to every rank; a kill reaches the
ranks too (they run in sessions of their own, so the kill walks the process tree).
"""
from __future__ import annotations

import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from pathlib import Path
from typing import Protocol

from fttui.events import Event, Failed, Finished, Planned, Started, parse_event
from fttui.offline import child_env
from fttui.runner.distributed import RANK_VARIABLES, RankLayout, launcher_command, launcher_env
from fttui.runner.lock import TRAINING, Holder, RunLock
from fttui.runner.run_folder import RunFolder

STOP_TIMEOUT_S = 120.0
WORKER = "fttui.engine.worker"


class Supervisor(Protocol):
    """What a front end reads a run through: a worker it started, a run folder it follows, recorded events."""

    def next_event(self, timeout: float = 0.2) -> Event | None | bool:
        """An event, None at the end of the stream, or False when nothing arrived within ``timeout``."""

    def request_stop(self) -> bool:
        """First call: a graceful stop. Later calls: kill. True when this call killed the worker."""

    @property
    def running(self) -> bool:
        """The worker may still send events."""

    @property
    def pid(self) -> int | None:
        """The worker's process (for its memory use), when known."""


class Escalating:
    """The stop both real supervisors share: SIGINT first, SIGKILL on a second request or after the timeout."""

    stop_requested_at: float | None = None
    killed = False

    @property
    def running(self) -> bool:
        raise NotImplementedError

    def _signal(self, sig) -> None:
        """Send ``sig`` to the worker's process group."""
        raise NotImplementedError

    def _ranks(self) -> list:
        """Processes a kill must reach besides the group (torchrun's ranks live in sessions of their own)."""
        return []

    def request_stop(self) -> bool:
        if not self.running:
            return False
        if self.stop_requested_at is None:
            self.stop_requested_at = time.monotonic()
            self._signal(signal.SIGINT)
            return False
        self.kill()
        return True

    def _enforce_stop_timeout(self) -> None:
        if (self.stop_requested_at is not None and self.running
                and time.monotonic() - self.stop_requested_at > STOP_TIMEOUT_S):
            self.kill()

    def kill(self) -> None:
        self.killed = True
        ranks = self._ranks()
        self._signal(signal.SIGKILL)
        for process in ranks:
            try:
                process.kill()
            except Exception:  # already gone
                pass


def _descendants(pid: int) -> list:
    import psutil

    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return []


class WorkerSupervisor(Escalating):
    """The worker (training, export, try) as a child process of this one; its stdout is the event stream."""

    STDIN = subprocess.DEVNULL  # a worker that takes requests (``try``) gets a pipe instead

    def __init__(self, config_path: Path, run_dir: Path | None, mode: str = "train", log_path: Path | None = None,
                 scratch_dir: Path | None = None, extra_args: list[str] | None = None, launch: RankLayout | None = None,
                 lock: RunLock | None = None):
        worker_args = ["--config", str(config_path), "--mode", mode]
        if run_dir is not None:
            worker_args += ["--run-dir", str(run_dir)]
        worker_args += extra_args or []
        self.launch = launch or RankLayout()
        if self.launch.distributed:  # torchrun starts one worker per rank with the same arguments
            self.command = launcher_command(self.launch, WORKER, worker_args)
        else:
            self.command = [sys.executable, "-m", WORKER, *worker_args]
        self.log_path = log_path
        self.scratch_dir = scratch_dir  # removed when the worker ends (dry runs and previews)
        self.lock = lock  # the run folder's claim: the worker inherits it, it is released when the worker ends
        self.notes = [lock.note] if lock is not None and lock.note else []  # for the user, before any event
        self.events: queue.Queue[Event | None] = queue.Queue()
        self.raw_lines: list[str] = []
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL
        env = dict(os.environ, PYTHONUNBUFFERED="1", TOKENIZERS_PARALLELISM="false", **child_env())
        if self.launch.distributed:
            env.update(launcher_env(STOP_TIMEOUT_S))
        else:  # started from inside a torchrun rank (a merge before training): a process of its own, rank 0 of 1
            for name in RANK_VARIABLES:
                env.pop(name, None)
        try:
            self.process = subprocess.Popen(
                self.command, stdout=subprocess.PIPE, stderr=log, stdin=self.STDIN,
                env=env, start_new_session=True, text=True, encoding="utf-8", bufsize=1,
                pass_fds=(self.lock.fd,) if self.lock else (),
            )
        except BaseException:
            if self.lock:
                self.lock.release()
            raise
        finally:
            if log is not subprocess.DEVNULL:
                log.close()
        if self.lock:
            self.lock.set_worker(self.process.pid)
        threading.Thread(target=self._read, name="fttui-events", daemon=True).start()

    def _read(self) -> None:
        assert self.process and self.process.stdout
        try:
            for line in self.process.stdout:
                self.raw_lines.append(line.rstrip("\n"))
                event = parse_event(line)
                if event is not None:
                    self.events.put(event)
            self.process.wait()
        finally:  # whatever happens, readers must learn that the stream ended
            if self.lock is not None:
                self.lock.release()
            if self.scratch_dir is not None:
                shutil.rmtree(self.scratch_dir, ignore_errors=True)
            self.events.put(None)

    def next_event(self, timeout: float = 0.2) -> Event | None | bool:
        """An event, None at end of stream, or False when nothing arrived within ``timeout``."""
        try:
            return self.events.get(timeout=timeout)
        except queue.Empty:
            self._enforce_stop_timeout()
            return False

    def _ranks(self) -> list:
        return _descendants(self.process.pid) if self.launch.distributed and self.process else []

    def _signal(self, sig) -> None:
        if self.process and self.process.poll() is None:
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                pass

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def wait(self) -> int:
        assert self.process
        return self.process.wait()


class TailSupervisor(Escalating):
    """Follows a run folder like ``tail -f``: events from ``events.jsonl``, the worker from the run's lock.

    The lock names the worker (its pid, host and start) and is held for as long as it trains, so "still
    running" and "whom to signal" are asked of it: never of a pid alone (pids are reused) nor the process table.
    """

    POLL_S = 0.05

    def __init__(self, run_dir: Path | RunFolder):
        self.folder = run_dir if isinstance(run_dir, RunFolder) else RunFolder(run_dir)
        self.run_dir = self.folder.path
        self.offset = 0
        self.pending: deque[Event] = deque()  # a long run read back is 100k events: pop from the left cheaply
        self.ended = False  # its worker said how it ended (finished or failed)
        self.drained = False  # nobody trains there and everything written was read: the stream is over

    def _read_new(self, final: bool = False) -> None:
        events, self.offset = self.folder.events(self.offset, final)
        for event in events:
            self.pending.append(event)
            if isinstance(event, (Finished, Failed)):
                self.ended = True
            elif isinstance(event, (Planned, Started)):
                self.ended = False  # a resumed run: a new worker began after the last one ended

    def next_event(self, timeout: float = 0.2):
        deadline = time.monotonic() + timeout
        while True:
            if not self.pending and not self.drained:
                self._read_new()
            if self.pending:
                return self.pending.popleft()
            if self.drained:
                return None
            if self.ended or not self._trainer():
                self._read_new(final=True)  # the writer is gone: a last line without its newline counts too
                self.drained = True
                continue
            self._enforce_stop_timeout()
            if time.monotonic() >= deadline:
                return False
            time.sleep(self.POLL_S)

    def _trainer(self) -> Holder | None:
        """The holder of the run's training claim, when one holds it."""
        claimed = self.folder.holder()
        return claimed if claimed is not None and claimed.purpose in TRAINING else None

    @property
    def running(self) -> bool:
        return not self.ended and self._trainer() is not None

    @property
    def pid(self) -> int | None:
        claimed = self._trainer()
        return claimed.signal_pid or None if claimed is not None else None

    def _signal(self, sig) -> None:
        claimed = self._trainer()
        if claimed is None or not claimed.signal_pid or claimed.host != socket.gethostname():
            return  # ended meanwhile, or trained from another machine: nothing here to signal
        try:
            os.killpg(claimed.signal_pid, sig)  # the worker leads its own session, so its group is its pid
        except (ProcessLookupError, PermissionError):
            pass

    def _ranks(self) -> list:
        claimed = self._trainer()
        return _descendants(claimed.signal_pid) if claimed is not None and claimed.signal_pid else []
