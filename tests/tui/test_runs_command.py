"""``fttui runs``: the listing (completed, stopped, and a run whose claim a live process holds), and ``--follow``
re-attached to a run that finishes while followed, or detached by Ctrl-C while it trains on."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fttui.events import Finished, StepLogged, parse_event

from .conftest import recorded_events as recorded, write_run

# A stand-in for a training worker: it claims the run folder as a worker does, says so, appends the rest of the
# run's events one by one (after stdin closes, when told to wait), then ends and so releases the claim.
TRAINER = r"""
import os, sys, time
from pathlib import Path
from fttui.runner.lock import claim

run, rest, wait = Path(sys.argv[1]), Path(sys.argv[2]).read_text().splitlines(True), sys.argv[3] == "wait"
lock = claim(run, "train")
lock.set_worker(os.getpid())
print("claimed", flush=True)
if wait:
    sys.stdin.read()
for line in rest:
    time.sleep(0.02)
    with open(run / "events.jsonl", "a") as handle:
        handle.write(line)
"""


def fttui(*args, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fttui", *args], capture_output=True, text=True, timeout=60, **kwargs)


def start_trainer(run: Path, rest: list, tmp_path: Path, wait: bool) -> subprocess.Popen:
    (tmp_path / "rest.jsonl").write_text("".join(event.to_json() + "\n" for event in rest))
    trainer = subprocess.Popen([sys.executable, "-c", TRAINER, str(run), str(tmp_path / "rest.jsonl"),
                                "wait" if wait else "go"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert trainer.stdout.readline().strip() == "claimed"
    return trainer


def cut_at_step(events: list, step: int) -> int:
    return next(i for i, event in enumerate(events) if isinstance(event, StepLogged) and event.step >= step)


@pytest.fixture
def runs(tmp_path):
    return tmp_path / "runs"


def test_the_listing_says_how_each_run_stands_with_its_metrics_base_to_tuned(runs, tmp_path):
    events = recorded()
    finished = next(event for event in events if isinstance(event, Finished))
    write_run(runs, "done", events, finished.summary)
    stopped = {**finished.summary, "status": "stopped", "global_step": 20}
    cut = cut_at_step(events, 20)
    write_run(runs, "halted", [*events[:cut], Finished(status="stopped", summary=stopped)], stopped)
    going = write_run(runs, "going", events[:cut])
    trainer = start_trainer(going, [], tmp_path, wait=True)
    try:
        result = fttui("runs", str(runs), "--json")
        shown = fttui("runs", str(runs))
    finally:
        trainer.stdin.close()
        trainer.wait(timeout=30)
    assert result.returncode == 0, result.stderr
    listed = {run["name"]: run for run in json.loads(result.stdout)}
    assert {name: run["status"] for name, run in listed.items()} == {
        "done": "completed", "halted": "stopped", "going": "running"}
    last_logged = max(e.step for e in events[:cut] if isinstance(e, StepLogged))
    assert listed["going"]["pid"] == trainer.pid
    assert (listed["going"]["step"], listed["going"]["max_steps"]) == (last_logged, 60)
    assert (listed["done"]["step"], listed["done"]["max_steps"]) == (60, 60)
    accuracy = listed["done"]["metrics"]["accuracy"]
    assert (accuracy["base"], accuracy["tuned"]) == (finished.summary["baseline_eval_accuracy"],
                                                      finished.summary["eval_accuracy"])
    assert not any(key.endswith(("runtime", "per_second", "epoch")) for key in listed["done"]["metrics"])
    assert listed["done"]["output"].endswith("done/adapter") and listed["done"]["output_kind"] == "adapter"
    assert listed["going"]["output"] is None
    assert shown.returncode == 0 and "accuracy 0.4167 -> 0.7917" in shown.stdout
    assert f"running (pid {trainer.pid})" in shown.stdout
    assert fttui("runs", str(runs), "--json").stdout.count('"interrupted"') == 1  # the trainer is gone now


def test_listing_a_folder_that_is_not_there_is_a_usage_error(tmp_path):
    result = fttui("runs", str(tmp_path / "nowhere"))
    assert result.returncode == 2 and "no runs folder at" in result.stderr and "Traceback" not in result.stderr
    assert fttui("runs", "--follow", str(tmp_path)).returncode == 2  # not a run folder either


def test_following_a_run_that_finishes_while_followed_ends_with_its_result(runs, tmp_path):
    events = recorded()
    cut = cut_at_step(events, 20)
    run = write_run(runs, "live", events[:cut])
    follower = subprocess.Popen([sys.executable, "-m", "fttui", "runs", "--follow", str(run), "--json"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    trainer = start_trainer(run, events[cut:], tmp_path, wait=False)
    try:
        out, err = follower.communicate(timeout=60)
    finally:
        trainer.wait(timeout=30)
        follower.kill()
    assert follower.returncode == 0, err
    seen = [parse_event(line) for line in out.splitlines()]
    assert [e.step for e in seen if isinstance(e, StepLogged)] == [e.step for e in events if isinstance(e, StepLogged)]
    assert isinstance(seen[-1], Finished) and seen[-1].status == "completed"


def test_ctrl_c_detaches_and_the_run_trains_on(runs, tmp_path):
    events = recorded()
    cut = cut_at_step(events, 20)
    run = write_run(runs, "live", events[:cut])
    trainer = start_trainer(run, events[cut:], tmp_path, wait=True)
    follower = subprocess.Popen([sys.executable, "-m", "fttui", "runs", "--follow", str(run)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert "Ctrl-C detaches" in follower.stderr.readline()
        time.sleep(0.5)
        follower.send_signal(signal.SIGINT)
        out, err = follower.communicate(timeout=30)
        assert follower.returncode == 130, err
        assert "detached" in err and "the run goes on" in err and "Traceback" not in err
        assert trainer.poll() is None  # still training: following only reads
    finally:
        trainer.stdin.close()
        trainer.wait(timeout=30)
        follower.kill()
