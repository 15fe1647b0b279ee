"""Training never depends on the UI: when the reader of the worker's stdout leaves, the run goes on."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import yaml

from fttui.engine.sink import StreamSink, TeeSink
from fttui.events import Logged
from fttui.runner.run_folder import RunFolder


def test_a_broken_stream_is_dropped_and_the_file_keeps_every_event(tmp_path):
    read_end, write_end = os.pipe()
    stdout_sink = StreamSink(os.fdopen(write_end, "w", encoding="utf-8", buffering=1), "stdout")
    file_sink = StreamSink(open(tmp_path / "events.jsonl", "a", encoding="utf-8"), "events.jsonl")
    sink = TeeSink(stdout_sink, file_sink)
    sink.emit(Logged("before the UI quits"))
    os.close(read_end)  # the UI is gone
    for n in range(3):
        sink.emit(Logged(f"after {n}"))  # no BrokenPipeError escapes
    assert stdout_sink.closed and not file_sink.closed
    messages = [event.message for event in RunFolder(tmp_path).all_events()]
    assert messages == ["before the UI quits", "after 0", "after 1", "after 2"]


def test_the_worker_finishes_when_its_stdout_reader_leaves(tmp_path, tiny_bert, sentiment_file):
    config = tmp_path / "run" / "config.yaml"
    config.parent.mkdir()
    config.write_text(yaml.safe_dump({
        "model": {"name": tiny_bert, "task": "seq-cls"},
        "data": {"train": sentiment_file, "eval": None},
        "method": {"name": "lora"},
        "training": {"max_steps": 30, "batch_size": 4, "logging_steps": 1, "save_steps": 100, "precision": "fp32"},
    }))
    proc = subprocess.Popen([sys.executable, "-m", "fttui.engine.worker", "--config", str(config),
                             "--run-dir", str(config.parent)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, text=True)
    deadline = time.monotonic() + 120
    for line in proc.stdout:  # read until training is under way, then leave like a UI that quits
        if json.loads(line)["event"] == "step":
            break
        assert time.monotonic() < deadline, "no training step within 120 s"
    proc.stdout.close()
    code = proc.wait(timeout=180)
    stderr = proc.stderr.read()
    assert code == 0, stderr
    assert "stopped writing events to stdout" in stderr and "Traceback" not in stderr
    events = RunFolder(config.parent).all_events()
    assert events[-1].name == "finished" and events[-1].status == "completed"
    assert events[-1].summary["global_step"] == 30
