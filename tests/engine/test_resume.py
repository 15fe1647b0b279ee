"""An interrupted and resumed run ends exactly where an uninterrupted one does (CPU, fixed seed)."""
from __future__ import annotations

import json

import pytest

from fttui.config import validate_config
from fttui.engine.training.recipe import run
from fttui.engine.sink import ListSink
from fttui.errors import ConfigError
from fttui.events import Started, StepLogged


def _config(model, train, run_dir, **training):
    return validate_config({
        "model": {"name": model, "task": "seq-cls"},
        "data": {"train": train, "eval": None},
        "method": {"name": "lora", "lora_dropout": 0.1},
        "training": {"max_steps": 12, "batch_size": 4, "learning_rate": 1e-2, "logging_steps": 1,
                     "save_steps": 100, "precision": "fp32", "seed": 3, **training},
        "output": {"dir": str(run_dir)},
    })


def _losses(events):
    return {e.step: e.loss for e in events if isinstance(e, StepLogged)}


def test_interrupted_then_resumed_matches_uninterrupted(tmp_path, tiny_bert, sentiment_file, stop_after):
    straight_dir, split_dir = tmp_path / "straight", tmp_path / "split"
    straight_dir.mkdir(), split_dir.mkdir()
    straight = ListSink()
    run(_config(tiny_bert, sentiment_file, straight_dir), straight_dir, straight)

    first, stop = stop_after(5)
    outcome = run(_config(tiny_bert, sentiment_file, split_dir), split_dir, first, stop)
    assert outcome.status == "stopped"
    stopped_at = outcome.summary["global_step"]
    assert 5 <= stopped_at < 12
    assert (split_dir / "checkpoints" / f"checkpoint-{stopped_at}").is_dir()

    second = ListSink()
    resumed = run(_config(tiny_bert, sentiment_file, split_dir), split_dir, second, resume=True)
    assert resumed.status == "completed"
    assert next(e for e in second.events if isinstance(e, Started)).resumed_from_step == stopped_at
    expected, got = _losses(straight.events), {**_losses(first.events), **_losses(second.events)}
    assert sorted(got) == sorted(expected) and max(got) == 12
    assert got[12] == pytest.approx(expected[12], abs=1e-4)
    summary = json.loads((split_dir / "summary.json").read_text())
    assert summary["global_step"] == 12 and summary["status"] == "completed"


def test_continue_a_finished_run_for_more_epochs(tmp_path, tiny_bert, sentiment_file):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    run(_config(tiny_bert, sentiment_file, run_dir, max_steps=None, epochs=1), run_dir, ListSink())
    one_epoch = json.loads((run_dir / "summary.json").read_text())["global_step"]
    sink = ListSink()
    outcome = run(_config(tiny_bert, sentiment_file, run_dir, max_steps=None, epochs=2), run_dir, sink, resume=True)
    assert outcome.status == "completed"
    assert outcome.summary["global_step"] == 2 * one_epoch
    assert min(_losses(sink.events)) > one_epoch  # only the new steps were trained


def test_resume_without_checkpoint_is_a_clear_error(tmp_path, tiny_bert, sentiment_file):
    run_dir = tmp_path / "empty"
    run_dir.mkdir()
    with pytest.raises(ConfigError, match="no checkpoint to resume from"):
        run(_config(tiny_bert, sentiment_file, run_dir), run_dir, ListSink(), resume=True)
