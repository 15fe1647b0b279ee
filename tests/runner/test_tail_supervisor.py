"""Stopping a run this process did not start: the worker is the one the run folder's lock names, asked to stop
with SIGINT, killed on a second request or once the stop timeout passes, exactly like a worker of our own."""
from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

from fttui.runner import supervisor as supervision
from fttui.runner.supervisor import TailSupervisor

# A worker stand-in in its own session, as the real one runs: it claims the run, and answers SIGINT by saying
# so and training on (a worker that is slow to reach its next step).
WORKER = r"""
import os, signal, sys, time
from pathlib import Path
from fttui.runner.lock import claim

lock = claim(Path(sys.argv[1]), "train")
lock.set_worker(os.getpid())
signal.signal(signal.SIGINT, lambda *a: print("asked to stop", flush=True))
print("claimed", flush=True)
while True:
    time.sleep(0.05)
"""


@pytest.fixture
def worker(tmp_path):
    (tmp_path / "config.yaml").write_text("{}\n")
    process = subprocess.Popen([sys.executable, "-c", WORKER, str(tmp_path)], stdout=subprocess.PIPE, text=True,
                               start_new_session=True)
    assert process.stdout.readline().strip() == "claimed"
    yield process
    process.kill()
    process.wait(timeout=10)


def test_stop_signals_the_lock_holder_then_a_second_request_kills_it(tmp_path, worker):
    tail = TailSupervisor(tmp_path)
    assert tail.running and tail.pid == worker.pid
    assert tail.request_stop() is False  # the graceful stop
    assert worker.stdout.readline().strip() == "asked to stop"
    assert tail.request_stop() is True  # asked again: killed
    assert worker.wait(timeout=10) == -signal.SIGKILL
    deadline = time.monotonic() + 10
    while tail.running and time.monotonic() < deadline:  # the kernel drops a dead holder's lock
        time.sleep(0.05)
    assert not tail.running and tail.next_event(timeout=0) is None


def test_a_worker_that_does_not_stop_in_time_is_killed(tmp_path, worker, monkeypatch):
    monkeypatch.setattr(supervision, "STOP_TIMEOUT_S", 0.2)
    tail = TailSupervisor(tmp_path)
    tail.request_stop()
    assert worker.stdout.readline().strip() == "asked to stop"
    deadline = time.monotonic() + 10
    while worker.poll() is None and time.monotonic() < deadline:
        tail.next_event(timeout=0.1)  # reading is what enforces the timeout, as for a worker of our own
    assert worker.returncode == -signal.SIGKILL and tail.killed


def test_a_run_nobody_trains_is_not_signalled(tmp_path):
    (tmp_path / "config.yaml").write_text("{}\n")
    tail = TailSupervisor(tmp_path)
    assert not tail.running and tail.pid is None and tail.request_stop() is False
