"""The protocol between the training worker and its front ends: small event dataclasses <-> JSON lines.

The worker writes one JSON object per line (stdout and ``events.jsonl``); the runner, the console
renderer and the TUI read them back with ``parse_event`` (a run folder's file through ``runner.run_folder``).
Torch-free on purpose.
"""
from __future__ import annotations

import dataclasses
import json
import math
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar


@dataclass
class Event:
    name: ClassVar[str] = "event"
    time: float = field(default_factory=time.time, kw_only=True)

    def to_dict(self) -> dict[str, Any]:
        return {"event": self.name, **dataclasses.asdict(self)}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), allow_nan=True, default=str)


@dataclass
class Planned(Event):
    """What a run will do (``--dry-run`` stops after this)."""

    name: ClassVar[str] = "plan"
    task: str
    method: str
    model: str
    data_format: str
    train_rows: int
    eval_rows: int
    truncated_rows: int
    trainable_params: int
    total_params: int
    max_steps: int
    epochs: float
    device: str
    precision: str
    labels: list[str] | None = None
    dropped_rows: int = 0  # training rows over training.max_length that were dropped (data.overlong)
    bad_rows: int = 0  # training rows that could not be read as the format, skipped (data.max_bad_rows)
    max_length: int | None = None  # tokens per example, training.max_length clamped to the model's context


@dataclass
class Previewed(Event):
    """The data as the model will see it: a few rendered examples, token lengths, truncation."""

    name: ClassVar[str] = "preview"
    data_format: str
    columns: list[str]
    text_column: str | None
    label_column: str | None
    train_rows: int
    eval_rows: int
    labels: list[str] | None
    # Each example: {"segments": [[text, trained], ...], "label": str | None, "tokens": int}
    examples: list[dict]
    length_bins: list[int]  # histogram bin edges in tokens (len = len(length_counts) + 1)
    length_counts: list[int]
    truncated_fraction: float
    max_length: int
    measured_rows: int  # rows whose length was measured (the first N of train)
    bad_rows: int = 0  # of the measured rows, those that cannot be read as the format (training skips them)
    # Causal LM with training.packing on or auto: what packing the measured rows does (planning.packing)
    packed_sequences: int | None = None
    packed_tokens_per_batch: float | None = None
    padding_unpacked: float | None = None
    padding_packed: float | None = None


@dataclass
class Started(Event):
    name: ClassVar[str] = "started"
    run_dir: str
    max_steps: int
    epochs: float
    trainable_params: int
    total_params: int
    device: str
    precision: str
    world_size: int = 1
    resumed_from_step: int = 0


@dataclass
class StepLogged(Event):
    name: ClassVar[str] = "step"
    step: int
    max_steps: int
    epoch: float
    loss: float | None
    learning_rate: float | None = None
    grad_norm: float | None = None
    samples_per_second: float | None = None
    elapsed_s: float = 0.0
    eta_s: float | None = None
    rewards: dict[str, float] = field(default_factory=dict)  # a preference run's train reward margin/accuracy


@dataclass
class Evaluated(Event):
    name: ClassVar[str] = "eval"
    step: int
    epoch: float
    metrics: dict[str, float]
    baseline: bool = False  # the base model, evaluated before training
    details: dict[str, Any] = field(default_factory=dict)  # confusion matrix, sample generations


@dataclass
class CheckpointSaved(Event):
    name: ClassVar[str] = "checkpoint"
    step: int
    path: str


@dataclass
class Logged(Event):
    """A human-readable note (data truncation, precision choice, warnings)."""

    name: ClassVar[str] = "log"
    message: str
    level: str = "info"
    topic: str | None = None  # e.g. "overfitting", so front ends can highlight it


@dataclass
class Finished(Event):
    name: ClassVar[str] = "finished"
    status: str  # "completed" | "stopped"
    summary: dict[str, Any]
    output_path: str | None = None


@dataclass
class Failed(Event):
    name: ClassVar[str] = "failed"
    kind: str
    message: str
    hint: str | None = None
    exit_code: int = 4


@dataclass
class Exported(Event):
    """An export written (``fttui export`` in a worker, for front ends that show its progress)."""

    name: ClassVar[str] = "exported"
    out: str
    kind: str  # "adapter" | "model" | "merged model" | "gguf" | "model and gguf" | "gguf adapter"
    dtype: str | None = None
    notes: list[str] = field(default_factory=list)
    gguf: dict | None = None  # what export_run reports of a GGUF file (its "gguf" or "gguf_adapter" entry)
    method: str | None = None  # the run's method, as export_run reports it


@dataclass
class Scored(Event):
    """``fttui eval``'s result from its worker: what ``evaluate_run`` returned, whole (the CLI prints it)."""

    name: ClassVar[str] = "scored"
    result: dict


@dataclass
class FitChecked(Event):
    """The measured fit check alone (worker mode ``fit``, the wizard's "Check fit"): what two steps peaked at.

    ``batch_size``, ``gradient_accumulation`` and ``gradient_checkpointing`` are what fits (``changes`` says what
    was changed to get there), for the front end to put in the draft so the run does not probe again."""

    name: ClassVar[str] = "fit"
    measured_mb: float
    estimate_mb: float | None
    changes: list[str]
    batch_size: int
    gradient_accumulation: int
    gradient_checkpointing: bool
    device: str = "cpu"


@dataclass
class TryAnswered(Event):
    """One "try it" answer: the base and the fine-tuned model on the same input, side by side.

    Causal LM: ``base``/``tuned`` are greedy continuations. Classification: they are the predicted labels
    and ``*_probability`` their softmax probabilities.
    """

    name: ClassVar[str] = "try"
    prompt: str
    base: str = ""
    tuned: str = ""
    task: str = "causal-lm"
    base_probability: float | None = None
    tuned_probability: float | None = None
    error: str | None = None


EVENT_TYPES: dict[str, type[Event]] = {
    cls.name: cls for cls in (Planned, Previewed, Started, StepLogged, Evaluated, CheckpointSaved, Logged, Finished,
                              Failed, Exported, Scored, FitChecked, TryAnswered)
}


def parse_event(line: str) -> Event | None:
    """One JSON line -> its Event; None for blank lines or lines that are not events."""
    line = line.strip()
    if not line.startswith("{"):
        return None
    try:
        data = json.loads(line)
    except json.JSONDecodeError:
        return None
    return event_from_dict(data)


def event_from_dict(data) -> Event | None:
    """A decoded JSON object -> its Event; None when it is not one (an unknown name, missing fields)."""
    if not isinstance(data, dict):
        return None
    data = dict(data)
    name = data.pop("event", None)
    cls = EVENT_TYPES.get(name) if isinstance(name, str) else None
    if cls is None:
        return None
    known = {f.name for f in dataclasses.fields(cls)}
    try:
        return cls(**{key: value for key, value in data.items() if key in known})
    except TypeError:  # a known name without its required fields: not an event we can use
        return None


# What the Trainer adds to evaluate()'s result that says how the evaluation ran, not how the model did; and
# TRL's count of tokens seen and its entropy diagnostic (they stay in train.log with the Trainer's other logs).
BOOKKEEPING_SUFFIXES = ("_runtime", "_per_second", "_preparation_time", "num_tokens", "entropy")
BOOKKEEPING_KEYS = ("epoch", "eval_epoch", "runtime")  # the names without their "eval_" prefix too
PERPLEXITY_CAP = 50  # exp(50) already says "untrained": a larger loss must not overflow to inf


def is_model_metric(key: str, value) -> bool:
    """A number about the model (loss, accuracy, ...), not about the run (runtime, epoch)."""
    return (isinstance(value, (int, float)) and not isinstance(value, bool) and key not in BOOKKEEPING_KEYS
            and not key.endswith(BOOKKEEPING_SUFFIXES))


def perplexity(loss: float) -> float:
    """A causal LM's perplexity from its mean token loss; the one place it is computed."""
    return math.exp(min(loss, PERPLEXITY_CAP))


def model_metrics(raw: dict, causal: bool) -> dict[str, float]:
    """The numbers about the model in an ``evaluate()`` result, "eval_" dropped; a causal LM's perplexity added.

    Every consumer (live eval events, the summary, ``fttui eval``) filters and derives through here, so they
    agree on what a metric is.
    """
    metrics = {key.removeprefix("eval_"): value for key, value in (raw or {}).items()
               if is_model_metric(key, value) and key.removeprefix("eval_") != "perplexity"}
    preference = any(key.startswith("rewards/") for key in metrics)  # DPO/KTO: the loss is not a token loss
    if causal and not preference and is_model_metric("loss", metrics.get("loss")) and math.isfinite(metrics["loss"]):
        metrics["perplexity"] = perplexity(metrics["loss"])
    return metrics


def sample_line(sample: dict, prompt_chars: int = 60, output_chars: int = 120) -> str:
    """A sample generation on one line: the prompt's end from a word boundary, then the output; ⏎ for newlines."""
    def flat(text: str) -> str:
        return " ⏎ ".join(part.strip() for part in str(text).strip().splitlines() if part.strip())

    prompt, output = flat(sample.get("prompt", "")), flat(sample.get("output", ""))
    if len(prompt) > prompt_chars:
        cut = prompt[-prompt_chars:]
        prompt = "…" + (cut.split(" ", 1)[1] if " " in cut else cut)
    if len(output) > output_chars:
        output = output[:output_chars].rsplit(" ", 1)[0] + "…"
    return f"{prompt} → {output}"
