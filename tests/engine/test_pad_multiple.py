"""Every training batch is padded to a multiple of 8 tokens (``planning.pad_multiple``), for classification and for
SFT alike, and the engine's recorded estimate is of that padded length.

Dynamic padding alone gave each batch a new length, and over a CPU run glibc's heap fragmented around the sizes:
60 steps of 6-23 tokens held 357 MB where padded batches held 178 MB (README, "Every run is a calibration point").
"""
from __future__ import annotations

import json

from fttui.config import validate_config
from fttui.planning import padded_length


def _lengths_seen(monkeypatch, config, run_dir) -> set[int]:
    from fttui.engine.sink import ListSink
    from fttui.engine.training import recipe

    original, seen = recipe.apply_method, set()

    def hooked(model, *args, **kwargs):
        model = original(model, *args, **kwargs)
        model.register_forward_pre_hook(lambda module, a, kw: seen.add(kw["input_ids"].shape[1]) if module.training
                                        else None, with_kwargs=True)
        return model

    monkeypatch.setattr(recipe, "apply_method", hooked)
    assert recipe.run(config, run_dir, ListSink()).status == "completed"
    return seen


def _config(model, task, train, run_dir, max_length):
    return validate_config({
        "model": {"name": model, "task": task}, "data": {"train": train, "eval": None}, "method": {"name": "lora"},
        "training": {"max_steps": 4, "batch_size": 4, "max_length": max_length, "precision": "fp32", "seed": 3,
                     "fit_check": False, "compile": "off", "save_steps": 100,
                     "packing": False},  # packed sequences are already about max_length long
        "output": {"dir": str(run_dir)},
    })


def test_classification_batches_pad_to_eights_and_the_estimate_counts_it(monkeypatch, tmp_path, tiny_bert,
                                                                         sentiment_file):
    run_dir = tmp_path / "run"
    seen = _lengths_seen(monkeypatch, _config(tiny_bert, "seq-cls", sentiment_file, run_dir, 32), run_dir)
    assert seen and all(length % 8 == 0 for length in seen), seen
    summary = json.loads((run_dir / "summary.json").read_text())
    assert max(seen) == padded_length(summary["estimate_seq_len"], 32)  # the longest row, as the estimate pads it
    assert summary["estimate_padded_len"] == max(seen) and summary["estimate_padded_len"] % 8 == 0
    assert summary["memory_estimate_mb"] > 0


def test_sft_batches_pad_to_eights_but_never_past_a_max_length_that_is_no_multiple(monkeypatch, tmp_path, tiny_llama,
                                                                                    alpaca_file):
    padded = _lengths_seen(monkeypatch, _config(tiny_llama, "causal-lm", alpaca_file, tmp_path / "a", 64),
                           tmp_path / "a")
    assert padded and all(length % 8 == 0 for length in padded), padded
    kept = _lengths_seen(monkeypatch, _config(tiny_llama, "causal-lm", alpaca_file, tmp_path / "b", 63),
                         tmp_path / "b")
    assert kept and max(kept) <= 63 and any(length % 8 for length in kept), kept
