"""Out of memory mid-run does not lose the run: go on from the last checkpoint with half the batch.

A long batch late in an epoch can exceed memory that the first steps fit in. ``training.oom_retry`` times,
the worker frees the trainer, halves ``training.batch_size`` and doubles ``training.gradient_accumulation``
(the same examples per optimizer step, so the same steps, schedule and samples), writes that to the run's
``config.yaml`` (later checkpoints and a re-run use it) and resumes from the last intact checkpoint. Before
any checkpoint: from the start, with the trainable weights put back as they were (kept on the CPU when they
are small; a full fine-tune without a checkpoint cannot go back, and says so).
"""
from __future__ import annotations

import gc
from dataclasses import dataclass, field
from pathlib import Path

import torch

from fttui.atomic import write_text
from fttui.config import RunConfig, dump_config
from fttui.errors import TrainingError
from fttui.events import Logged
from fttui.runner.checkpoints import last_intact_checkpoint
from fttui.runner.run_folder import CONFIG_FILE

SNAPSHOT_LIMIT_BYTES = 2 * 2**30  # trainable weights up to this size are kept on the CPU to restart from


@dataclass
class Recovery:
    """What the retries changed, for the summary."""

    retries: list[dict] = field(default_factory=list)
    config: RunConfig | None = None


def halved(config: RunConfig) -> RunConfig | None:
    """The batch split in two (or, for an odd batch, by its smallest factor), accumulation multiplied to match:
    examples per optimizer step stay exactly the same. None at batch 1."""
    t = config.training
    factor = next((f for f in range(2, t.batch_size + 1) if t.batch_size % f == 0), None)
    if factor is None:
        return None
    update = {"batch_size": t.batch_size // factor, "gradient_accumulation": t.gradient_accumulation * factor}
    return config.model_copy(update={"training": t.model_copy(update=update)})


def _snapshot(model) -> dict | None:
    trainable = {name: p for name, p in model.named_parameters() if p.requires_grad}
    size = sum(p.numel() * p.element_size() for p in trainable.values())
    if size > SNAPSHOT_LIMIT_BYTES:
        return None
    return {name: p.detach().to("cpu", copy=True) for name, p in trainable.items()}


def _restore(model, snapshot: dict) -> None:
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if name in snapshot:
                parameter.copy_(snapshot[name].to(parameter.device))


def _free(trainer) -> None:
    trainer.model.zero_grad(set_to_none=True)
    trainer.optimizer = None
    trainer.lr_scheduler = None
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def train(trainer, rebuild, config: RunConfig, run_dir: Path, checkpoint: Path | None, sink, recovery: Recovery):
    """``trainer.train()``, rebuilt by ``rebuild(config)`` and resumed after each out-of-memory error."""
    snapshot = _snapshot(trainer.model) if config.training.oom_retry else None
    while True:
        try:
            return trainer, trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
        except torch.OutOfMemoryError:
            step = trainer.state.global_step
            smaller = halved(config)
            if smaller is None or len(recovery.retries) >= config.training.oom_retry:
                raise TrainingError(
                    f"out of memory at step {step} with training.batch_size={config.training.batch_size}"
                    + (f" after {len(recovery.retries)} retries with smaller batches" if recovery.retries else ""),
                    "lower training.max_length, turn on training.gradient_checkpointing, or use method.name=qlora"
                ) from None
            _free(trainer)
            checkpoint, _ = last_intact_checkpoint(run_dir)
            if checkpoint is None and step > 0:
                if snapshot is None:
                    raise TrainingError(f"out of memory at step {step}, before the first checkpoint, and the "
                                        "trained weights are too big to restart from a copy",
                                        "lower training.batch_size or training.save_steps and start again") from None
                _restore(trainer.model, snapshot)
            t = smaller.training
            sink.emit(Logged(
                f"out of memory at step {step}: going on from {checkpoint.name if checkpoint else 'the start'} with "
                f"batch {t.batch_size} x {t.gradient_accumulation} accumulation (the same examples per step)",
                "warning"))
            recovery.retries.append({"at_step": step, "resumed_from": checkpoint.name if checkpoint else None,
                                     "batch_size": t.batch_size, "gradient_accumulation": t.gradient_accumulation})
            write_text(run_dir / CONFIG_FILE, dump_config(smaller))  # later checkpoints and a re-run use it
            config = recovery.config = smaller
            del trainer
            trainer = rebuild(config)
