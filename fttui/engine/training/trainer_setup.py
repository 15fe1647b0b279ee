"""Build the Trainer's arguments, metrics and callbacks from a RunConfig."""
from __future__ import annotations

import contextlib
import importlib.util
import math
from pathlib import Path

import numpy as np

from fttui.config import RunConfig, effective_learning_rate
from fttui.engine.training.metrics import classification_report
from fttui.errors import ConfigError

TRACKER_MODULES = {"tensorboard": ("tensorboard", "tensorboardX"), "wandb": ("wandb",), "mlflow": ("mlflow",)}


def per_device_batch(config: RunConfig, rows_per_sequence: float = 1.0) -> int:
    """Sequences per device per step: training.batch_size rows, packed or not (planning.packing)."""
    from fttui.planning.packing import sequences_per_step

    return sequences_per_step(config.training.batch_size, rows_per_sequence)


def planned_steps(train_rows: int, config: RunConfig, world_size: int = 1, rows_per_sequence: float = 1.0) -> int:
    """Optimizer steps the Trainer will take (same rounding as ``Trainer.set_initial_training_values``);
    ``train_rows`` are the sequences it trains on (packed ones, with their ``rows_per_sequence``)."""
    t = config.training
    if t.max_steps:
        return t.max_steps
    batches = math.ceil(train_rows / (per_device_batch(config, rows_per_sequence) * world_size))
    per_epoch = max(math.ceil(batches / t.gradient_accumulation), 1)
    return math.ceil(t.epochs * per_epoch)


def check_trackers(names: list[str]) -> None:
    missing = [n for n in names if not any(importlib.util.find_spec(m) for m in TRACKER_MODULES[n])]
    if missing:
        raise ConfigError(f"training.report_to: {', '.join(missing)} is not installed",
                          f"pip install {' '.join(missing)}, or remove it from training.report_to")


def training_arguments(config: RunConfig, run_dir: Path, placement, has_eval: bool, world=None, sft: bool = False,
                       packed: bool = False, rows_per_sequence: float = 1.0):
    """``world`` (engine.training.distributed.World) adds the FSDP or DeepSpeed arguments when several ranks train.

    ``sft`` gives TRL's SFTConfig (causal LM) instead of plain TrainingArguments (classification); ``packed``
    rows (engine.data.packing) are all about as long, so they are not grouped by length.
    """
    from transformers import TrainingArguments

    from fttui.engine.training.distributed import World, strategy_arguments

    t = config.training
    check_trackers(t.report_to)
    eval_strategy = "no" if not has_eval else ("steps" if t.eval_steps else "epoch")
    early = bool(t.early_stopping_patience) and has_eval
    arguments = dict(
        output_dir=str(run_dir / "checkpoints"),
        per_device_train_batch_size=per_device_batch(config, rows_per_sequence),
        per_device_eval_batch_size=t.eval_batch_size or t.batch_size * 2,  # eval rows are never packed
        gradient_accumulation_steps=t.gradient_accumulation,
        learning_rate=effective_learning_rate(config),
        num_train_epochs=t.epochs,
        max_steps=t.max_steps or -1,
        warmup_steps=t.warmup_ratio,
        lr_scheduler_type=t.scheduler,
        weight_decay=t.weight_decay,
        max_grad_norm=t.max_grad_norm,
        bf16=placement.precision == "bf16",
        fp16=placement.precision == "fp16",
        use_cpu=placement.device == "cpu",
        seed=t.seed,
        logging_steps=t.logging_steps,
        logging_first_step=True,
        eval_strategy=eval_strategy,
        eval_steps=t.eval_steps,
        # Early stopping keeps the best checkpoint, so checkpoints must line up with evaluations.
        save_strategy=eval_strategy if early else "steps",
        save_steps=t.eval_steps if early and t.eval_steps else t.save_steps,
        save_total_limit=t.save_total_limit,
        load_best_model_at_end=early,
        metric_for_best_model=f"eval_{t.best_metric}" if early else None,
        greater_is_better=(t.best_metric != "loss") if early else None,
        report_to=list(t.report_to) or "none",
        run_name=run_dir.name,
        disable_tqdm=True,
        dataloader_num_workers=0,
        remove_unused_columns=False,
        label_names=["labels"],
        # Rows of 2 to 60 tokens in one batch pad to 60: batches of similar lengths compute less (in a shuffled
        # order: engine.training.length_batches).
        train_sampling_strategy="group_by_length" if t.group_by_length and not packed else "random",
        **strategy_arguments(config, world or World(), placement.device),
    )
    if config.training.objective != "sft":
        from fttui.engine.training.preference import config_class, preference_arguments

        # Preference rows have no input_ids column to group by, nor labels: TRL's collators build both.
        arguments.update(train_sampling_strategy="random", label_names=[])
        return config_class(config.training.objective)(**{**arguments, **preference_arguments(config)})
    if not sft:
        return TrainingArguments(**arguments)
    from trl import SFTConfig

    # fttui tokenizes, masks, truncates and packs every row itself (engine.data.chat, engine.data.dataset,
    # engine.data.packing), so TRL must not prepare the data again: no re-tokenizing, no keep_start truncation, no
    # silent dropping of rows, no shuffling before the sampler. Its other defaults that differ from TrainingArguments are pinned too
    # (gradient checkpointing is applied by engine.methods.build, on the model, when training.gradient_checkpointing).
    return SFTConfig(
        **arguments,
        dataset_kwargs={"skip_prepare_dataset": True},
        max_length=t.max_length,
        packing=False,
        padding_free=False,
        shuffle_dataset=False,
        assistant_only_loss=False,
        completion_only_loss=None,
        activation_checkpointing=False,  # else TRL's gradient_checkpointing=True default turns it on
        loss_type="nll",
    )


def data_collator(task: str, tokenizer, packing_mode: str | None = None, pad_to: int | None = None):
    """Pads each batch to its longest row, rounded up to ``pad_to`` (``planning.pad_multiple``); causal-LM labels
    are padded with -100 so padding carries no loss.

    Causal LM uses TRL's collator, which takes the ``labels`` column as it is (the installed TRL builds
    labels from ``assistant_masks``/``completion_mask`` only while preparing a dataset, which fttui skips);
    packed rows get engine.data.packing's collator (position ids, no attention mask).
    """
    from transformers import DataCollatorWithPadding

    if task == "seq-cls":
        return DataCollatorWithPadding(tokenizer, pad_to_multiple_of=pad_to)
    if packing_mode is not None:  # packed sequences are all about max_length long already
        from fttui.engine.data.packing import PackedCollator

        return PackedCollator(tokenizer.pad_token_id, packing_mode)
    from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

    return DataCollatorForLanguageModeling(pad_token_id=tokenizer.pad_token_id, pad_to_multiple_of=pad_to)


def build_trainer(task: str, model, args, train, eval_, tokenizer, callbacks, optimizer_setup, compute_metrics,
                  packing_mode: str | None = None, objective: str = "sft", pad_to: int | None = None):
    """Classification on transformers' Trainer; causal LM on TRL's SFTTrainer, fed fttui's tokenized rows."""
    from transformers import Trainer

    trainer_class = Trainer
    if objective != "sft":  # preference data, on TRL's DPOTrainer or KTOTrainer
        from fttui.engine.training.preference import trainer_class as preference_trainer

        if optimizer_setup is not None:
            raise ConfigError(f"method.layer_lr_decay does not work with training.objective={objective}",
                              "remove method.layer_lr_decay")
        with trainable_dtypes_kept(model):
            trainer = preference_trainer(objective)(model=model, args=args, train_dataset=train, eval_dataset=eval_,
                                                    processing_class=tokenizer, callbacks=callbacks)
        cpu_head_for_preference(trainer, objective)
        return trainer
    if task == "causal-lm":
        from trl import SFTTrainer as trainer_class
    from fttui.engine.training.length_batches import with_length_batches

    trainer_class = with_length_batches(trainer_class)
    with trainable_dtypes_kept(model):
        trainer = trainer_class(model=model, args=args, optimizer_cls_and_kwargs=optimizer_setup, train_dataset=train,
                                eval_dataset=eval_, data_collator=data_collator(task, tokenizer, packing_mode, pad_to),
                                processing_class=tokenizer, compute_metrics=compute_metrics, callbacks=callbacks)
    if task == "causal-lm":
        from fttui.engine.training.cpu_lm_head import use_on_cpu

        use_on_cpu(trainer.model)  # TRL's fused head scores every position in fp32 tiles where Triton is missing
    return trainer


def cpu_head_for_preference(trainer, objective: str) -> None:
    """DPO and KTO score the policy and the reference through TRL's fused head: on a CPU, fttui's (see
    engine/training/cpu_lm_head.py), with the ``mean_logits`` their metrics read. ORPO scores full logits itself."""
    if objective == "orpo":
        return
    from fttui.engine.training.cpu_lm_head import use_on_cpu

    args = trainer.args
    outputs = ("mean_logits",) + (("log_sum_sq_probs",) if getattr(args, "use_weighting", False) else ())
    use_on_cpu(trainer.model, outputs)
    reference = getattr(trainer, "ref_model", None)
    if reference is not None:  # a full fine-tune's frozen copy, whose forward accelerate wrapped in its autocast
        import torch

        precision = torch.bfloat16 if args.bf16 else torch.float16 if args.fp16 else None
        use_on_cpu(reference, autocast_dtype=precision if hasattr(reference, "_original_forward") else None)


def classification_metrics(label_names: list[str], events):
    """compute_metrics for the Trainer: scalars returned, confusion matrix handed to the event callback."""

    def compute(eval_prediction) -> dict[str, float]:
        logits = eval_prediction.predictions
        if isinstance(logits, tuple):
            logits = logits[0]
        scalars, details = classification_report(np.asarray(logits).argmax(-1), eval_prediction.label_ids, label_names)
        events.details = details
        return scalars

    return compute


def callbacks(config: RunConfig, has_eval: bool):
    from transformers import EarlyStoppingCallback

    if config.training.early_stopping_patience and has_eval:
        return [EarlyStoppingCallback(early_stopping_patience=config.training.early_stopping_patience)]
    return []


@contextlib.contextmanager
def trainable_dtypes_kept(model):
    """Undo what TRL's SFTTrainer does to a quantized model's trainable weights (casts them to bf16): fttui keeps
    fp32 master weights and lets training.precision decide the compute dtype, as for every other method."""
    kept = {name: parameter.dtype for name, parameter in model.named_parameters() if parameter.requires_grad}
    yield
    for name, parameter in model.named_parameters():
        if name in kept and parameter.dtype != kept[name]:
            parameter.data = parameter.data.to(kept[name])


@contextlib.contextmanager
def rng_preserved():
    """Run something (the baseline evaluation) without moving any random stream training draws from,
    so a run trains identically with or without it."""
    import random

    import torch

    python_state, numpy_state = random.getstate(), np.random.get_state()
    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
    with torch.random.fork_rng(devices=devices):
        try:
            yield
        finally:
            random.setstate(python_state)
            np.random.set_state(numpy_state)
