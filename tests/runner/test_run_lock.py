"""The run folder's claim: one trainer at a time, readers beside each other, a dead holder never blocks."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from fttui.config import validate_config
from fttui.runner.lock import LOCK_FILE, RunBusy, claim, holder
from fttui.runner.run_dir import create_run_dir


def test_a_trainer_has_the_folder_to_itself(tmp_path):
    first = claim(tmp_path, "train")
    with pytest.raises(RunBusy) as busy:
        claim(tmp_path, "resume")
    assert f"is training (pid {os.getpid()}" in busy.value.message
    with pytest.raises(RunBusy, match="is training"):
        claim(tmp_path, "export")  # an adapter being trained is not final: no export meanwhile
    assert holder(tmp_path).pid == os.getpid() and holder(tmp_path).purpose == "train"
    first.release()
    assert holder(tmp_path) is None
    claim(tmp_path, "resume").release()


def test_readers_share_and_keep_a_trainer_out(tmp_path):
    export, evaluation = claim(tmp_path, "export"), claim(tmp_path, "eval")
    with pytest.raises(RunBusy, match="being evaluated|exporting"):
        claim(tmp_path, "resume")
    assert holder(tmp_path) is None  # readers do not make a run "running"
    export.release()
    evaluation.release()
    claim(tmp_path, "resume").release()


def test_the_claim_outlives_the_process_that_took_it_while_the_worker_runs(tmp_path):
    """fttui killed, its worker training on: the worker inherited the claim, so nobody else gets in."""
    lock = claim(tmp_path, "train")
    worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], pass_fds=(lock.fd,))
    try:
        lock.set_worker(worker.pid)
        os.close(lock.fd)  # as if this process had been killed: only the worker holds the claim now
        lock.fd = -1
        with pytest.raises(RunBusy, match=f"pid {worker.pid}"):
            claim(tmp_path, "resume")
        assert holder(tmp_path).signal_pid == worker.pid
    finally:
        worker.kill()
        worker.wait()
    taken = claim(tmp_path, "resume")  # the kernel dropped the dead worker's claim: no stale lock to clear
    assert taken.note and f"pid {worker.pid}" in taken.note and "no longer running" in taken.note
    taken.release()
    assert claim(tmp_path, "resume").note is None  # a clean release leaves nothing to take over


def test_a_new_output_dir_is_claimed_once(tmp_path):
    config = validate_config({"data": {"train": "x.jsonl"}})
    out = tmp_path / "out"
    out.mkdir()  # an empty folder the user made is fine...
    path, lock = create_run_dir(config, str(out))
    assert path == out and (out / LOCK_FILE).is_file()
    with pytest.raises(RunBusy, match="already in use"):
        create_run_dir(config, str(out))  # ...once
    lock.release()
    with pytest.raises(Exception, match="not empty|already in use"):
        create_run_dir(config, str(out))


def test_a_folder_with_files_is_refused_and_left_as_it_was(tmp_path):
    config = validate_config({"data": {"train": "x.jsonl"}})
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(Exception, match="not empty"):
        create_run_dir(config, str(tmp_path))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_runs_named_alike_in_one_second_get_folders_of_their_own(tmp_path):
    config = validate_config({"data": {"train": "x.jsonl"}, "output": {"runs_dir": str(tmp_path / "runs")}})
    made = [create_run_dir(config) for _ in range(3)]
    assert len({path for path, _ in made}) == 3


def test_two_fttui_on_one_output_dir_exactly_one_trains(tmp_path, tmp_preset):
    preset = tmp_preset({"model": {"name": "builtin", "task": "seq-cls"}, "data": {"train": "t.jsonl", "eval": None},
                         "training": {"max_steps": 1, "batch_size": 2, "max_length": 16}},
                        files={"t.jsonl": [{"text": "good", "label": "a"}, {"text": "bad", "label": "b"}] * 2})
    out = tmp_path / "out"
    env = dict(os.environ, HF_HUB_OFFLINE="1", NO_COLOR="1")
    command = [sys.executable, "-m", "fttui", "--preset", str(preset), "--output-dir", str(out)]
    both = [subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(2)]
    results = [(p.wait(timeout=300), p.stderr.read()) for p in both]
    codes = sorted(code for code, _ in results)
    assert codes == [0, 2], results
    refused = next(err for code, err in results if code == 2)
    assert "already in use" in refused or "not empty" in refused
    assert "Traceback" not in refused


def test_export_and_eval_are_refused_while_a_worker_trains(tmp_path):
    (tmp_path / "config.yaml").write_text("data: {train: x.jsonl}\n")
    lock = claim(tmp_path, "train")
    try:
        for argv in (["export", str(tmp_path), "--out", str(tmp_path / "out")],
                     ["eval", str(tmp_path), "--data", str(tmp_path / "x.jsonl")]):
            result = subprocess.run([sys.executable, "-m", "fttui", *argv], capture_output=True, text=True, timeout=60)
            assert result.returncode == 2, result.stderr
            assert f"is training (pid {os.getpid()}" in result.stderr and "Traceback" not in result.stderr
    finally:
        lock.release()
    assert not (tmp_path / "out").exists()


def test_a_killed_claimant_never_blocks(tmp_path):
    """kill -9 of a process holding the claim (no worker): the next claim just works, with a note."""
    code = (f"import time; from fttui.runner.lock import claim; lock = claim({str(tmp_path)!r}, 'train'); "
            "print('held', flush=True); time.sleep(60)")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    with pytest.raises(RunBusy):
        claim(tmp_path, "resume")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 5
    while holder(tmp_path) is not None:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    taken = claim(tmp_path, "resume")
    assert f"pid {proc.pid}" in taken.note
    taken.release()
