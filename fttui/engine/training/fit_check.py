"""A measured fit check: two real training steps on the longest rows before the run, instead of a guess.

The estimate (planning) can be off where nobody measured; a failed first hour costs more than two steps.
``training.fit_check`` runs forward, backward and an AdamW step (learning rate 0: the weights do not move,
but the optimizer's state is allocated as training will) twice on the ``batch_size`` longest training rows,
measures the peak (the CUDA allocator's; on CPU the anonymous-memory sampler, from before the model was
loaded, so that both hold the weights), and compares it with the estimate. Out of memory (``torch.OutOfMemoryError``,
or on CPU the budget: a CPU has no such error, the kernel kills the process instead): halve the micro-batch and
double accumulation (engine.training.oom.halved: the same examples per step), then turn on gradient
checkpointing, then stop with what is needed (QLoRA, a shorter max_length).
Every change is logged, recorded in ``summary.json`` (``fit_check``) and written to ``config.yaml`` with
``training.fit_check: false``, so a re-run does not probe again.
"""
from __future__ import annotations

import gc

import torch

from fttui.atomic import write_text
from fttui.config import RunConfig, dump_config
from fttui.config.schema import PROMPT_METHODS
from fttui.engine.data.lengths import row_lengths
from fttui.engine.training.calibration import AnonymousPeak
from fttui.engine.training.oom import halved
from fttui.engine.training.trainer_setup import rng_preserved
from fttui.errors import TrainingError
from fttui.events import FitChecked, Logged
from fttui.runner.run_folder import CONFIG_FILE

NEAR_BUDGET = 0.85  # on CPU, ``auto`` checks when the estimate passes this share of the available memory
OUT_OF_MEMORY = "did not fit"  # what the probe's torch.OutOfMemoryError says in the list of changes


def wanted(config: RunConfig, device: str, estimate_mb: float | None) -> bool:
    setting = config.training.fit_check
    if setting != "auto":
        return setting
    if device == "cuda":
        return True
    import psutil

    return estimate_mb is not None and estimate_mb > NEAR_BUDGET * psutil.virtual_memory().available / 2**20


def longest_rows(dataset, count: int) -> list[dict]:
    """The ``count`` longest rows: dynamic padding makes a batch of them the peak of an epoch."""
    lengths = row_lengths(dataset)
    order = sorted(range(len(lengths)), key=lengths.__getitem__, reverse=True)[:count]
    return [dataset[i] for i in order]


def probe(trainer, rows: list[dict], device: str, since: AnonymousPeak | None = None) -> float:
    """MB at the peak of two training steps on ``rows`` (the weights do not change; random streams neither).

    On CPU, counted from ``since``'s baseline (the run's, before the model was loaded): two steps of a small
    model can live entirely in heap that earlier work freed, and would measure 0 above the memory at the start.
    """
    model = trainer.model
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=0.0, weight_decay=0.0)
    sampler = None
    if device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    else:
        sampler = AnonymousPeak(since=since).start()
    try:
        if not hasattr(trainer, "current_gradient_accumulation_steps"):  # set by train(), read by training_step
            trainer.current_gradient_accumulation_steps = 1
        with rng_preserved():
            model.train()
            for _ in range(2):
                inputs = trainer._prepare_inputs(trainer.data_collator(rows))
                trainer.training_step(model, inputs)
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
    finally:
        measured = sampler.stop() if sampler is not None else None
        del optimizer
        model.zero_grad(set_to_none=True)
        gc.collect()
        if device == "cuda":
            torch.cuda.empty_cache()
    if device == "cuda":
        return torch.cuda.max_memory_allocated() / 2**20
    return measured or 0.0


def over_budget(peak_mb: float, estimate_mb: float | None, device: str, since: AnonymousPeak | None) -> str | None:
    """On CPU, why two steps that ran still do not fit the machine; None where they fit (or on a GPU).

    The budget is the memory that was available before the model was loaded. Two steps see the heap of a run's
    start, which grows by up to half again before it levels off (bench/calibrate_cpu.py: LoRA at batch 64 measured
    556 MB after 6 steps, 802 MB after 40), and the estimate is of the settled level: the larger of the two counts.
    """
    budget = since.available_mb if since is not None and device == "cpu" else None
    if budget is None:
        return None
    need, what = max((peak_mb, "measured"), (estimate_mb or 0.0, "estimated for the whole run"))
    if need <= budget:
        return None
    return f"needs {need:,.0f} MB ({what}), over the {budget:,.0f} MB free"


def _checkpointing_on(model, config: RunConfig) -> RunConfig:
    model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    if hasattr(model, "enable_input_require_grads"):
        model.enable_input_require_grads()
    return config.model_copy(update={"training": config.training.model_copy(update={"gradient_checkpointing": True})})


def only(trainer, rebuild, config: RunConfig, run_dir, sink, device: str, estimate_of,
         since: AnonymousPeak | None = None) -> dict:
    """The check without the run (worker mode ``fit``): its record, also emitted as a FitChecked event."""
    _, config, record = check(trainer, rebuild, config, run_dir, sink, device, estimate_of, since)
    sink.emit(FitChecked(**record, gradient_checkpointing=config.training.gradient_checkpointing, device=device))
    return record


def check(trainer, rebuild, config: RunConfig, run_dir, sink, device: str, estimate_of,
          since: AnonymousPeak | None = None):
    """(trainer, config, record): the trainer that fits, the config it was built from, what was measured.

    ``estimate_of(config)``: the planner's MB for a config (None where it has none), asked again after each change.
    """
    changes: list[str] = []
    while True:
        rows = longest_rows(trainer.train_dataset, trainer.args.per_device_train_batch_size)  # packed: sequences
        estimate_mb = estimate_of(config)
        try:
            peak = probe(trainer, rows, device, since)
            short = over_budget(peak, estimate_mb, device, since)
        except torch.OutOfMemoryError:
            short = OUT_OF_MEMORY
        if short is None:
            break
        t = config.training
        smaller = halved(config)
        if smaller is not None:
            config = smaller
            changes.append(f"batch {t.batch_size} {short}: batch {config.training.batch_size} x "
                           f"{config.training.gradient_accumulation} accumulation")
        elif not t.gradient_checkpointing and config.method.name not in PROMPT_METHODS:
            config = _checkpointing_on(trainer.model, config)
            changes.append(f"batch 1 {short}: gradient checkpointing on")
        else:
            what = "out of memory" if short == OUT_OF_MEMORY else short
            estimate = f" (estimate {estimate_mb:,.0f} MB)" if estimate_mb and short == OUT_OF_MEMORY else ""
            raise TrainingError(
                f"does not fit: {what} at batch 1{' with gradient checkpointing' if t.gradient_checkpointing else ''}"
                f" on the longest rows{estimate}",
                "use method.name=qlora, or a shorter training.max_length") from None
        gc.collect()
        if device == "cuda":
            torch.cuda.empty_cache()
        trainer = rebuild(config)
    estimate = f"; estimate {estimate_mb:,.0f} MB" if estimate_mb else ""
    sink.emit(Logged(f"fit check: 2 steps on the {len(rows)} longest rows peaked at {peak:,.0f} MB{estimate}"
                     + (f" ({'; '.join(changes)})" if changes else ""), "warning" if changes else "info"))
    if changes:  # a re-run (or a resume) starts from what fits, without probing again
        config = config.model_copy(update={"training": config.training.model_copy(update={"fit_check": False})})
        write_text(run_dir / CONFIG_FILE, dump_config(config))
    record = {"measured_mb": round(peak, 1), "estimate_mb": round(estimate_mb, 1) if estimate_mb else None,
              "changes": changes, "batch_size": config.training.batch_size,
              "gradient_accumulation": config.training.gradient_accumulation}
    return trainer, config, record
