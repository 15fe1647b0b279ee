"""``fttui eval``: score a saved run on another dataset, base model first, so it reads before -> after.

A file of preference pairs is scored as DPO evaluates (engine.data.preference_rows's reading, TRL's DPOTrainer, its reward
metrics and ``pair_scores``), whatever objective the run trained: the tuned model against its reference (the base:
the adapter switched off, or a frozen base copy for a full run), and the base against itself, whose reward margin is
0 by definition; its ``prefers_chosen`` and ``chosen_loss`` are the before of the tuned model's after. A file of
KTO's labelled replies (prompt, completion, label) is scored as KTO evaluates, the same way: the rewards of the
desirable and the undesirable replies against the base, their margin, the KL estimate and the KTO loss.
"""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

from fttui.atomic import write_json
from fttui.config.schema import OBJECTIVE_SETTINGS
from fttui.engine.training.device import choose_placement
from fttui.engine.training.samples import make_sampler
from fttui.engine.trained.saved import describe_run, load_base_model, load_run_tokenizer, load_tuned
from fttui.engine.training.trainer_setup import classification_metrics, data_collator
from fttui.events import model_metrics
from fttui.planning import pad_multiple


class _Details:
    """Receives the confusion matrix that ``classification_metrics`` hands over."""
    details: dict = {}


# What each preference file is scored as, and the metrics shown (in this order)
PREFERENCE_EVALS = {
    "preference": ("dpo", ("rewards/accuracies", "rewards/margins", "prefers_chosen", "chosen_loss", "loss")),
    "unpaired": ("kto", ("rewards/chosen", "rewards/rejected", "rewards/margins", "kl", "loss")),
}
PEEK_ROWS = 20


def _preference_format(run, data_path: str) -> str | None:
    """"preference" (pairs) or "unpaired" (KTO's labelled replies) when the run's data format says so, or, with
    ``data.format: auto``, when a row among the first few has a chosen or rejected reply, or a label beside a
    completion or messages (TRL's and LLaMA-Factory's KTO rows); None: rows scored as the run trained."""
    from fttui.engine.data.data_files import read_rows

    fmt = run.config.data.format
    if run.task == "seq-cls" or fmt != "auto":
        return fmt if fmt in PREFERENCE_EVALS else None
    rows = read_rows(data_path, "train", PEEK_ROWS)
    if any("chosen" in row or "rejected" in row for row in rows):
        return "preference"
    if any("label" in row and ("completion" in row or "messages" in row) for row in rows):
        return "unpaired"
    return None


def _prepared(run, data_path: str, tokenizer, fmt: str | None):
    from fttui.engine.data.dataset import prepare_data

    data = run.config.data.model_copy(update={"train": data_path, "eval": None, "split": "train",
                                              "max_train_rows": None, "labels": run.labels})
    objective = "sft"
    if fmt is not None:
        data, objective = data.model_copy(update={"format": fmt}), PREFERENCE_EVALS[fmt][0]
    training = run.config.training.model_copy(update={"objective": objective})
    return prepare_data(run.config.model_copy(update={"data": data, "training": training}), run.task, tokenizer)


def _score_preference(fmt: str, model, reference, run, prepared, tokenizer, placement, workdir: str) -> dict:
    """DPO's (pairs) or KTO's (labelled replies) evaluation of ``model`` against ``reference`` (None: the adapter
    switched off) on the rows, with the settings the run trained with where it trained that objective."""
    from transformers import PrinterCallback

    from fttui.engine.training.preference import config_class, preference_arguments, trainer_class
    from fttui.engine.training.trainer_setup import cpu_head_for_preference

    objective, shown = PREFERENCE_EVALS[fmt]
    t = run.config.training
    defaults = type(t).model_fields  # another objective's own settings go back to their defaults
    kept = {} if t.objective == objective else {name: defaults[name].default for name in OBJECTIVE_SETTINGS}
    config = run.config.model_copy(update={"training": t.model_copy(update={"objective": objective, **kept})})
    args = config_class(objective)(output_dir=workdir, per_device_eval_batch_size=t.eval_batch_size or t.batch_size * 2,
                                   use_cpu=placement.device == "cpu", bf16=placement.precision == "bf16",
                                   fp16=placement.precision == "fp16", report_to="none", disable_tqdm=True,
                                   remove_unused_columns=False, label_names=[], seed=t.seed,
                                   **preference_arguments(config))
    trainer = trainer_class(objective)(model=model, ref_model=reference, args=args, train_dataset=prepared.train,
                                       eval_dataset=prepared.train, processing_class=tokenizer)
    trainer.remove_callback(PrinterCallback)  # it prints metric dicts to stdout, which --json owns
    cpu_head_for_preference(trainer, objective)
    if reference is None and "ref" in model.peft_config:
        model.delete_adapter("ref")  # TRL copied the trained adapter as the reference; the base is the reference here
    if reference is not None:  # TRL prepared the reference (autocast); evaluate() alone would leave the model in fp32
        trainer.model = trainer.accelerator.prepare_model(trainer.model, evaluation_mode=True)
    metrics = model_metrics(trainer.evaluate(), causal=True)
    return {"metrics": {key: metrics[key] for key in shown if key in metrics}, "details": {}}


def _preference(fmt: str, run, prepared, tokenizer, placement, workdir: str, baseline: bool) -> dict:
    """Base (against itself) first, then the tuned model against the base; at most two models in memory."""
    scored = {}
    if baseline:
        scored["baseline"] = _score_preference(fmt, load_base_model(run), load_base_model(run), run, prepared,
                                               tokenizer, placement, workdir)
    tuned = load_tuned(run)
    reference = None if hasattr(tuned, "disable_adapter") else load_base_model(run)  # peft: the adapter off
    scored["tuned"] = _score_preference(fmt, tuned, reference, run, prepared, tokenizer, placement, workdir)
    return scored


def _score(model, run, prepared, tokenizer, placement, workdir: str) -> dict:
    from transformers import PrinterCallback, Trainer, TrainingArguments

    holder = _Details()
    args = TrainingArguments(output_dir=workdir, per_device_eval_batch_size=run.config.training.eval_batch_size
                             or run.config.training.batch_size * 2, use_cpu=placement.device == "cpu",
                             bf16=placement.precision == "bf16", fp16=placement.precision == "fp16",
                             bf16_full_eval=False, report_to="none", disable_tqdm=True,
                             remove_unused_columns=False, label_names=["labels"])
    trainer = Trainer(model=model, args=args, eval_dataset=prepared.train,
                      data_collator=data_collator(run.task, tokenizer,
                                                  pad_to=pad_multiple(run.config.training.max_length)),
                      processing_class=tokenizer,
                      compute_metrics=classification_metrics(run.labels, holder) if run.task == "seq-cls" else None)
    trainer.remove_callback(PrinterCallback)  # it prints metric dicts to stdout, which --json owns
    raw = trainer.evaluate()
    metrics = model_metrics(raw, causal=run.task != "seq-cls")
    details = dict(holder.details)
    sampler = make_sampler(tokenizer, prepared.sample_prompts, run.config.training.max_new_tokens)
    if sampler is not None:
        details["samples"] = sampler(model)
    return {"metrics": metrics, "details": details}


def evaluate_run(run_dir: Path, data_path: str, baseline: bool = True, save: bool = True) -> dict:
    """Metrics of the fine-tuned model (and of its base) on ``data_path``; saved under ``run_dir/evals/``."""
    from transformers import set_seed

    run = describe_run(run_dir)
    placement = choose_placement(run.config.training.device, run.config.training.precision)
    tokenizer = load_run_tokenizer(run)
    fmt = _preference_format(run, data_path) if run.task == "causal-lm" else None
    prepared = _prepared(run, data_path, tokenizer, fmt)
    result = {"run_dir": str(run_dir), "data": data_path, "rows": len(prepared.train), "task": run.task,
              "method": run.config.method.name, "evaluated_at": time.time(), "format": prepared.layout.format,
              "bad_rows": prepared.counts.bad}
    with tempfile.TemporaryDirectory(prefix="fttui-eval-") as workdir:
        if fmt is not None:
            result.update(_preference(fmt, run, prepared, tokenizer, placement, workdir, baseline))
        else:
            if baseline:
                set_seed(run.config.training.seed)  # the base's untrained classification head is seeded, as in training
                result["baseline"] = _score(load_base_model(run), run, prepared, tokenizer, placement, workdir)
            result["tuned"] = _score(load_tuned(run), run, prepared, tokenizer, placement, workdir)
    if save:
        target = run_dir / "evals" / f"{Path(data_path).stem}-{time.strftime('%Y%m%d-%H%M%S')}.json"
        write_json(target, result)
        result["saved_to"] = str(target)
    return result
