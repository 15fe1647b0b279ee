"""Trainer callbacks: Trainer logs become events, and the stop flag becomes a graceful stop."""
from __future__ import annotations

import math
import threading
import time
from pathlib import Path

from transformers import TrainerCallback

from fttui.atomic import follow_umask, fsync_tree, write_text
from fttui.config.schema import PREFERENCE_METRICS
from fttui.engine.training.distributed import agree
from fttui.engine.training.metrics import OverfitWatch
from fttui.engine.sink import Sink
from fttui.events import CheckpointSaved, Evaluated, Logged, StepLogged, model_metrics
from fttui.runner.checkpoints import CONFIG_COPY


def _finite(value):
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def train_rewards(logs: dict) -> dict[str, float]:
    """The preference metrics TRL logs at a training step (``rewards/margins``, ``rewards/accuracies``), finite ones
    only; the same names as evaluation reports, so the Train screen plots both."""
    return {key: float(value) for key, value in logs.items()
            if key in PREFERENCE_METRICS and key.startswith("rewards/") and _finite(value) is not None}


class EventCallback(TrainerCallback):
    """Turns ``on_log``/``on_evaluate``/``on_save`` into StepLogged/Evaluated/CheckpointSaved events."""

    def __init__(self, sink: Sink, samples_per_step: float, overfitting_patience: int = 3, sampler=None):
        self.sink = sink
        self.watch = OverfitWatch(overfitting_patience)
        self.sampler = sampler  # callable(model) -> list of {prompt, output}, for causal LM evaluations
        self.details: dict = {}  # filled by compute_metrics before each on_evaluate
        self.baseline = False
        self.samples_per_step = samples_per_step
        self.started = time.monotonic()
        self.last_time = self.started
        self.last_step = self.first_step = 0
        self.nonfinite_loss = False
        self.last_eval: Evaluated | None = None
        # Evaluation (with its sample generations) and checkpointing inside trainer.train(), timed apart so
        # the time and speed of training count training steps only.
        self.eval_seconds = self.save_seconds = 0.0
        self.training = False
        self.after_step: float | None = None  # when the work that follows a step (log, eval, save) began
        self.overhead_at_log = 0.0  # eval + save seconds when the last step was logged

    def on_train_begin(self, args, state, control, **kwargs):
        self.started = self.last_time = time.monotonic()
        self.last_step = self.first_step = state.global_step
        self.training = True

    def on_train_end(self, args, state, control, **kwargs):
        self.training = False

    def on_step_end(self, args, state, control, **kwargs):
        self.after_step = time.monotonic()

    @property
    def overhead_seconds(self) -> float:
        return self.eval_seconds + self.save_seconds

    def on_log(self, args, state, control, logs=None, **kwargs):
        logs = logs or {}
        if "loss" not in logs:
            return
        now = time.monotonic()
        steps = state.global_step - self.last_step
        training_time = now - self.last_time - (self.overhead_seconds - self.overhead_at_log)
        rate = steps * self.samples_per_step / training_time if steps and training_time > 0 else None
        self.last_time, self.last_step, self.overhead_at_log = now, state.global_step, self.overhead_seconds
        elapsed = now - self.started
        done = max(state.global_step - self.first_step, 1)
        remaining = max(state.max_steps - state.global_step, 0)
        loss = logs.get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            self.nonfinite_loss = True
            control.should_training_stop = True
        self.watch.train_loss(_finite(loss))
        self.sink.emit(StepLogged(
            step=state.global_step,
            max_steps=state.max_steps,
            epoch=round(state.epoch or 0.0, 4),
            loss=_finite(loss),
            learning_rate=_finite(logs.get("learning_rate")),
            grad_norm=_finite(logs.get("grad_norm")),
            samples_per_second=rate,
            elapsed_s=round(elapsed, 3),
            eta_s=round(elapsed / done * remaining, 1),
            rewards=train_rewards(logs),
        ))

    def on_evaluate(self, args, state, control, metrics=None, model=None, **kwargs):
        causal = "eval_accuracy" not in (metrics or {})  # classification always reports accuracy
        clean = {key: _finite(value) for key, value in model_metrics(metrics, causal).items()}
        details, self.details = self.details, {}
        began = time.monotonic()
        if self.sampler is not None and model is not None:
            details["samples"] = self.sampler(model)
        if self.training and not self.baseline:
            self.eval_seconds += float((metrics or {}).get("eval_runtime") or 0.0) + time.monotonic() - began
            self.after_step = time.monotonic()
        self.last_eval = Evaluated(step=state.global_step, epoch=round(state.epoch or 0.0, 4), metrics=clean,
                                   baseline=self.baseline, details=details)
        self.sink.emit(self.last_eval)
        warning = None if self.baseline else self.watch.eval_loss(clean.get("loss"))
        if warning:
            self.sink.emit(Logged(warning, "warning", topic="overfitting"))

    def on_save(self, args, state, control, **kwargs):
        path = Path(args.output_dir) / f"checkpoint-{state.global_step}"
        if path.is_dir():  # the run's config beside the state, modes by the umask, all on disk before it counts
            config = Path(args.output_dir).parent / "config.yaml"
            if state.is_world_process_zero and config.is_file():
                write_text(path / CONFIG_COPY, config.read_text(encoding="utf-8"))
            follow_umask(path)
            fsync_tree(path)
        if self.training and self.after_step is not None:  # the Trainer saved since the step (or its eval) ended
            self.save_seconds += time.monotonic() - self.after_step
            self.after_step = None
        self.sink.emit(CheckpointSaved(step=state.global_step, path=str(path)))


class StopCallback(TrainerCallback):
    """Checks the stop flag (set by SIGINT or Stop) after every step: save a checkpoint, then stop.

    With several ranks the flag is all-reduced at each step boundary, so every rank stops at the same
    step even when only some of them were signalled (DDP would otherwise wait forever for the others).
    """

    def __init__(self, stop: threading.Event):
        self.stop = stop
        self.stopped_at: int | None = None

    def on_step_end(self, args, state, control, **kwargs):
        if agree(self.stop.is_set(), args.device):
            control.should_save = True
            control.should_training_stop = True
            self.stopped_at = state.global_step
        return control
