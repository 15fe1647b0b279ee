"""``fttui eval``: score a saved run on another dataset, base model first, so it reads before -> after."""
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


def _prepared(run, data_path: str, tokenizer):
    from fttui.engine.dataset import prepare_data

    data = run.config.data.model_copy(update={"train": data_path, "eval": None, "split": "train",
                                              "max_train_rows": None, "labels": run.labels})
    config = run.config.model_copy(update={"data": data})
    return prepare_data(config, run.task, tokenizer)


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
    prepared = _prepared(run, data_path, tokenizer)
    result = {"run_dir": str(run_dir), "data": data_path, "rows": len(prepared.train), "task": run.task,
              "method": run.config.method.name, "evaluated_at": time.time()}
    with tempfile.TemporaryDirectory(prefix="fttui-eval-") as workdir:
        if baseline:
            set_seed(run.config.training.seed)  # the base's untrained classification head is seeded, as in training
            result["baseline"] = _score(load_base_model(run), run, prepared, tokenizer, placement, workdir)
        result["tuned"] = _score(load_tuned(run), run, prepared, tokenizer, placement, workdir)
    if save:
        target = run_dir / "evals" / f"{Path(data_path).stem}-{time.strftime('%Y%m%d-%H%M%S')}.json"
        write_json(target, result)
        result["saved_to"] = str(target)
    return result
