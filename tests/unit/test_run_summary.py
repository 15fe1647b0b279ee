"""``RunSummary``: one class writes and reads summary.json; metrics are base -> tuned pairs, bookkeeping is never
a metric, perplexity is derived in one place, and a full fine-tune's output is called a model."""
from __future__ import annotations

import io
import math

from rich.console import Console

from fttui.events import Finished
from fttui.runner.console import ConsoleRenderer
from fttui.runner.summary import MetricPair, RunSummary

# What an fttui before RunSummary wrote: the Trainer's bookkeeping beside the metrics, no typed fields missing.
OLD = {
    "status": "completed", "task": "causal-lm", "method": "full", "global_step": 8, "epochs_done": 2.0,
    "train_loss": 1.9, "train_runtime_s": 3.5, "eval_runtime_s": 0.4, "eval_rows": 12,
    "eval_loss": 1.5, "baseline_eval_loss": 2.5, "eval_mean_token_accuracy": 0.6, "eval_epoch": 2.0,
    "eval_model_preparation_time": 0.01, "baseline_eval_model_preparation_time": 0.01,
    "perplexity": math.exp(1.5), "baseline_perplexity": math.exp(2.5), "output_path": "runs/x/model",
    "memory_estimate_mb": 410.0, "packing": None, "eval_details": {"samples": [{"prompt": "a", "output": "b"}]},
}


def test_an_old_summary_reads_as_pairs_and_writes_back_unchanged():
    summary = RunSummary.from_dict(OLD)
    assert summary.metrics == {"loss": MetricPair(1.5, 2.5), "mean_token_accuracy": MetricPair(0.6),
                               "perplexity": MetricPair(math.exp(1.5), math.exp(2.5))}
    assert summary.eval_rows == 12 and summary.eval_runtime_s == 0.4  # facts named eval_*, not metrics
    assert summary.extra["eval_epoch"] == 2.0 and summary.extra["memory_estimate_mb"] == 410.0
    assert summary.details["samples"][0]["output"] == "b"
    assert {key: value for key, value in summary.to_dict().items() if value is not None} == {
        key: value for key, value in OLD.items() if value is not None}
    assert summary.to_dict()["packing"] is None  # kept as written


def test_metrics_drop_bookkeeping_and_derive_perplexity_once():
    summary = RunSummary(task="causal-lm")
    summary.set_metrics({"eval_loss": 60.0, "eval_runtime": 2.0, "eval_samples_per_second": 9.0, "epoch": 1.0,
                         "eval_num_tokens": 500, "eval_entropy": 1.2, "eval_perplexity": 1.0},
                        {"loss": 3.0, "model_preparation_time": 0.1})
    assert set(summary.metrics) == {"loss", "perplexity"}
    assert summary.metrics["perplexity"] == MetricPair(math.exp(50), math.exp(3.0))  # capped, never inf
    classifier = RunSummary(task="seq-cls")
    classifier.set_metrics({"eval_loss": 0.3, "eval_accuracy": 0.9}, {})
    assert "perplexity" not in classifier.metrics and classifier.result_text() == "accuracy 0.9"
    classifier.set_metrics({"eval_loss": 0.3, "eval_accuracy": 0.9}, {"eval_accuracy": 0.5})
    assert classifier.result_text() == "accuracy 0.5 -> 0.9" and classifier.result_text(arrow=None) == "accuracy 0.9"


def test_a_full_fine_tune_is_shown_as_a_model_not_an_adapter():
    out = io.StringIO()
    summary = RunSummary.from_dict(OLD)
    ConsoleRenderer(Console(file=out, width=200)).handle(
        Finished(status="completed", summary=summary.to_dict(), output_path="runs/x/model"))
    text = out.getvalue()
    assert "  model: runs/x/model" in text and "adapter" not in text
    assert "eval_loss: 2.5000 -> 1.5000" in text and "eval_epoch" not in text
    assert RunSummary(output_path="runs/x/adapter").output_kind == "adapter"
