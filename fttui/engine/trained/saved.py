"""Load what a finished run saved (full model or adapter on its base), for evaluation and comparison."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch

from fttui.config import RunConfig
from fttui.config.schema import saved_folder
from fttui.errors import ConfigError
from fttui.runner.checkpoints import check_saved
from fttui.runner.run_folder import RunFolder


@dataclass
class TrainedRun:
    config: RunConfig
    task: str
    labels: list[str] | None
    folder: Path  # run_dir/model or run_dir/adapter


def describe_run(run_dir: Path) -> TrainedRun:
    """The run's config, task, labels and saved folder; a clear error when the run saved nothing, or a damaged folder."""
    run_folder = RunFolder.existing(run_dir)
    config = run_folder.config()
    folder = run_dir / saved_folder(config.method.name)  # model/ when base weights trained, else adapter/
    if not folder.is_dir():
        raise ConfigError(f"{run_dir} has no {folder.name}/ yet", f"finish the run first: fttui --resume {run_dir}")
    # A truncated file must fail here, naming it, not as a library traceback from deep inside a load.
    check_saved(run_dir, folder, config.training.max_steps, config.training.epochs)
    task = run_folder.task or config.model.task
    labels_path = folder / "labels.json"
    labels = json.loads(labels_path.read_text()) if labels_path.is_file() else None
    return TrainedRun(config, task, labels, folder)


def load_tuned(run: TrainedRun, dtype: torch.dtype = torch.float32):
    """The fine-tuned model: the saved full model, or the adapter on the unquantized base."""
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification

    if run.folder.name == "model":
        auto = AutoModelForSequenceClassification if run.task == "seq-cls" else AutoModelForCausalLM
        return auto.from_pretrained(run.folder, dtype=dtype)
    from fttui.engine.methods.build import load_adapter

    return load_adapter(load_base_model(run, dtype), run.folder)  # peft or bottleneck adapter


def load_base_model(run: TrainedRun, dtype: torch.dtype = torch.float32):
    """The run's base model before training (a classification head is freshly initialised: chance level)."""
    from fttui.engine.models.loading import load_base

    return load_base(run.config, run.task, run.labels, dtype)


def load_run_tokenizer(run: TrainedRun):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(run.folder)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token or tokenizer.sep_token
    return tokenizer
