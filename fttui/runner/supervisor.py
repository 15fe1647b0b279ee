"""Start the training worker as a child process, stream its events, stop it gracefully or kill it.

The child runs in its own session so a terminal Ctrl-C reaches only this process, which forwards
one SIGINT (graceful stop) and escalates to SIGKILL on a second request or after a timeout.
With ``--nproc N`` the child is torchrun, which forwards the SIGINT to every rank; a kill reaches the
ranks too (they run in sessions of their own, so the kill walks the process tree).
"""
from __future__ import annotations

import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from fttui.events import Event, parse_event
from fttui.offline import child_env
from fttui.runner.distributed import Launch, launcher_command, launcher_env
from fttui.runner.lock import RunLock

STOP_TIMEOUT_S = 120.0
WORKER = "fttui.engine.worker"


class Supervisor:
    STDIN = subprocess.DEVNULL  # a worker that takes requests (``try``) gets a pipe instead

    def __init__(self, config_path: Path, run_dir: Path | None, mode: str = "train", log_path: Path | None = None,
                 scratch_dir: Path | None = None, extra_args: list[str] | None = None, launch: Launch | None = None,
                 lock: RunLock | None = None):
        worker_args = ["--config", str(config_path), "--mode", mode]
        if run_dir is not None:
            worker_args += ["--run-dir", str(run_dir)]
        worker_args += extra_args or []
        self.launch = launch or Launch()
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
        self.stop_requested_at: float | None = None
        self.killed = False

    def start(self) -> None:
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL
        env = dict(os.environ, PYTHONUNBUFFERED="1", TOKENIZERS_PARALLELISM="false", **child_env())
        if self.launch.distributed:
            env.update(launcher_env(STOP_TIMEOUT_S))
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

    def request_stop(self) -> bool:
        """First call: graceful stop (SIGINT). Later calls: kill. Returns True if this call killed it."""
        if not self.running:
            return False
        if self.stop_requested_at is None:
            self.stop_requested_at = time.monotonic()
            self._signal(signal.SIGINT)
            return False
        self.kill()
        return True

    def _enforce_stop_timeout(self) -> None:
        if self.stop_requested_at is not None and self.running and time.monotonic() - self.stop_requested_at > STOP_TIMEOUT_S:
            self.kill()

    def kill(self) -> None:
        self.killed = True
        ranks = self._descendants()  # torchrun's ranks live in their own sessions: killpg misses them
        self._signal(signal.SIGKILL)
        for process in ranks:
            try:
                process.kill()
            except Exception:  # already gone
                pass

    def _descendants(self) -> list:
        if not (self.launch.distributed and self.process):
            return []
        import psutil

        try:
            return psutil.Process(self.process.pid).children(recursive=True)
        except psutil.Error:
            return []

    def _signal(self, sig) -> None:
        if self.process and self.process.poll() is None:
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                pass

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def wait(self) -> int:
        assert self.process
        return self.process.wait()
