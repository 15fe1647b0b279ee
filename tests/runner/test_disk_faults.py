"""A full disk and a read-only folder, for real: a small tmpfs that fills up, a read-only bind mount.

Tests run as root, where chmod 0555 stops no write, so the read-only folder is ``mount -o remount,ro,bind``;
both need mount rights and are skipped without them. Each case goes through the real CLI and asserts the
documented exit code, a message that names the place (and the space left), no traceback, a ``failed`` event
with ``--json``, and what survives (the last intact checkpoint; no half-made run folder).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from fttui.runner.checkpoints import last_intact_checkpoint

ROWS = [{"text": t, "label": l} for t, l in
        [("good fun", "a"), ("bad day", "b"), ("great film", "a"), ("awful plot", "b")]] * 4


def _mount(*args: str) -> bool:
    return subprocess.run(["mount", *args], capture_output=True).returncode == 0


@pytest.fixture
def small_disk(tmp_path):
    """``small_disk(size)`` -> a folder on a fresh tmpfs of that size (e.g. "8m")."""
    mounted = []

    def make(size: str) -> Path:
        place = tmp_path / f"disk{len(mounted)}"
        place.mkdir()
        if not _mount("-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(place)):
            pytest.skip("cannot mount a tmpfs here (needs root)")
        mounted.append(place)
        return place

    yield make
    for place in mounted:
        subprocess.run(["umount", "-l", str(place)], capture_output=True)


@pytest.fixture
def read_only(tmp_path):
    """An empty folder that refuses every write, root's included (a read-only bind mount)."""
    place = tmp_path / "read-only"
    place.mkdir()
    if not (_mount("--bind", str(place), str(place)) and _mount("-o", "remount,ro,bind", str(place))):
        subprocess.run(["umount", "-l", str(place)], capture_output=True)
        pytest.skip("cannot make a read-only bind mount here (needs root)")
    yield place
    subprocess.run(["umount", "-l", str(place)], capture_output=True)


def fill(place: Path) -> None:
    """Write until the disk says no more."""
    with open(place / "filler", "wb") as handle:
        try:
            while True:
                handle.write(b"\0" * 65536)
                handle.flush()
        except OSError:
            pass


def preset(tmp_path: Path, **training) -> Path:
    (tmp_path / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    path = tmp_path / "preset.yaml"
    path.write_text(yaml.safe_dump({
        "model": {"name": "builtin", "task": "seq-cls"}, "data": {"train": "train.jsonl", "eval": None},
        "training": {"max_steps": 1, "batch_size": 2, "max_length": 16, **training}}))
    return path


def fttui(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", NO_COLOR="1")
    return subprocess.run([sys.executable, "-m", "fttui", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


def failed_event(result) -> dict:
    events = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert events and events[-1]["event"] == "failed", result.stdout
    return events[-1]


def clean(result, code: int, *needles: str) -> None:
    context = f"exit {result.returncode}\nstdout:\n{result.stdout[-2000:]}\nstderr:\n{result.stderr[-4000:]}"
    assert result.returncode == code, context
    assert "Traceback" not in result.stderr, context
    for needle in needles:
        assert needle.lower() in result.stderr.lower(), f"{needle!r} missing\n{context}"


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> Path:
    """One short real run (the built-in model, 1 step) for export and eval to fail on."""
    where = tmp_path_factory.mktemp("finished")
    result = fttui(where, "--preset", str(preset(where)), "--output-dir", str(where / "run"))
    assert result.returncode == 0, result.stderr[-3000:]
    return where / "run"


def test_disk_full_during_a_checkpoint_keeps_the_last_one(tmp_path, small_disk):
    """An 8 MB disk holds one checkpoint of the built-in model (4.7 MB) but not two."""
    disk = small_disk("8m")
    result = fttui(tmp_path, "--preset", str(preset(tmp_path, max_steps=3, save_steps=1)),
                   "--output-dir", str(disk / "run"), "--json")
    clean(result, 4, f"error: no space left on {disk}", "MB free)", "checkpoint-1 is intact",
          f"fttui --resume {disk / 'run'}")
    event = failed_event(result)
    assert event["exit_code"] == 4 and event["message"].startswith("no space left")
    intact, skipped = last_intact_checkpoint(disk / "run")
    assert intact is not None and intact.name == "checkpoint-1"
    assert [path.name for path, _ in skipped] == ["checkpoint-2"]


def test_disk_full_at_the_start_leaves_no_folder(tmp_path, small_disk):
    disk = small_disk("256k")
    fill(disk)
    result = fttui(tmp_path, "--preset", str(preset(tmp_path)), "--output-dir", str(disk / "run"), "--json")
    clean(result, 4, f"error: no space left on {disk}", "MB free)")
    assert failed_event(result)["exit_code"] == 4
    assert not (disk / "run").exists()


def test_a_read_only_output_folder_is_a_usage_error(tmp_path, read_only):
    for target in (read_only, read_only / "run"):
        result = fttui(tmp_path, "--preset", str(preset(tmp_path)), "--output-dir", str(target), "--json")
        clean(result, 2, f"error: cannot ", f"{read_only}", "read-only file system")
        assert failed_event(result)["exit_code"] == 2
    assert list(read_only.iterdir()) == []


def test_export_to_a_read_only_folder_or_a_full_disk(tmp_path, finished_run, read_only, small_disk):
    result = fttui(tmp_path, "export", str(finished_run), "--out", str(read_only / "out"))
    clean(result, 2, f"error: cannot write {read_only}", "read-only file system")
    disk = small_disk("512k")  # the adapter is 1.4 MB
    result = fttui(tmp_path, "export", str(finished_run), "--out", str(disk / "out"), "--json")
    clean(result, 4, f"error: no space left on {disk}", "MB free)")
    assert failed_event(result)["exit_code"] == 4
    assert [p.name for p in disk.iterdir()] == []  # the half-written temporary folder is gone


def test_eval_on_deeply_nested_json(tmp_path, finished_run):
    deep = tmp_path / "deep.jsonl"
    deep.write_text('{"text": ' + "[" * 100_000 + "]" * 100_000 + ', "label": "a"}\n')
    result = fttui(tmp_path, "eval", str(finished_run), "--data", str(deep), "--no-baseline", "--json")
    clean(result, 3, f"error: {deep} line 1: JSON nested too deeply")
    assert failed_event(result)["exit_code"] == 3


def test_the_worker_reports_a_run_folder_it_cannot_write(tmp_path, read_only):
    """The worker's first write (events.jsonl) happens before its try: it still ends with a failed event."""
    config = tmp_path / "config.yaml"
    config.write_text(preset(tmp_path).read_text())
    result = subprocess.run([sys.executable, "-m", "fttui.engine.worker", "--config", str(config),
                             "--run-dir", str(read_only)], capture_output=True, text=True, timeout=120)
    event = failed_event(result)
    assert result.returncode == 2 and event["exit_code"] == 2, result.stderr[-3000:]
    assert event["message"] == f"cannot write {read_only / 'events.jsonl'}: read-only file system"
