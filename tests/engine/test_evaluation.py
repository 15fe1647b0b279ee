"""Evaluation by default: metrics on known predictions, baseline, early stopping, overfitting, fttui eval."""
from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
from safetensors.torch import load_file

from fttui.config import validate_config
from fttui.engine.training import trainer_setup
from fttui.engine.training.callbacks import EventCallback
from fttui.engine.trained.evaluate import evaluate_run
from fttui.engine.training.metrics import OverfitWatch, classification_report
from fttui.engine.training.recipe import run
from fttui.engine.sink import ListSink
from fttui.errors import DataError
from fttui.events import Evaluated, Logged, StepLogged
from fttui.runner.run_dir import create_run_dir



def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return str(path)


def test_classification_report_matches_hand_computed_scores():
    # true:  a b b b c c      confusion (rows true, cols predicted): a [1 0 0], b [1 2 0], c [1 0 1]
    # pred:  a a b b c a
    scalars, details = classification_report([0, 0, 1, 1, 2, 0], [0, 1, 1, 1, 2, 2], ["a", "b", "c"])
    assert details["confusion_matrix"] == [[1, 0, 0], [1, 2, 0], [1, 0, 1]]
    assert scalars["accuracy"] == pytest.approx(4 / 6)
    # precision a 1/3, b 1, c 1; recall a 1, b 2/3, c 1/2; F1 a 0.5, b 0.8, c 2/3
    assert scalars["precision_macro"] == pytest.approx((1 / 3 + 1 + 1) / 3)
    assert scalars["recall_macro"] == pytest.approx((1 + 2 / 3 + 1 / 2) / 3)
    assert (scalars["f1_a"], scalars["f1_b"], scalars["f1_c"]) == pytest.approx((0.5, 0.8, 2 / 3))
    assert scalars["f1_macro"] == pytest.approx((0.5 + 0.8 + 2 / 3) / 3)


def test_a_class_missing_from_the_eval_set_does_not_lower_macro_scores():
    scalars, _ = classification_report([0, 1, 0, 1], [0, 1, 0, 1], ["a", "b", "never-seen"])
    assert scalars["f1_macro"] == 1.0 and scalars["recall_macro"] == 1.0


def _feed(watch: OverfitWatch, train: list[float], evals: list[float]) -> list[int]:
    """One train loss then one eval per evaluation; returns the evaluations that warned (1-based)."""
    return [i for i, (t, e) in enumerate(zip(train, evals), 1) if watch.train_loss(t) or watch.eval_loss(e)]


def test_overfitting_warns_once_when_eval_rises_while_train_falls():
    watch = OverfitWatch(patience=3)
    warned = _feed(watch, [1.0, 0.8, 0.6, 0.4, 0.3, 0.2, 0.1], [1.0, 0.9, 1.0, 1.1, 1.2, 1.3, 1.4])
    assert warned == [5]  # 0.9 -> 1.0 -> 1.1 -> 1.2 is the first run of three rises


def test_no_overfitting_warning_when_both_curves_rise_or_eval_dips():
    assert _feed(OverfitWatch(3), [1.0, 1.1, 1.2, 1.3, 1.4], [1.0, 1.1, 1.2, 1.3, 1.4]) == []
    assert _feed(OverfitWatch(3), [1.0, 0.8, 0.6, 0.4, 0.2], [1.0, 1.1, 1.0, 1.1, 1.2]) == []


def test_the_event_callback_emits_the_overfitting_warning_as_an_event():
    sink = ListSink()
    callback = EventCallback(sink, samples_per_step=4, overfitting_patience=2)
    control = SimpleNamespace(should_training_stop=False)
    for step, (train, evaluation) in enumerate(zip([0.9, 0.7, 0.5], [0.5, 0.6, 0.7]), 1):
        state = SimpleNamespace(global_step=step, max_steps=3, epoch=step)
        callback.on_log(None, state, control, logs={"loss": train})
        callback.on_evaluate(None, state, control, metrics={"eval_loss": evaluation})
    warnings = [e for e in sink.events if isinstance(e, Logged) and e.topic == "overfitting"]
    assert len(warnings) == 1 and "0.5000 -> 0.7000" in warnings[0].message


def _config(model, train, run_dir, eval_=None, task="seq-cls", **training):
    return validate_config({
        "model": {"name": model, "task": task},
        "data": {"train": train, "eval": eval_},
        "method": {"name": "lora"},
        "training": {"batch_size": 8, "learning_rate": 1e-2, "logging_steps": 1, "precision": "fp32", "seed": 5,
                     **training},
        "output": {"dir": str(run_dir)},
    })


def test_classification_run_records_baseline_and_full_report(tmp_path, tiny_bert, sentiment_file):
    sink = ListSink()
    outcome = run(_config(tiny_bert, sentiment_file, tmp_path, eval_=0.25, max_steps=6), tmp_path, sink)
    evaluations = [e for e in sink.events if isinstance(e, Evaluated)]
    assert evaluations[0].baseline and evaluations[0].step == 0
    assert not any(e.baseline for e in evaluations[1:])
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary == outcome.summary
    for key in ("accuracy", "f1_macro", "precision_macro", "recall_macro", "f1_pos", "f1_neg", "loss"):
        assert isinstance(summary[f"baseline_eval_{key}"], float) and isinstance(summary[f"eval_{key}"], float)
    assert summary["baseline_eval_accuracy"] == evaluations[0].metrics["accuracy"]
    matrix = summary["eval_details"]["confusion_matrix"]
    assert np.sum(matrix) == 12  # a quarter of the 48 rows is held out
    card = (tmp_path / "README.md").read_text()
    shown = lambda key: f"{summary[key]:.4f}"  # noqa: E731
    assert f"| accuracy | {shown('baseline_eval_accuracy')} | {shown('eval_accuracy')} |" in card
    assert "Confusion matrix" in card


def test_the_baseline_evaluation_does_not_change_how_the_model_trains(tmp_path, tiny_bert, sentiment_file):
    def losses(baseline: bool):
        sink, folder = ListSink(), tmp_path / str(baseline)
        folder.mkdir()
        run(_config(tiny_bert, sentiment_file, folder, eval_=0.25, max_steps=5, baseline_eval=baseline,
                    learning_rate=5e-2), folder, sink)
        return [e.loss for e in sink.events if isinstance(e, StepLogged)]

    with_baseline, without = losses(True), losses(False)
    assert len(with_baseline) == 5 and with_baseline == without


def test_causal_lm_baseline_perplexity_and_the_same_sample_prompts_at_every_eval(tmp_path, tiny_llama, alpaca_file):
    sink = ListSink()
    config = _config(tiny_llama, alpaca_file, tmp_path, eval_=0.25, task="causal-lm", max_steps=4, eval_steps=2,
                     sample_prompts=2, max_new_tokens=4)
    outcome = run(config, tmp_path, sink)
    assert outcome.summary["baseline_perplexity"] > 1.0 and outcome.summary["perplexity"] > 1.0
    evaluations = [e for e in sink.events if isinstance(e, Evaluated)]
    assert len(evaluations) >= 3  # baseline, step 2, step 4
    prompts = [[s["prompt"] for s in e.details["samples"]] for e in evaluations]
    assert len(prompts[0]) == 2 and all(p == prompts[0] for p in prompts)
    assert all(isinstance(s["output"], str) for e in evaluations for s in e.details["samples"])


def test_early_stopping_stops_at_the_expected_step_and_loads_the_best_weights(tmp_path, tiny_bert, sentiment_file,
                                                                               monkeypatch):
    # A constructed accuracy curve: baseline, then evals at steps 1..: best at step 2, no gain after.
    curve = iter([0.5, 0.6, 0.9, 0.7, 0.8, 0.85, 0.8, 0.8, 0.8, 0.8])
    real = trainer_setup.classification_report

    def scripted(predictions, labels, names):
        scalars, details = real(predictions, labels, names)
        return {**scalars, "accuracy": next(curve)}, details

    monkeypatch.setattr(trainer_setup, "classification_report", scripted)
    config = _config(tiny_bert, sentiment_file, tmp_path, eval_=0.25, max_steps=10, eval_steps=1,
                     early_stopping_patience=3, best_metric="accuracy", save_total_limit=1)
    outcome = run(config, tmp_path, ListSink())
    summary = outcome.summary
    assert summary["best_step"] == 2
    assert summary["global_step"] == 5  # steps 3, 4 and 5 brought no improvement over 0.9
    assert "early stopping" in summary["stop_reason"]
    best = load_file(str(tmp_path / "checkpoints" / "checkpoint-2" / "adapter_model.safetensors"))
    final = load_file(str(tmp_path / "adapter" / "adapter_model.safetensors"))
    assert best.keys() == final.keys()
    for key in best:
        assert np.allclose(best[key].numpy(), final[key].numpy()), key


def test_fttui_eval_scores_a_saved_run_on_another_file(tmp_path, tiny_bert, sentiment_file):
    config = _config(tiny_bert, sentiment_file, tmp_path / "run", max_steps=8)
    run_dir, lock = create_run_dir(config)
    run(config, run_dir, ListSink())
    lock.release()  # as the supervisor does when its worker ends
    other = write_jsonl(tmp_path / "held_out.jsonl", [{"text": f"it was {w}", "label": lab}
                                                       for w, lab in [("great", "pos"), ("awful", "neg")] * 5])
    result = evaluate_run(run_dir, other)
    assert result["rows"] == 10
    for part in ("baseline", "tuned"):
        metrics = result[part]["metrics"]
        assert 0.0 <= metrics["accuracy"] <= 1.0 and "f1_macro" in metrics and "loss" in metrics
        assert np.sum(result[part]["details"]["confusion_matrix"]) == 10
    assert result["tuned"]["metrics"] != result["baseline"]["metrics"]
    saved = json.loads(open(result["saved_to"]).read())
    assert saved["tuned"]["metrics"] == result["tuned"]["metrics"]


def test_fttui_eval_rejects_labels_the_model_never_saw(tmp_path, tiny_bert, sentiment_file):
    config = _config(tiny_bert, sentiment_file, tmp_path / "run", max_steps=2)
    run_dir, lock = create_run_dir(config)
    run(config, run_dir, ListSink())
    lock.release()  # as the supervisor does when its worker ends
    other = write_jsonl(tmp_path / "odd.jsonl", [{"text": "meh", "label": "neutral"}, {"text": "ok", "label": "pos"}])
    with pytest.raises(DataError, match="neutral"):
        evaluate_run(run_dir, other, save=False)
    assert not (run_dir / "evals").exists()
