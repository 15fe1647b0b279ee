"""A real run's checkpoints: saved to disk with the run's config and umask modes, and a damaged newest one
(``optimizer.pt`` cut in half with ``truncate``, as a kill or a full disk leaves it) is skipped on resume
with a warning naming the file, instead of failing with the library's "Expecting property name" text."""
from __future__ import annotations

import os

import yaml

from fttui.atomic import umask
from fttui.config import dump_config, validate_config
from fttui.engine.training import callbacks
from fttui.engine.training.recipe import run
from fttui.engine.sink import ListSink
from fttui.events import CheckpointSaved, Logged, Started
from fttui.runner.checkpoints import CONFIG_COPY


def _config(model, train, run_dir):
    return validate_config({
        "model": {"name": model, "task": "seq-cls"},
        "data": {"train": train, "eval": None},
        "method": {"name": "lora"},
        "training": {"max_steps": 4, "batch_size": 4, "logging_steps": 1, "save_steps": 2, "save_total_limit": 3,
                     "precision": "fp32", "seed": 3},
        "output": {"dir": str(run_dir)},
    })


def test_checkpoints_are_synced_and_a_damaged_one_is_skipped(tmp_path, tiny_bert, sentiment_file, monkeypatch):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    config = _config(tiny_bert, sentiment_file, run_dir)
    (run_dir / "config.yaml").write_text(dump_config(config))  # as the runner writes it
    synced: list[str] = []
    real_fsync_tree = getattr(callbacks, "fsync_tree", lambda path: None)

    class Recording(ListSink):
        def emit(self, event):
            if isinstance(event, CheckpointSaved):  # counts as saved only once it is on disk
                assert synced and synced[-1] == event.path, (synced, event.path)
            super().emit(event)

    monkeypatch.setattr(callbacks, "fsync_tree", lambda path: (real_fsync_tree(path), synced.append(str(path))),
                        raising=False)
    run(config, run_dir, Recording())
    checkpoints = run_dir / "checkpoints"
    assert sorted(p.name for p in checkpoints.iterdir()) == ["checkpoint-2", "checkpoint-4"]
    assert len(synced) == 2
    newest = checkpoints / "checkpoint-4"
    assert validate_config(yaml.safe_load((newest / CONFIG_COPY).read_text())) == config
    mode = os.stat(newest / "adapter_model.safetensors").st_mode & 0o777
    assert mode == 0o666 & ~umask()  # safetensors writes 0600; the run's files follow the umask

    os.truncate(newest / "optimizer.pt", (newest / "optimizer.pt").stat().st_size // 2)
    sink = ListSink()
    outcome = run(config, run_dir, sink, resume=True)
    warnings = [e.message for e in sink.events if isinstance(e, Logged) and e.level == "warning"]
    assert any(w.startswith("checkpoint-4 is damaged (optimizer.pt: truncated") and
               w.endswith("resuming from checkpoint-2") for w in warnings), warnings
    assert next(e for e in sink.events if isinstance(e, Started)).resumed_from_step == 2
    assert outcome.status == "completed" and outcome.summary["global_step"] == 4
