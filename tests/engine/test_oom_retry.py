"""Out of memory mid-run: the run goes on from its last checkpoint with half the batch and twice the
accumulation, and ends with the same optimizer steps and the same number of examples seen (fault injected)."""
from __future__ import annotations

import json

import pytest

from fttui.config import validate_config
from fttui.engine.training.oom import halved
from fttui.errors import TrainingError


def _config(tiny_bert, sentiment_file, run_dir, **training):
    return validate_config({
        "model": {"name": tiny_bert, "task": "seq-cls"},
        "data": {"train": sentiment_file, "eval": None},
        "method": {"name": "lora"},
        "training": {"max_steps": 6, "batch_size": 8, "save_steps": 2, "logging_steps": 1, "max_length": 32,
                     "precision": "fp32", "seed": 5, "group_by_length": False, **training},
        "output": {"dir": str(run_dir)},
    })


class OutOfMemoryAbove:
    """A forward pre-hook that raises torch.OutOfMemoryError for training batches larger than ``rows``, from
    the ``after``-th training forward on; it counts the rows every successful training forward saw."""

    def __init__(self, rows: int, after: int):
        self.rows, self.after, self.forwards, self.seen = rows, after, 0, 0

    def __call__(self, module, args, kwargs):
        import torch

        if not module.training:
            return
        batch = kwargs["input_ids"].shape[0]
        self.forwards += 1
        if self.forwards >= self.after and batch > self.rows:
            raise torch.OutOfMemoryError("injected: CUDA out of memory")
        self.seen += batch


def _run_with(monkeypatch, injected, config, run_dir):
    from fttui.engine.training import recipe
    from fttui.engine.sink import ListSink

    original = recipe.apply_method

    def hooked(model, *args, **kwargs):
        model = original(model, *args, **kwargs)
        model.register_forward_pre_hook(injected, with_kwargs=True)
        return model

    monkeypatch.setattr(recipe, "apply_method", hooked)
    sink = ListSink()
    return recipe.run(config, run_dir, sink), sink


def test_the_batch_is_split_exactly():
    config = validate_config({"data": {"train": "x.jsonl"}, "training": {"batch_size": 12, "gradient_accumulation": 2}})
    assert (halved(config).training.batch_size, halved(config).training.gradient_accumulation) == (6, 4)
    odd = halved(config.model_copy(update={"training": config.training.model_copy(update={"batch_size": 9})}))
    assert (odd.training.batch_size, odd.training.gradient_accumulation) == (3, 6)
    one = config.model_copy(update={"training": config.training.model_copy(update={"batch_size": 1})})
    assert halved(one) is None


def test_an_oom_at_step_4_goes_on_from_the_checkpoint_with_the_same_steps_and_examples(
        monkeypatch, tmp_path, tiny_bert, sentiment_file):
    from fttui.events import Logged

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    injected = OutOfMemoryAbove(rows=4, after=4)  # steps 1-3 fit; step 4's batch of 8 does not
    outcome, sink = _run_with(monkeypatch, injected, _config(tiny_bert, sentiment_file, run_dir), run_dir)
    summary = json.loads((run_dir / "summary.json").read_text())
    assert outcome.status == "completed" and summary["global_step"] == 6
    assert summary["oom_retries"] == [{"at_step": 3, "resumed_from": "checkpoint-2", "batch_size": 4,
                                       "gradient_accumulation": 2}]
    # Steps 1-3 at 8 rows, then from checkpoint-2 steps 3-6 at 2 x 4 rows: 24 + 32 rows, step 3 twice.
    assert injected.seen == 3 * 8 + 4 * 2 * 4
    saved = (run_dir / "config.yaml").read_text()
    assert "batch_size: 4" in saved and "gradient_accumulation: 2" in saved
    assert any(isinstance(e, Logged) and "out of memory at step 3" in e.message for e in sink.events)


def test_past_the_retries_the_run_fails_with_what_to_change(monkeypatch, tmp_path, tiny_bert, sentiment_file):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    config = _config(tiny_bert, sentiment_file, run_dir, oom_retry=1)
    with pytest.raises(TrainingError, match="out of memory at step 0 with training.batch_size=4 after 1 retries") as caught:
        _run_with(monkeypatch, OutOfMemoryAbove(rows=2, after=1), config, run_dir)
    assert "gradient_checkpointing" in caught.value.hint


def test_the_fit_check_lands_on_the_largest_batch_that_fits_with_the_same_effective_batch(
        monkeypatch, tmp_path, tiny_bert, sentiment_file):
    from fttui.events import Logged

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    injected = OutOfMemoryAbove(rows=2, after=1)  # any training batch above 2 rows runs out of memory
    config = _config(tiny_bert, sentiment_file, run_dir, fit_check=True, batch_size=8)
    outcome, sink = _run_with(monkeypatch, injected, config, run_dir)
    summary = json.loads((run_dir / "summary.json").read_text())
    fit = summary["fit_check"]
    assert outcome.status == "completed" and summary["global_step"] == 6 and summary["oom_retries"] == []
    assert (fit["batch_size"], fit["gradient_accumulation"]) == (2, 4) and len(fit["changes"]) == 2
    assert fit["measured_mb"] > 0 and fit["estimate_mb"] > 0
    saved = (run_dir / "config.yaml").read_text()
    assert "batch_size: 2" in saved and "gradient_accumulation: 4" in saved and "fit_check: false" in saved
    line = next(e.message for e in sink.events if isinstance(e, Logged) and e.message.startswith("fit check:"))
    assert "batch 8 did not fit: batch 4 x 2 accumulation; batch 4 did not fit: batch 2 x 4" in line


def test_the_fit_check_leaves_a_run_that_fits_as_it_is(monkeypatch, tmp_path, tiny_bert, sentiment_file):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    config = _config(tiny_bert, sentiment_file, run_dir, fit_check=True)
    outcome, _ = _run_with(monkeypatch, OutOfMemoryAbove(rows=64, after=1), config, run_dir)
    fit = json.loads((run_dir / "summary.json").read_text())["fit_check"]
    assert fit["changes"] == [] and fit["batch_size"] == 8
    assert not (run_dir / "config.yaml").exists()  # nothing changed, nothing rewritten (the runner writes it)


def _on_a_small_cpu(monkeypatch, free_mb: float, mb_per_row: float) -> None:
    """The machine had ``free_mb`` free before the model was loaded; two steps measure ``mb_per_row`` a row."""
    from fttui.engine.training import calibration, fit_check

    monkeypatch.setattr(calibration, "available_mb", lambda: free_mb)
    monkeypatch.setattr(fit_check, "probe", lambda trainer, rows, device, since=None: mb_per_row * len(rows))


def test_on_a_cpu_the_fit_check_shrinks_a_batch_that_needs_more_than_was_free(monkeypatch, tmp_path, tiny_bert,
                                                                              sentiment_file):
    """A CPU raises no out-of-memory error (the kernel kills the process): over the free memory counts as one."""
    from fttui.events import Logged

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    _on_a_small_cpu(monkeypatch, free_mb=450, mb_per_row=100)  # batch 8: 800 MB; batch 4: 400 MB
    outcome, sink = _run_with(monkeypatch, OutOfMemoryAbove(rows=64, after=1), _config(
        tiny_bert, sentiment_file, run_dir, fit_check=True, batch_size=8), run_dir)
    summary = json.loads((run_dir / "summary.json").read_text())
    assert outcome.status == "completed" and summary["global_step"] == 6
    assert (summary["fit_check"]["batch_size"], summary["fit_check"]["gradient_accumulation"]) == (4, 2)
    line = next(e.message for e in sink.events if isinstance(e, Logged) and e.message.startswith("fit check:"))
    assert "batch 8 needs 800 MB (measured), over the 450 MB free: batch 4 x 2 accumulation" in line


def test_on_a_cpu_a_run_that_never_fits_stops_before_training_with_the_numbers(monkeypatch, tmp_path, tiny_bert,
                                                                               sentiment_file):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    _on_a_small_cpu(monkeypatch, free_mb=50, mb_per_row=100)  # even one row needs more than was free
    with pytest.raises(TrainingError) as failed:
        _run_with(monkeypatch, OutOfMemoryAbove(rows=64, after=1), _config(
            tiny_bert, sentiment_file, run_dir, fit_check=True, batch_size=4), run_dir)
    assert "does not fit: needs 100 MB (measured), over the 50 MB free at batch 1 with gradient checkpointing" in str(
        failed.value)
    assert not list(run_dir.glob("checkpoint-*"))  # nothing trained


def test_the_budget_counts_the_estimate_of_a_settled_run_when_it_is_larger():
    """Two steps see the heap of a run's start; the estimate is of the level a longer run settles at."""
    from types import SimpleNamespace

    from fttui.engine.training.fit_check import over_budget

    since = SimpleNamespace(available_mb=400.0)
    assert over_budget(300.0, 500.0, "cpu", since) == "needs 500 MB (estimated for the whole run), over the 400 MB free"
    assert over_budget(300.0, 350.0, "cpu", since) is None
    assert over_budget(300.0, None, "cpu", since) is None
    assert over_budget(900.0, 500.0, "cuda", since) is None  # a GPU says out of memory itself
    assert over_budget(900.0, 500.0, "cpu", SimpleNamespace(available_mb=None)) is None  # no figure: no budget
