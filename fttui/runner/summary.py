"""A run's result (``summary.json``) as one typed object: the engine writes it here and every reader reads it here.

Metrics are base -> fine-tuned pairs. On disk they keep the keys earlier runs wrote (``eval_accuracy`` beside
``baseline_eval_accuracy``, ``perplexity`` beside ``baseline_perplexity``), so old run folders read the same;
which numbers count as metrics and how perplexity follows from the loss is decided once, in ``fttui.events``.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from pathlib import Path

from fttui.atomic import write_json
from fttui.events import is_model_metric, model_metrics

SUMMARY_FILE = "summary.json"
# What a one-line result shows, in this order (preference tuning: how often the chosen reply wins, and by how much)
HEADLINE = ("accuracy", "f1_macro", "prefers_chosen", "rewards/accuracies", "rewards/margins", "loss", "perplexity")
DETAILS = "eval_details"  # the last evaluation's confusion matrix or sample generations
BASE = "baseline_"  # the base model's value of a metric, measured before training


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@dataclass(frozen=True)
class MetricPair:
    """One metric of the base model (None when it was not measured) and of the fine-tuned one."""

    tuned: float | None
    base: float | None = None

    def text(self, arrow: str = "->", spec: str = ".4f") -> str:
        tuned = format(self.tuned, spec) if _number(self.tuned) else "-"
        return f"{format(self.base, spec)} {arrow} {tuned}" if _number(self.base) else tuned


@dataclass
class RunSummary:
    """What a finished (or stopped) run did: the facts readers use as fields, every other key kept in ``extra``."""

    status: str = "completed"  # completed | stopped
    task: str | None = None  # seq-cls | causal-lm
    method: str | None = None
    model: str | None = None  # model.name as configured
    base_model: str | None = None  # as a hub id or the resolved local path
    data_format: str | None = None
    labels: list[str] | None = None
    train_rows: int | None = None
    eval_rows: int | None = None
    global_step: int = 0
    epochs_done: float = 0.0
    train_loss: float | None = None
    train_runtime_s: float | None = None  # training steps only: evaluation and checkpoints are timed apart
    eval_runtime_s: float | None = None
    save_runtime_s: float | None = None
    train_samples_per_second: float | None = None
    seconds_per_step: float | None = None
    trainable_params: int | None = None
    total_params: int | None = None
    device: str | None = None
    precision: str | None = None
    peak_memory_mb: float | None = None
    output_path: str | None = None  # RUN_DIR/adapter, or RUN_DIR/model when the base weights trained
    best_step: int | None = None
    best_metric: float | None = None
    stop_reason: str | None = None
    started_at: float | None = None
    finished_at: float | None = None
    metrics: dict[str, MetricPair] = field(default_factory=dict)  # "accuracy": base -> fine-tuned
    details: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)  # rows skipped, packing, the memory record, ...: kept as written

    # ------------------------------------------------------------------ made by the engine

    def set_metrics(self, tuned: dict, base: dict) -> None:
        """Metrics from ``evaluate()`` results (``eval_`` keys or bare names); bookkeeping dropped, perplexity added."""
        causal = self.task == "causal-lm"
        tuned, base = model_metrics(tuned, causal), model_metrics(base, causal)
        self.metrics = {name: MetricPair(tuned.get(name), base.get(name)) for name in dict.fromkeys([*base, *tuned])}

    # ------------------------------------------------------------------ on disk

    def to_dict(self) -> dict:
        """The ``summary.json`` keys (also the ``finished`` event's summary), as every fttui so far wrote them."""
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("metrics", "details", "extra")}
        out.update(self.extra)
        for name, pair in self.metrics.items():
            key = "perplexity" if name == "perplexity" else f"eval_{name}"
            if pair.base is not None:
                out[BASE + key] = pair.base
            if pair.tuned is not None:
                out[key] = pair.tuned
        if self.details:
            out[DETAILS] = self.details
        return out

    @classmethod
    def from_dict(cls, data: dict) -> RunSummary:
        """Read a summary written by any fttui: known keys to fields, metric keys to pairs, the rest to ``extra``."""
        data = dict(data)
        known = {f.name for f in fields(cls)} - {"metrics", "details", "extra"}
        summary = cls(**{key: data.pop(key) for key in list(data) if key in known})
        summary.details = data.pop(DETAILS, None) or {}
        tuned, base = {}, {}
        for key, value in list(data.items()):
            side, bare = (base, key.removeprefix(BASE)) if key.startswith(BASE) else (tuned, key)
            name = "perplexity" if bare == "perplexity" else bare.removeprefix("eval_")
            if (name == "perplexity" or bare.startswith("eval_")) and is_model_metric(bare, value):
                side[name] = data.pop(key)
        summary.metrics = {name: MetricPair(tuned.get(name), base.get(name)) for name in dict.fromkeys([*base, *tuned])}
        summary.extra = data
        return summary

    def write(self, run_dir: Path) -> None:
        write_json(Path(run_dir) / SUMMARY_FILE, self.to_dict())

    @classmethod
    def read(cls, run_dir: Path) -> RunSummary | None:
        """The run's summary, or None when it has none yet (or it is unreadable)."""
        try:
            data = json.loads((Path(run_dir) / SUMMARY_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return cls.from_dict(data) if isinstance(data, dict) else None

    # ------------------------------------------------------------------ shown

    @property
    def has_baseline(self) -> bool:
        return any(pair.base is not None for pair in self.metrics.values())

    def headline(self, names: tuple[str, ...] = HEADLINE) -> dict[str, MetricPair]:
        """The metrics a one-line result shows, in order, that this run has."""
        return {name: self.metrics[name] for name in names if _number(self.metrics.get(name, MetricPair(None)).tuned)}

    def result_text(self, arrow: str | None = "->") -> str:
        """The run's result in a few words (``accuracy 0.4167 -> 0.7917``; without ``arrow``, the fine-tuned value
        alone); its train loss when it evaluated nothing."""
        shown = self.headline()
        if shown:
            name, pair = next(iter(shown.items()))
            return f"{name} {pair.text(arrow, '.4g') if arrow else format(pair.tuned, '.4g')}"
        return f"train_loss {self.train_loss:.4g}" if _number(self.train_loss) else ""

    @property
    def output_kind(self) -> str:
        """``model`` when the run saved the whole model, else ``adapter``: the word the output is shown with."""
        return "model" if self.output_path and Path(self.output_path).name == "model" else "adapter"
