"""The worker's ``fit`` mode (the wizard's "Check fit"): the measured fit check alone, one ``fit`` event, no run."""
from __future__ import annotations

from fttui.config import validate_config
from fttui.events import FitChecked, Logged


def _config(tiny_llama, alpaca_file, tmp_path, **training):
    return validate_config({
        "model": {"name": tiny_llama, "task": "causal-lm"},
        "data": {"train": alpaca_file, "eval": None},
        "method": {"name": "lora"},
        "training": {"max_steps": 4, "batch_size": 4, "max_length": 32, "precision": "fp32", "seed": 3,
                     **training},
        "output": {"runs_dir": str(tmp_path / "runs")},
    })


def test_the_fit_worker_measures_two_steps_and_trains_nothing(tiny_llama, alpaca_file, tmp_path):
    from fttui.runner.launch import start_scratch

    supervisor = start_scratch(_config(tiny_llama, alpaca_file, tmp_path), "fit")
    events = []
    while (event := supervisor.next_event(1.0)) is not None:
        if event is not False:
            events.append(event)
    assert supervisor.wait() == 0
    fit = [e for e in events if isinstance(e, FitChecked)]
    assert len(fit) == 1, [e.to_dict() for e in events]
    assert fit[0].measured_mb > 0 and fit[0].estimate_mb > 0 and fit[0].device == "cpu"
    assert (fit[0].batch_size, fit[0].gradient_accumulation, fit[0].changes) == (4, 1, [])
    assert any(isinstance(e, Logged) and e.message.startswith("fit check: 2 steps") for e in events)
    assert not (tmp_path / "runs").exists()  # no run folder, no checkpoint: the scratch folder went with the worker
    assert supervisor.scratch_dir is not None and not supervisor.scratch_dir.exists()


def test_fit_only_reports_what_it_changed(monkeypatch, tiny_llama, alpaca_file, tmp_path):
    """Out of memory above 2 rows: the event carries the batch that fits, with the same examples per step."""
    from fttui.engine.training import recipe
    from fttui.engine.sink import ListSink

    original = recipe.apply_method

    def refuse_above_two_rows(module, args, kwargs):
        import torch

        if module.training and kwargs["input_ids"].shape[0] > 2:
            raise torch.OutOfMemoryError("injected: CUDA out of memory")

    def hooked(model, *args, **kwargs):
        model = original(model, *args, **kwargs)
        model.register_forward_pre_hook(refuse_above_two_rows, with_kwargs=True)
        return model

    monkeypatch.setattr(recipe, "apply_method", hooked)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    sink = ListSink()
    outcome = recipe.run(_config(tiny_llama, alpaca_file, tmp_path), scratch, sink, fit_only=True)
    fit = next(e for e in sink.events if isinstance(e, FitChecked))
    assert outcome.status == "checked"
    assert (fit.batch_size, fit.gradient_accumulation, len(fit.changes)) == (2, 2, 1)
    assert not any(e.name in ("started", "step") for e in sink.events)  # nothing trained, no baseline either
    assert not (scratch / "summary.json").exists()
