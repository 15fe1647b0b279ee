"""The run configuration: every field declared once, with its type, default and help.

The docstring-like ``description`` of each field is what presets, ``--set``, the wizard and
``--dry-run`` show, so keep it to one line a user can act on. Pure: no torch, no textual. What each
fine-tuning method is (its fields, default learning rate, capabilities) lives in ``config/methods.py``;
``method.name``'s choices and the method rules below are read from there.
"""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from fttui.config.methods import METHODS, SPECS, name_help, names, spec

BUILTIN_MODEL = "builtin"
TASKS = ("auto", "seq-cls", "causal-lm")
# Views of the method registry (config/methods.py), where each method's facts are written once:
FULL_MODEL_METHODS = names(saves_whole_model=True)  # they change base weights in place: the run saves model/
PROMPT_METHODS = tuple(s.name for s in SPECS if s.virtual_tokens)  # learned virtual tokens: nothing to merge
METHOD_FIELDS = {s.name: s.fields for s in SPECS}  # the method.* keys each method reads
LAYERWISE_METHODS = names(layerwise=True)  # the methods method.layer_lr_decay applies to
DEFAULT_LEARNING_RATES = {s.name: s.learning_rate for s in SPECS}
DATA_FORMATS = ("auto", "classification", "text", "alpaca", "chat", "prompt-completion", "preference", "unpaired")
OBJECTIVES = ("sft", "dpo", "orpo", "kto")
# Preference objectives and the data format each reads: pairs (prompt, chosen, rejected), or single replies
# marked desirable or not (prompt, completion, label). DPO and KTO weigh the model against a reference (the
# base model); ORPO needs none: it adds an odds-ratio term to the SFT loss of the chosen reply.
PREFERENCE_OBJECTIVES = {"dpo": "preference", "orpo": "preference", "kto": "unpaired"}
# Preference settings that only some objectives read: set with another, they are refused, not ignored.
OBJECTIVE_SETTINGS = {"preference_loss": ("dpo",), "desirable_weight": ("kto",), "undesirable_weight": ("kto",),
                      "precompute_reference": ("dpo", "kto")}
# Eval metrics early stopping may watch under a preference objective, and the objectives that report each
PREFERENCE_METRICS = {"prefers_chosen": ("dpo", "orpo"), "rewards/accuracies": ("dpo", "orpo"),
                      "rewards/margins": ("dpo", "orpo", "kto")}
PRECISIONS = ("auto", "fp32", "bf16", "fp16")


def _yaml_switch(value):
    """YAML 1.1 reads a bare on/off (or yes/no) as a boolean, in a preset and in --set alike: take the word meant."""
    return ("on" if value else "off") if isinstance(value, bool) else value


def _label_text(value):
    """Labels may be written as in the data (``[0, 1]``, ``[false, true]``); they are names, so keep them as text."""
    if isinstance(value, bool):
        return "true" if value else "false"  # as a data file's JSON booleans read (engine.data.formats)
    return str(value) if isinstance(value, (int, float)) else value


class Section(BaseModel):
    """Unknown keys are errors (a typo must never be silently ignored); so are inf and NaN in number fields."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)


class ModelSection(Section):
    name: str = Field(
        BUILTIN_MODEL,
        description="Hub id (org/name), a local model folder, a finished run folder (start from what it trained), "
                    "or 'builtin' for the packaged MiniLM encoder.",
    )
    task: Literal["auto", "seq-cls", "causal-lm"] = Field(
        "auto", description="seq-cls (text classification) or causal-lm (generation); auto reads it from the model."
    )
    revision: str | None = Field(None, description="Hub branch, tag or commit to load (hub ids only).")
    trust_remote_code: bool = Field(False, description="Run modelling code shipped with a hub model (only if you trust it).")


class DataSection(Section):
    train: str = Field(
        ..., description="Training data: a .jsonl/.json/.csv/.parquet/.txt file, or a hub dataset id."
    )
    eval: str | float | None = Field(
        0.1,
        description="Eval data: a file, a hub split name, a fraction of train (0-0.5) held out, or null for none.",
    )
    format: Literal["auto", "classification", "text", "alpaca", "chat", "prompt-completion", "preference",
                    "unpaired"] = Field(
        "auto", description="How rows are read; auto detects it from the columns."
    )
    text_column: str | None = Field(None, description="Column holding the text (classification and plain text).")
    label_column: str | None = Field(None, description="Column holding the label (classification).")
    labels: list[Annotated[str, BeforeValidator(_label_text)]] | None = Field(
        None, description="The label set in id order; default: the sorted labels found in the training data."
    )
    split: str = Field("train", description="Split to train on, for hub datasets.")
    max_train_rows: int | None = Field(None, gt=0, description="Use only the first N training rows.")
    max_eval_rows: int | None = Field(None, gt=0, description="Use only the first N eval rows.")
    system_prompt: str | None = Field(None, description="System message prepended to chat and instruction data.")
    overlong: Literal["truncate", "drop", "error"] = Field(
        "truncate", description="Rows over training.max_length: truncate (trim the prompt from the left), drop, or error."
    )
    max_bad_rows: int | None = Field(
        None, ge=0, description="Unreadable rows skipped before the run stops with their file:line (default: 1% of rows)."
    )

    @field_validator("eval")
    @classmethod
    def _fraction_in_range(cls, value):
        if isinstance(value, float) and not 0.0 < value < 0.5 and not isinstance(value, bool):
            raise ValueError("a fraction of train must be between 0 and 0.5 (e.g. 0.1)")
        return value


class MethodSection(Section):
    name: Literal[METHODS] = Field("lora", description=name_help())
    lora_r: int = Field(8, gt=0, le=1024, description="LoRA rank: larger learns more, costs more memory.")
    lora_alpha: int = Field(16, gt=0, le=65536, description="LoRA scaling numerator (scale = alpha / r).")
    lora_dropout: float = Field(0.05, ge=0.0, lt=1.0, description="Dropout on the LoRA input.")
    lora_targets: list[str] | None = Field(
        None, description="Module names LoRA wraps (e.g. [q_proj, v_proj]); default: every linear layer of the blocks."
    )
    use_rslora: bool = Field(False, description="LoRA/DoRA/QLoRA: scale by alpha/sqrt(r) (rank-stabilized), steadier at high ranks.")
    quant_bits: Literal[4, 8] = Field(4, description="QLoRA: 4-bit NF4 (default) or 8-bit LLM.int8 base weights.")
    quant_type: Literal["nf4", "fp4"] = Field("nf4", description="QLoRA 4-bit data type.")
    double_quant: bool = Field(True, description="QLoRA 4-bit: quantize the quantization constants too.")
    num_virtual_tokens: int = Field(
        20, gt=0, le=512, description="Prompt, prefix and P-tuning: learned virtual tokens (prefix: per layer's keys/values)."
    )
    prompt_init_text: str | None = Field(
        None, description="Prompt tuning: initialise the virtual tokens from this text (default: random)."
    )
    prefix_projection: bool = Field(
        False, description="Prefix tuning: produce the prefix through a 2-layer MLP (more parameters, often steadier)."
    )
    encoder_hidden_size: int | None = Field(
        None, gt=0, description="P-tuning (and prefix with projection): hidden size of the prompt encoder MLP; default: the model's."
    )
    ia3_targets: list[str] | None = Field(
        None, description="IA3: modules whose activations are rescaled (e.g. [k_proj, v_proj, down_proj]); default per architecture."
    )
    ia3_feedforward: list[str] | None = Field(
        None, description="IA3: which ia3_targets are feed-forward layers (scaled on their input); default: each block's MLP output."
    )
    trainable_layers: int = Field(
        2, gt=0, description="Freeze: how many top transformer blocks train (with the head and final norm); the rest stay frozen."
    )
    layer_lr_decay: float | None = Field(
        None, gt=0, le=1, description="Full/freeze: each block below the top trains at lr x decay^depth, embeddings lowest (e.g. 0.9); default: one lr."
    )
    adapter_reduction: int = Field(
        16, gt=0, le=1024, description="Bottleneck adapters: width = hidden size / this (16 on a 384-wide model: 24)."
    )
    adapter_placement: Literal["pfeiffer", "houlsby"] = Field(
        "pfeiffer", description="Bottleneck adapters: pfeiffer (after each feed-forward output) or houlsby (after attention and feed-forward)."
    )


class TrainingSection(Section):
    epochs: float = Field(3.0, gt=0, le=1000, description="Passes over the training data (ignored when max_steps is set).")
    max_steps: int | None = Field(None, gt=0, le=10**9, description="Stop after this many optimizer steps (overrides epochs).")
    batch_size: int = Field(16, gt=0, le=65536, description="Examples per device per step.")
    eval_batch_size: int | None = Field(None, gt=0, le=65536, description="Examples per eval step (default: 2x batch_size).")
    gradient_accumulation: int = Field(1, gt=0, le=65536, description="Steps to accumulate before each optimizer update.")
    learning_rate: float | None = Field(
        None, gt=0, lt=1, description="Peak learning rate; default depends on the method (full 2e-5, LoRA 2e-4...)."
    )
    max_length: int = Field(256, gt=8, le=131072, description="Tokens per example; longer rows are truncated.")
    warmup_ratio: float = Field(0.0, ge=0, lt=1, description="Fraction of steps spent warming up the learning rate.")
    scheduler: Literal["linear", "cosine", "constant", "constant_with_warmup"] = Field(
        "linear", description="Learning-rate schedule after warm-up."
    )
    weight_decay: float = Field(0.0, ge=0, le=10, description="AdamW weight decay.")
    max_grad_norm: float = Field(1.0, gt=0, description="Clip gradients to this norm.")
    precision: Literal["auto", "fp32", "bf16", "fp16"] = Field(
        "auto", description="Compute precision; auto uses bf16 where the CPU/GPU supports it, else fp16/fp32."
    )
    gradient_checkpointing: bool = Field(False, description="Recompute activations to save memory (slower).")
    fit_check: bool | Literal["auto"] = Field(
        "auto", description="Before training, run 2 real steps on the longest rows and shrink the batch if they "
        "do not fit; auto: on a GPU, and on a CPU when the estimate is near the free memory."
    )
    oom_retry: int = Field(
        2, ge=0, le=8, description="Out of memory mid-run: go on from the last checkpoint with half the batch and "
        "twice the accumulation, at most this many times (0: stop)."
    )
    group_by_length: bool = Field(
        True, description="Batch rows of similar length together (the batches in a shuffled order), so less padding is "
        "computed (same data, faster)."
    )
    compile: Annotated[Literal["auto", "on", "off"], BeforeValidator(_yaml_switch)] = Field(
        "auto", description="torch.compile the model's blocks: auto times a few eager and compiled steps when the "
        "run is long enough to pay back compiling (tens of seconds) and keeps the faster; on: always; off: never."
    )
    objective: Literal["sft", "dpo", "orpo", "kto"] = Field(
        "sft", description="sft: learn the labels or the replies; dpo: prefer each pair's chosen reply over the "
        "rejected one; orpo: the same plus SFT on the chosen reply, with no reference model (less memory); kto: "
        "learn from single replies labelled desirable or not."
    )
    beta: float = Field(0.1, gt=0, le=100, description="DPO/KTO: how far the model may drift from the base model "
                        "(higher: less); ORPO: weight of the preference term next to the SFT loss.")
    precompute_reference: bool = Field(
        False, description="DPO/KTO with full fine-tuning: score the rows with the starting model once, before the "
        "first step, instead of keeping a frozen copy of its weights as the reference (one copy of the weights "
        "less in memory; one forward pass over the data first)."
    )
    desirable_weight: float = Field(1.0, gt=0, le=100, description="KTO: weight of the desirable replies' loss.")
    undesirable_weight: float = Field(
        1.0, gt=0, le=100, description="KTO: weight of the undesirable replies' loss (unbalanced data: about "
        "desirable rows / undesirable rows)."
    )
    preference_loss: Literal["sigmoid", "ipo", "hinge"] = Field(
        "sigmoid", description="DPO loss: sigmoid (the DPO paper), ipo (IPO, for pairs that are near ties) or hinge (SLiC)."
    )
    packing: bool | Literal["auto"] = Field(
        "auto", description="Causal LM: pack several rows into each sequence (kept apart by position ids), so "
        "almost no padding is computed; auto packs where the model's attention keeps packed rows apart."
    )
    seed: int = Field(42, ge=0, le=2**32 - 1, description="Random seed for data order and initialisation.")
    logging_steps: int = Field(10, gt=0, description="Log loss every N steps.")
    eval_steps: int | None = Field(None, gt=0, description="Evaluate every N steps (default: once per epoch).")
    save_steps: int = Field(200, gt=0, description="Write a checkpoint every N steps.")
    save_total_limit: int = Field(2, gt=0, description="Keep only the newest N checkpoints.")
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="Where to train; auto picks a GPU if present.")
    baseline_eval: bool = Field(True, description="Evaluate the base model before training, so results read before -> after.")
    early_stopping_patience: int | None = Field(
        None, gt=0, description="Stop after N evaluations without improvement of best_metric; the best checkpoint is kept and loaded."
    )
    best_metric: Literal["loss", "accuracy", "f1_macro", "prefers_chosen", "rewards/accuracies", "rewards/margins"] = Field(
        "loss", description="Eval metric that picks the best checkpoint and that early stopping watches (loss: lower "
        "is better; the others higher): accuracy/f1_macro for classifiers; prefers_chosen, rewards/accuracies, "
        "rewards/margins for preference tuning."
    )
    overfitting_patience: int = Field(
        3, gt=0, description="Warn when eval loss rises N evaluations in a row while train loss falls."
    )
    sample_prompts: int = Field(3, ge=0, le=16, description="Causal LM: eval prompts generated from at each evaluation (0: none).")
    max_new_tokens: int = Field(48, gt=0, le=1024, description="Causal LM: tokens generated per sample prompt.")
    report_to: list[Literal["tensorboard", "wandb", "mlflow"]] = Field(
        default_factory=list, description="Also log to these trackers if installed (events.jsonl is always written)."
    )
    distributed: Literal["auto", "ddp", "fsdp", "deepspeed"] = Field(
        "auto", description="With --nproc N: ddp copies the model to every GPU (auto), fsdp shards it, deepspeed uses deepspeed_config."
    )
    fsdp_sharding: Literal["full_shard", "shard_grad_op"] = Field(
        "full_shard", description="FSDP: full_shard frees gathered weights after forward (least memory); shard_grad_op keeps them (faster)."
    )
    fsdp_cpu_offload: bool = Field(False, description="FSDP: keep sharded weights and gradients in CPU RAM (fits bigger models, slower).")
    deepspeed_config: str | None = Field(None, description="DeepSpeed: path of a ZeRO JSON config (needs pip install deepspeed).")


class OutputSection(Section):
    name: str | None = Field(None, description="Run name, used in the run folder name (default: the preset's name).")
    runs_dir: str = Field("runs", description="Folder where run folders runs/<name>-<time>/ are created.")
    dir: str | None = Field(None, description="Exact run folder to write (must be new or empty); overrides runs_dir.")


class UiSection(Section):
    """The wizard's own settings; headless runs read none of them."""

    # Beside a 2-thread worker on 2 busy cores, 5 ms of UI work took (p95) 17 ms at +0, 14.5 at +2, 10.5-12 at +5
    # and 9-11 at +10: +2 already keeps a key press within a 60 Hz frame, while against a process at niceness 0
    # the worker keeps 39% of a contended core (+5: 25%, +10: 10%, which made a wizard run 419 s for 266 s headless).
    worker_niceness: int = Field(
        2, ge=0, le=19, description="Niceness added to the wizard's training and export workers, so the UI stays "
        "responsive on a busy machine (0: same priority as the UI; more slows training more when the CPU is contended)."
    )


class RunConfig(Section):
    model: ModelSection = Field(default_factory=ModelSection)
    data: DataSection
    method: MethodSection = Field(default_factory=MethodSection)
    training: TrainingSection = Field(default_factory=TrainingSection)
    output: OutputSection = Field(default_factory=OutputSection)
    ui: UiSection = Field(default_factory=UiSection)

    @model_validator(mode="after")
    def _consistent(self):
        _check_method(self)
        _check_objective(self)
        if self.training.early_stopping_patience and self.data.eval is None:
            raise ValueError("training.early_stopping_patience needs eval data: set data.eval to a file or a fraction")
        _check_distributed(self)
        return self


def _check_method(config: RunConfig) -> None:
    """Method settings that cannot work together, said before anything loads."""
    method, training = config.method, config.training
    if training.gradient_checkpointing and not spec(method.name).gradient_checkpointing:
        raise ValueError(f"method.name: {method.name} tuning does not support training.gradient_checkpointing")
    if method.layer_lr_decay is not None and method.name not in LAYERWISE_METHODS:
        raise ValueError(f"method.layer_lr_decay works with method.name {' or '.join(LAYERWISE_METHODS)}, not "
                         f"{method.name}: remove it, or switch the method")
    if method.layer_lr_decay is not None and training.distributed in ("fsdp", "deepspeed"):
        raise ValueError(f"method.layer_lr_decay cannot be combined with training.distributed={training.distributed}: "
                         "use ddp, or one learning rate")


def _check_objective(config: RunConfig) -> None:
    """Preference objectives need a causal LM, pair data, and a method whose reference model is known."""
    objective, method = config.training.objective, config.method.name
    if objective not in PREFERENCE_OBJECTIVES:
        for wanted, fmt in PREFERENCE_OBJECTIVES.items():
            if config.data.format == fmt:
                raise ValueError(f"data.format is {fmt}, but training.objective is sft: set training.objective={wanted}")
        _check_objective_settings(config)
        return
    if config.model.task == "seq-cls":
        raise ValueError(f"training.objective={objective} tunes a causal LM, not a classifier: set model.task=causal-lm")
    if objective not in spec(method).objectives:  # the method registry says which objectives each method trains
        able = ", ".join(s.name for s in SPECS if objective in s.objectives)
        raise ValueError(f"training.objective={objective} works with method.name {able}, not {method}: pick one of those")
    fmt = PREFERENCE_OBJECTIVES[objective]
    if config.data.format not in ("auto", fmt):
        raise ValueError(f"training.objective={objective} reads {fmt} data: set data.format to {fmt} or auto, "
                         f"not {config.data.format}")
    if config.training.packing is True:
        raise ValueError(f"training.packing: {objective} pairs are not packed; set training.packing=auto or false")
    if config.training.precompute_reference and not spec(method).saves_whole_model:
        raise ValueError(f"training.precompute_reference: with method.name={method} the reference is the base with "
                         "the adapter switched off, so there is no copy of the weights to save; remove it")
    _check_objective_settings(config)


def _check_objective_settings(config: RunConfig) -> None:
    """A setting only other objectives read is refused, not silently ignored."""
    objective, metric = config.training.objective, config.training.best_metric
    if metric in PREFERENCE_METRICS and objective not in PREFERENCE_METRICS[metric]:
        raise ValueError(f"training.best_metric: training.objective={objective} does not report {metric} (it is "
                         f"reported under training.objective={' or '.join(PREFERENCE_METRICS[metric])}); "
                         "pick loss or one it reports")
    for key, readers in OBJECTIVE_SETTINGS.items():
        if objective not in readers and getattr(config.training, key) != TrainingSection.model_fields[key].default:
            raise ValueError(f"training.{key} applies to training.objective={' or '.join(readers)}, not {objective}: "
                             f"remove it, or set training.objective={readers[0]}")


def _check_distributed(config: RunConfig) -> None:
    """Combinations of a sharding strategy and a method that cannot work, said before any process starts."""
    t, method = config.training, config.method.name
    if t.distributed == "deepspeed" and not t.deepspeed_config:
        raise ValueError("training.distributed is deepspeed, but training.deepspeed_config is not set: "
                         "give the path of a ZeRO JSON config")
    if t.deepspeed_config and t.distributed != "deepspeed":
        raise ValueError("training.deepspeed_config is set, but training.distributed is not deepspeed: "
                         "set training.distributed=deepspeed, or remove deepspeed_config")
    if t.distributed != "fsdp" and (t.fsdp_cpu_offload or t.fsdp_sharding != "full_shard"):
        raise ValueError("training.fsdp_sharding/fsdp_cpu_offload apply only with training.distributed=fsdp")
    if t.distributed in ("fsdp", "deepspeed") and spec(method).unshardable:
        raise ValueError(f"training.distributed={t.distributed}: {spec(method).unshardable}")
    if t.distributed in ("fsdp", "deepspeed") and t.device == "cpu":
        raise ValueError(f"training.distributed={t.distributed} needs GPUs (training.device is cpu): use ddp on CPU")


def effective_learning_rate(config: RunConfig) -> float:
    """The learning rate a run uses: the configured one, else the method's usual default."""
    return config.training.learning_rate or spec(config.method.name).learning_rate


def saved_folder(method: str) -> str:
    """The folder a run writes its result to: ``model`` when base weights changed, else ``adapter``."""
    return "model" if spec(method).saves_whole_model else "adapter"
