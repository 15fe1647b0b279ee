"""``fttui eval``: score a saved run on another dataset, base model first, so it reads before -> after.

A file of preference pairs is scored as DPO evaluates (engine.preference's reading, TRL's DPOTrainer, its reward
metrics and ``pair_scores``), whatever objective the run trained: the tuned model against its reference (the base:
the adapter switched off, or a frozen base copy for a full run), and the base against itself, whose reward margin is
0 by definition; its ``prefers_chosen`` and ``chosen_loss`` are the before of the tuned model's after.
"""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

from fttui.atomic import write_json
from fttui.engine.device import choose_placement
from fttui.engine.samples import make_sampler
from fttui.engine.trained import describe_run, load_base_model, load_run_tokenizer, load_tuned
from fttui.engine.trainer_setup import classification_metrics, data_collator
from fttui.events import model_metrics


class _Details:
    """Receives the confusion matrix that ``classification_metrics`` hands over."""
    details: dict = {}


PAIR_METRICS = ("rewards/accuracies", "rewards/margins", "prefers_chosen", "chosen_loss", "loss")  # as shown
PEEK_ROWS = 20


def _reads_pairs(run, data_path: str) -> bool:
    """Pairs when the run's data format says so, or a row among the first few has a chosen or rejected reply."""
    from fttui.engine.data_files import read_rows

    if run.task == "seq-cls" or run.config.data.format not in ("auto", "preference"):
        return run.config.data.format == "preference"
    return any("chosen" in row or "rejected" in row for row in read_rows(data_path, "train", PEEK_ROWS))


def _prepared(run, data_path: str, tokenizer, pairs: bool):
    from fttui.engine.dataset import prepare_data

    data = run.config.data.model_copy(update={"train": data_path, "eval": None, "split": "train",
                                              "max_train_rows": None, "labels": run.labels})
    if pairs:
        data = data.model_copy(update={"format": "preference"})
    training = run.config.training.model_copy(update={"objective": "dpo" if pairs else "sft"})
    return prepare_data(run.config.model_copy(update={"data": data, "training": training}), run.task, tokenizer)


def _score_pairs(model, reference, run, prepared, tokenizer, placement, workdir: str) -> dict:
    """DPO's evaluation of ``model`` against ``reference`` (None: the adapter switched off) on the pairs."""
    from transformers import PrinterCallback

    from fttui.engine.preference import config_class, preference_arguments, trainer_class

    t = run.config.training
    kept = {} if t.objective == "dpo" else {"preference_loss": type(t).model_fields["preference_loss"].default}
    config = run.config.model_copy(update={"training": t.model_copy(update={"objective": "dpo", **kept})})
    args = config_class("dpo")(output_dir=workdir, per_device_eval_batch_size=t.eval_batch_size or t.batch_size * 2,
                               use_cpu=placement.device == "cpu", bf16=placement.precision == "bf16",
                               fp16=placement.precision == "fp16", report_to="none", disable_tqdm=True,
                               remove_unused_columns=False, label_names=[], seed=t.seed,
                               **preference_arguments(config))
    trainer = trainer_class("dpo")(model=model, ref_model=reference, args=args, train_dataset=prepared.train,
                                   eval_dataset=prepared.train, processing_class=tokenizer)
    trainer.remove_callback(PrinterCallback)  # it prints metric dicts to stdout, which --json owns
    if reference is None and "ref" in model.peft_config:
        model.delete_adapter("ref")  # TRL copied the trained adapter as the reference; the base is the reference here
    if reference is not None:  # TRL prepared the reference (autocast); evaluate() alone would leave the model in fp32
        trainer.model = trainer.accelerator.prepare_model(trainer.model, evaluation_mode=True)
    metrics = model_metrics(trainer.evaluate(), causal=True)
    return {"metrics": {key: metrics[key] for key in PAIR_METRICS if key in metrics}, "details": {}}


def _pairs(run, prepared, tokenizer, placement, workdir: str, baseline: bool) -> dict:
    """Base (against itself) first, then the tuned model against the base; at most two models in memory."""
    scored = {}
    if baseline:
        scored["baseline"] = _score_pairs(load_base_model(run), load_base_model(run), run, prepared, tokenizer,
                                          placement, workdir)
    tuned = load_tuned(run)
    reference = None if hasattr(tuned, "disable_adapter") else load_base_model(run)  # peft: the adapter off
    scored["tuned"] = _score_pairs(tuned, reference, run, prepared, tokenizer, placement, workdir)
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
                      data_collator=data_collator(run.task, tokenizer),
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
    pairs = run.task == "causal-lm" and _reads_pairs(run, data_path)
    prepared = _prepared(run, data_path, tokenizer, pairs)
    result = {"run_dir": str(run_dir), "data": data_path, "rows": len(prepared.train), "task": run.task,
              "method": run.config.method.name, "evaluated_at": time.time(), "format": prepared.layout.format,
              "bad_rows": prepared.counts.bad}
    with tempfile.TemporaryDirectory(prefix="fttui-eval-") as workdir:
        if pairs:
            result.update(_pairs(run, prepared, tokenizer, placement, workdir, baseline))
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
