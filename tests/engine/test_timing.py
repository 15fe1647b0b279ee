"""Evaluation and checkpoints inside training are timed apart: speed and time per step count training only."""
from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from fttui.engine.training import callbacks
from fttui.engine.training.callbacks import EventCallback
from fttui.engine.sink import ListSink
from fttui.events import StepLogged


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_eval_and_save_time_is_kept_out_of_the_training_speed(monkeypatch, tmp_path):
    clock = Clock()
    monkeypatch.setattr(callbacks.time, "monotonic", clock)
    sink = ListSink()
    events = EventCallback(sink, samples_per_step=8)
    args = SimpleNamespace(output_dir=str(tmp_path / "checkpoints"))
    state = SimpleNamespace(global_step=0, max_steps=4, epoch=0.0, is_world_process_zero=True)
    events.on_train_begin(args, state, None)
    for step in (1, 2):  # two steps of 1 s each
        clock.now += 1.0
        state.global_step = step
        events.on_step_end(args, state, None)
    clock.now += 3.0  # the Trainer evaluates for 3 s, then calls on_evaluate with its own timing
    events.on_evaluate(args, state, None, metrics={"eval_loss": 1.0, "eval_runtime": 3.0})
    clock.now += 2.0  # the Trainer writes checkpoint-2
    events.on_save(args, state, None)
    events.on_log(args, state, SimpleNamespace(should_training_stop=False), logs={"loss": 0.5})
    assert events.eval_seconds == pytest.approx(3.0) and events.save_seconds == pytest.approx(2.0)
    logged = next(e for e in sink.events if isinstance(e, StepLogged))
    assert logged.samples_per_second == pytest.approx(16 / 2.0)  # 2 steps x 8 samples in 2 s of training


def test_a_run_reports_training_eval_and_save_time_apart(tmp_path, tiny_bert, sentiment_file):
    from fttui.config import validate_config
    from fttui.engine.training.recipe import run

    config = validate_config({
        "model": {"name": tiny_bert, "task": "seq-cls"}, "data": {"train": sentiment_file, "eval": 0.25},
        "training": {"max_steps": 4, "batch_size": 4, "eval_steps": 2, "save_steps": 2, "precision": "fp32",
                     "baseline_eval": False}})
    (tmp_path / "run").mkdir()
    summary = run(config, tmp_path / "run", ListSink()).summary
    assert summary["eval_runtime_s"] > 0 and summary["save_runtime_s"] > 0 and summary["train_runtime_s"] > 0
    assert summary["seconds_per_step"] == pytest.approx(summary["train_runtime_s"] / 4, abs=1e-4)  # 4 decimals
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["save_runtime_s"] == summary["save_runtime_s"]
