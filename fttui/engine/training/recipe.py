"""The training recipe, top to bottom: setup -> plan -> train -> evaluate -> save -> summarize."""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
import time
from pathlib import Path

from fttui.builtin_models import is_builtin
from fttui.config import RunConfig
from fttui.engine.training.artifacts import remember_format, save_trained, write_model_card
from fttui.engine.training.calibration import AnonymousPeak, memory_record
from fttui.engine.training.callbacks import EventCallback, StopCallback
from fttui.engine.data.dataset import prepare_data
from fttui.engine.training.device import choose_placement, peak_memory_mb
from fttui.engine.training.distributed import current_world, finish, full_state_dict, strategy, unwrapped
from fttui.engine.methods.layerwise import layerwise_optimizer
from fttui.engine.methods.build import apply_method, count_parameters
from fttui.planning import pad_multiple
from fttui.engine.training import compiling, fit_check, oom, orpo
from fttui.engine.data import packing
from fttui.engine.models.loading import (fit_max_length, infer_task, load_model, load_model_config, load_tokenizer,
                                 resolve_model)
from fttui.engine.training.samples import make_sampler
from fttui.engine.sink import Sink
from fttui.engine.training.trainer_setup import (build_trainer, callbacks, classification_metrics, per_device_batch,
                                        planned_steps, rng_preserved, training_arguments)
from fttui.errors import ConfigError, TrainingError
from fttui.events import Finished, Logged, Planned, Started
from fttui.runner.checkpoints import describe_skipped, last_intact_checkpoint
from fttui.runner.run_folder import RunFolder
from fttui.runner.summary import RunSummary


def _stop_reason(config: RunConfig, status: str, step: int, planned: int) -> str:
    if status == "stopped":
        return "stopped by the user (checkpoint saved)"
    if step < planned and config.training.early_stopping_patience:
        return (f"early stopping: eval {config.training.best_metric} did not improve for "
                f"{config.training.early_stopping_patience} evaluations")
    return "finished the planned steps"


@dataclass
class RunOutcome:
    status: str  # "planned" | "completed" | "stopped" | "checked" (fit_only: the fit check's record as summary)
    summary: dict = field(default_factory=dict)
    model: object = None  # the trained model, for callers in the same process (tests, "try it")
    trainer: object = None  # the Trainer, for tests that inspect what its optimizer really updates


def run(config: RunConfig, run_dir: Path | None, sink: Sink, stop: threading.Event | None = None,
        dry_run: bool = False, resume: bool = False, fit_only: bool = False) -> RunOutcome:
    """Run (or with ``dry_run`` only plan) one fine-tuning job; ``resume`` continues from the last checkpoint;
    ``fit_only`` runs the measured fit check and stops (the wizard's "Check fit"), nothing trained."""
    from transformers import set_seed

    stop = stop or threading.Event()
    started_at = time.time()
    world = current_world()  # several ranks under torchrun: all train, rank 0 reports and writes
    placement = choose_placement(config.training.device, config.training.precision)
    source = resolve_model(config.model.name, lambda line: sink.emit(Logged(line)))  # smollm2: converted once
    model_config = load_model_config(source, config)
    task = infer_task(model_config, config.model.task)
    tokenizer = load_tokenizer(source, config)
    config, clamped = fit_max_length(config, model_config, tokenizer)  # from here on, what the model can take
    if clamped:
        sink.emit(Logged(clamped, "warning"))
    data = prepare_data(config, task, tokenizer, sink.emit)  # progress lines; a cached set is not tokenized again
    for note in data.notes:
        sink.emit(Logged(note, "warning"))
    for name, counts in (("training data", data.counts), ("eval data", data.eval_counts)):
        line = counts.describe(name, config.training.max_length) if counts is not None else None
        if line:
            sink.emit(Logged(line, "warning"))
    set_seed(config.training.seed)
    memory = AnonymousPeak()  # its baseline: Python, torch and the data, before the model is loaded
    model = load_model(source, config, task, data.labels, placement, tokenizer)
    if task == "causal-lm":
        remember_format(model, tokenizer)  # saved with model/ and used by the sample generations
    model = apply_method(model, config, task, source.path)
    trainable, total = count_parameters(model)
    packed = packing.decide(config, task, model)
    train = data.train
    if packed.mode is not None:
        sink.emit(Logged(packing.describe(data.train, config), topic="data"))
        train = packing.pack_train(data.train, config)
    elif task == "causal-lm" and config.training.packing == "auto" and config.training.objective == "sft":
        sink.emit(Logged(f"not packing rows: {packed.reason}"))
    rows_per_sequence = len(data.train) / max(len(train), 1)  # packed: each sequence holds several rows
    steps = planned_steps(len(train), config, world.size, rows_per_sequence)
    sink.emit(Planned(
        task=task, method=config.method.name, model=config.model.name, data_format=data.layout.format,
        train_rows=len(data.train), eval_rows=len(data.eval) if data.eval is not None else 0,
        truncated_rows=data.truncated_rows, trainable_params=trainable, total_params=total,
        max_steps=steps, epochs=config.training.epochs, device=placement.device,
        precision=placement.precision, labels=data.labels, dropped_rows=data.counts.dropped,
        bad_rows=data.counts.bad, max_length=config.training.max_length,
    ))
    if dry_run:
        return RunOutcome("planned", model=model)
    assert run_dir is not None, "a training run needs a run directory"
    sink.emit(Logged(f"precision: {placement.reason}"))
    used = strategy(config, world)
    if used != "single":
        sink.emit(Logged(f"{world.size} processes train with {used.upper()}: each takes "
                         f"{config.training.batch_size} examples per step, {world.size * config.training.batch_size} in all"))
    elif config.training.distributed != "auto":
        sink.emit(Logged(f"training.distributed={config.training.distributed} needs several processes "
                         "(fttui --preset ... --nproc N); training in one", "warning"))
    has_eval = data.eval is not None
    # Sample generations need the whole model in one process: rank 0 of plain data parallelism only.
    samples = has_eval and world.is_main and used in ("single", "ddp")
    sampler = make_sampler(tokenizer, data.sample_prompts, config.training.max_new_tokens) if samples else None
    events = EventCallback(sink, per_device_batch(config, rows_per_sequence) * config.training.gradient_accumulation
                           * world.size * rows_per_sequence, config.training.overfitting_patience, sampler)
    stopper = StopCallback(stop)

    def make_trainer(config: RunConfig, announce: bool = False):
        args = training_arguments(config, run_dir, placement, has_eval, world, sft=task == "causal-lm",
                                  packed=packed.mode is not None, rows_per_sequence=rows_per_sequence)
        optimizer_setup, lr_note = layerwise_optimizer(model, config, args)  # None unless method.layer_lr_decay
        if lr_note and announce:
            sink.emit(Logged(lr_note))
        if announce and config.training.objective == "orpo":
            sink.emit(Logged(orpo.NOTE))  # once, in place of TRL's experimental-import warning
        made = build_trainer(task, model, args, train, data.eval, tokenizer,
                             callbacks=[events, stopper, *callbacks(config, has_eval)], optimizer_setup=optimizer_setup,
                             compute_metrics=classification_metrics(data.labels, events) if task == "seq-cls" else None,
                             packing_mode=packed.mode, objective=config.training.objective,
                             pad_to=pad_multiple(config.training.max_length, config.training.objective))
        if task == "seq-cls":
            # Classification heads average their loss per batch and ignore num_items_in_batch, although their
            # forward takes **kwargs; left to think otherwise, the Trainer (transformers 5) multiplies the loss
            # by the number of ranks and skips the division by gradient_accumulation: N x the gradient.
            made.model_accepts_loss_kwargs = False
        return made

    trainer = make_trainer(config, announce=True)

    def estimate_of(planned: RunConfig) -> float | None:  # the planner's MB for this run as planned (or changed)
        return memory_record(model, planned, task, placement.device, placement.precision,
                             min(data.longest, planned.training.max_length), 0.0, None).get("memory_estimate_mb")

    if fit_only:  # before the baseline evaluation: two steps on the longest rows, then a FitChecked event
        return RunOutcome("checked", summary=fit_check.only(trainer, make_trainer, config, run_dir, sink,
                                                            placement.device, estimate_of, memory), model=model)
    checkpoint, skipped = last_intact_checkpoint(run_dir) if resume else (None, [])
    for line in describe_skipped(skipped, checkpoint):  # cut short by a kill or a full disk: say so, use an older one
        sink.emit(Logged(line, "warning"))
    if resume and checkpoint is None:
        raise ConfigError(f"{run_dir} has no {'intact ' if skipped else ''}checkpoint to resume from",
                          "start it again with fttui --preset "
                          f"{run_dir / 'config.yaml'} (a run saves checkpoints every training.save_steps steps)")
    resumed_step = int(checkpoint.name.rsplit("-", 1)[-1]) if checkpoint else 0
    if checkpoint is not None:
        sink.emit(Logged(f"resuming from {checkpoint.name}"))
    baseline = RunFolder(run_dir).baseline() if checkpoint is not None else {}  # resumed: measured by the first worker
    if has_eval and config.training.baseline_eval and checkpoint is None:
        events.baseline = True
        with rng_preserved():
            baseline = trainer.evaluate()
        events.baseline = False
    sink.emit(Started(run_dir=str(run_dir), max_steps=steps, epochs=config.training.epochs,
                      trainable_params=trainable, total_params=total, device=placement.device,
                      precision=placement.precision, world_size=world.size, resumed_from_step=resumed_step))
    fit = None
    # resumed runs were checked (or chose) when they started
    if checkpoint is None and world.size == 1 and fit_check.wanted(config, placement.device, estimate_of(config)):
        trainer, config, fit = fit_check.check(trainer, make_trainer, config, run_dir, sink, placement.device,
                                               estimate_of, memory)
    earlier = RunSummary.read(run_dir) if checkpoint is not None else None  # a resume reuses its timings
    compiled = compiling.prepare(trainer, config.training.compile,
                                 (steps - resumed_step) * config.training.gradient_accumulation, placement.device,
                                 world.size, sink, earlier.extra.get("compile") if earlier else None)
    memory.start()
    recovery = oom.Recovery()
    try:  # out of memory mid-run: half the batch, twice the accumulation, from the last checkpoint
        trainer, result = oom.train(trainer, make_trainer, config, run_dir, checkpoint, sink, recovery)
    finally:
        training_mb = memory.stop()
    config = recovery.config or config
    if events.nonfinite_loss:
        raise TrainingError("the loss became NaN or infinite",
                            "lower training.learning_rate, or use training.precision=fp32")
    status = "stopped" if stopper.stopped_at is not None else "completed"
    metrics = {}
    best_step = trainer.state.best_global_step
    if has_eval and status == "completed":
        last = events.last_eval
        reusable = last is not None and not last.baseline and last.step == trainer.state.global_step
        if reusable and (best_step is None or best_step == last.step):  # the final eval is of this model: reuse it
            metrics = {f"eval_{key}": value for key, value in last.metrics.items()}
        else:
            metrics = trainer.evaluate()
    state_dict = full_state_dict(trainer)  # FSDP/DeepSpeed: gathered from every rank's shard
    if not world.is_main:  # its share is trained; rank 0 saves, summarises and reports for all
        logging.getLogger("fttui").info("trained %s steps on rank %s of %s (%s)", trainer.state.global_step,
                                        world.rank, world.size, status)
        finish()
        return RunOutcome(status)
    wall, speed = result.metrics.get("train_runtime"), result.metrics.get("train_samples_per_second")
    if speed:
        speed *= rows_per_sequence  # rows per second, packed or not (the Trainer counts sequences)
    runtime = max(wall - events.overhead_seconds, 1e-9) if wall else wall
    output = save_trained(unwrapped(trainer), tokenizer, run_dir, config.method.name, data.labels, state_dict,
                          base_model=source.reference, base_model_path=source.path)
    steps_run = trainer.state.global_step - resumed_step
    summary = RunSummary(
        status=status, task=task, method=config.method.name, model=config.model.name,
        base_model=source.reference if not source.is_local or is_builtin(source.reference) else source.path,
        data_format=data.layout.format, labels=data.labels,
        train_rows=len(data.train), eval_rows=len(data.eval) if data.eval is not None else 0,
        global_step=trainer.state.global_step, epochs_done=round(trainer.state.epoch or 0.0, 4),
        train_loss=result.training_loss,
        train_runtime_s=runtime,  # training steps only: evaluation and checkpoints are timed apart
        eval_runtime_s=round(events.eval_seconds, 3), save_runtime_s=round(events.save_seconds, 3),
        train_samples_per_second=speed * wall / runtime if speed and runtime else speed,
        seconds_per_step=round(runtime / steps_run, 4) if runtime and steps_run > 0 else None,
        trainable_params=trainable, total_params=total, device=placement.device, precision=placement.precision,
        peak_memory_mb=round(peak_memory_mb(placement.device), 1), output_path=str(output),
        best_step=best_step, best_metric=trainer.state.best_metric if best_step is not None else None,
        stop_reason=_stop_reason(config, status, trainer.state.global_step, steps),
        started_at=started_at, finished_at=time.time(),
        details=events.last_eval.details if events.last_eval is not None else {},
    )
    summary.set_metrics(metrics, baseline)
    summary.extra.update({
        "truncated_rows": data.truncated_rows, "dropped_rows": data.counts.dropped, "bad_rows": data.counts.bad,
        "packing": packed.mode,  # None, or how packed rows were kept apart (engine.data.packing)
        "packed_sequences": len(train) if packed.mode else None,
        "world_size": world.size, "distributed": used, "batch_size": config.training.batch_size,
        "gradient_accumulation": config.training.gradient_accumulation,
        "fit_check": fit,  # what the measured fit check found and changed (engine.training.fit_check), or None
        "oom_retries": recovery.retries,  # each out-of-memory recovery: at which step, from where, the new batch
        "compile": compiled,  # compiled or eager, why, and the step timings it was decided on
        "started_from": source.started_from,  # model.name was a finished run: which, and what it saved
    })
    summary.extra.update(memory_record(unwrapped(trainer), config, task, placement.device, placement.precision,
                                       min(data.longest, config.training.max_length),
                                       summary.peak_memory_mb, training_mb))
    summary.write(run_dir)
    write_model_card(run_dir, config, summary, output)
    sink.emit(Finished(status=status, summary=summary.to_dict(), output_path=str(output)))
    finish()
    return RunOutcome(status, summary.to_dict(), unwrapped(trainer), trainer)
