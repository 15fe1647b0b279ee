"""A scheduler's SIGTERM, a closed terminal's SIGHUP, and a killed ``fttui`` whose worker trains on.

Each runs the real CLI and a real training worker on a tiny model (a few seconds each).
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import psutil
import pytest
import yaml

from fttui.runner.lock import holder


@pytest.fixture
def long_preset(tmp_path, tiny_bert, sentiment_file):
    preset = tmp_path / "long.yaml"
    preset.write_text(yaml.safe_dump({
        "model": {"name": tiny_bert, "task": "seq-cls"},
        "data": {"train": sentiment_file, "eval": None},
        "method": {"name": "lora"},
        "training": {"max_steps": 5000, "batch_size": 4, "logging_steps": 1, "save_steps": 2},
    }))
    return preset


def fttui(*args: str, cwd) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "fttui", *args, "--json"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=cwd, env=dict(os.environ, HF_HUB_OFFLINE="1"))


def read_until(proc: subprocess.Popen, done, limit_s: float = 120) -> list[dict]:
    events, deadline = [], time.monotonic() + limit_s
    for line in proc.stdout:
        events.append(json.loads(line))
        if done(events[-1]):
            return events
        assert time.monotonic() < deadline, "the run did not get there in time"
    raise AssertionError(f"the stream ended first: {proc.wait()} {proc.stderr.read()}")


def is_checkpoint_after(step: int):
    return lambda event: event["event"] == "checkpoint" and event["step"] >= step


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@pytest.mark.parametrize("sig,code", [(signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_sigterm_and_sighup_stop_the_run_gracefully_with_no_orphan(tmp_path, long_preset, sig, code):
    out = tmp_path / "run"
    proc = fttui("--preset", str(long_preset), "--output-dir", str(out), cwd=tmp_path)
    read_until(proc, lambda e: e["event"] == "step" and e["step"] >= 2)
    worker = holder(out).worker_pid
    assert worker and worker != proc.pid
    proc.send_signal(sig)
    events = [json.loads(line) for line in proc.stdout]
    assert proc.wait(timeout=120) == code
    stderr = proc.stderr.read()
    assert "Traceback" not in stderr and signal.Signals(sig).name in stderr
    finished = [e for e in events if e["event"] == "finished"]
    assert finished and finished[0]["status"] == "stopped"
    assert [e for e in events if e["event"] == "checkpoint"], "a graceful stop saves a checkpoint"
    assert gone(worker), "the worker must not train on unsupervised"
    assert holder(out) is None


@pytest.mark.slow  # in CI's slow run: keeps the fast suite near 15 minutes on 2 cores
def test_resume_is_refused_while_the_orphaned_worker_trains_then_takes_over(tmp_path, long_preset):
    out = tmp_path / "run"
    parent = fttui("--preset", str(long_preset), "--output-dir", str(out), cwd=tmp_path)
    read_until(parent, is_checkpoint_after(2))
    worker = holder(out).worker_pid
    parent.send_signal(signal.SIGKILL)  # fttui dies; its worker (in a session of its own) trains on
    parent.wait()
    assert not gone(worker)
    refused = subprocess.run([sys.executable, "-m", "fttui", "--resume", str(out)], capture_output=True, text=True,
                             cwd=tmp_path, timeout=60)
    assert refused.returncode == 2 and f"is training (pid {worker}" in refused.stderr, refused.stderr
    assert "Traceback" not in refused.stderr
    os.kill(worker, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while not gone(worker) or holder(out) is not None:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    resumed = fttui("--resume", str(out), cwd=tmp_path)
    events = read_until(resumed, lambda e: e["event"] == "started")
    assert events[-1]["resumed_from_step"] >= 2
    resumed.send_signal(signal.SIGTERM)
    assert resumed.wait(timeout=120) == 143
    stderr = resumed.stderr.read()
    assert f"took over {out}" in stderr and f"pid {worker}" in stderr and "no longer running" in stderr
    assert "Traceback" not in stderr


@pytest.mark.slow  # in CI's slow run: keeps the fast suite near 15 minutes on 2 cores
def test_a_resumed_run_keeps_its_before_and_after_and_a_completed_one_is_left_alone(tmp_path, tiny_bert,
                                                                                   sentiment_file):
    preset = tmp_path / "evaluated.yaml"
    preset.write_text(yaml.safe_dump({
        "model": {"name": tiny_bert, "task": "seq-cls"}, "data": {"train": sentiment_file, "eval": 0.25},
        "method": {"name": "lora"},
        "training": {"max_steps": 8, "batch_size": 4, "logging_steps": 1, "save_steps": 2, "eval_steps": 100},
    }))
    out = tmp_path / "run"
    first = fttui("--preset", str(preset), "--output-dir", str(out), cwd=tmp_path)
    events = read_until(first, is_checkpoint_after(2))
    baseline = next(e for e in events if e["event"] == "eval" and e["baseline"])["metrics"]
    first.send_signal(signal.SIGKILL)  # killed: no summary.json, only events.jsonl remembers the baseline
    first.wait()
    deadline = time.monotonic() + 10
    while holder(out) is not None:  # its worker too
        os.kill(holder(out).signal_pid, signal.SIGKILL)
        time.sleep(0.1)
        assert time.monotonic() < deadline
    resumed = subprocess.run([sys.executable, "-m", "fttui", "--resume", str(out)], capture_output=True,
                             text=True, cwd=tmp_path, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["global_step"] == 8
    assert summary["baseline_eval_loss"] == pytest.approx(baseline["loss"])
    assert summary["baseline_eval_accuracy"] == pytest.approx(baseline["accuracy"])
    assert "eval_loss: " in resumed.stderr and " -> " in resumed.stderr  # the console reads before -> after
    checkpoints = sorted(p.name for p in (out / "checkpoints").iterdir())
    again = subprocess.run([sys.executable, "-m", "fttui", "--resume", str(out)], capture_output=True, text=True,
                           cwd=tmp_path, timeout=60)
    assert again.returncode == 0 and "already completed 8 steps; nothing to resume" in again.stderr
    assert "--set training.epochs=N" in again.stderr
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == checkpoints  # nothing trained, nothing new
