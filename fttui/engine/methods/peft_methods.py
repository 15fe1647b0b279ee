"""The methods peft implements: LoRA, DoRA, QLoRA, prompt tuning, prefix tuning, P-tuning and IA3.

LoRA targets default to peft's per-architecture choice (attention query/value); QLoRA follows the QLoRA paper
and wraps every linear layer of the transformer blocks. IA3 rescales keys, values and the feed-forward output's
input, as in the IA3 paper. Heads stay out of all of them: for classification peft trains the new head in full
(``modules_to_save``). ``PEFT_CONFIGS`` maps each of these methods to its peft config.
"""
from __future__ import annotations

import inspect

from fttui.config.schema import RunConfig
from fttui.engine.methods.cheap_dropout import cheapen_lora_dropout
from fttui.engine.models.anatomy import FFN_OUTPUTS, KEY_VALUE_LEAVES, transformer_blocks
from fttui.engine.models.loading import HEAD_MODULES
from fttui.errors import ConfigError

LINEAR_TYPES = ("Linear", "Linear4bit", "Linear8bitLt", "Conv1D")


def _linear_modules(model) -> dict[str, str]:
    """Full name -> leaf name of the linear layers inside the transformer (heads and pooler left out)."""
    found = {}
    for full_name, module in model.named_modules():
        leaf = full_name.rsplit(".", 1)[-1]
        if type(module).__name__ in LINEAR_TYPES and leaf not in HEAD_MODULES and "pooler" not in full_name:
            found[full_name] = leaf
    return found


def linear_module_names(model) -> list[str]:
    """Leaf names of the linear layers inside the transformer blocks (candidates for LoRA)."""
    return sorted(set(_linear_modules(model).values()))


def lora_targets(model, config: RunConfig) -> list[str]:
    """The configured targets, checked; by default every linear layer in the blocks, as the QLoRA paper found
    best and LLaMA-Factory, Unsloth and axolotl do (on SST-2 in 50 steps attention-only q/v stayed at the
    majority class where all-linear reached 0.78)."""
    available = linear_module_names(model)
    wanted = config.method.lora_targets
    if not wanted:
        return available
    unknown = [name for name in wanted if name not in available]
    if unknown:
        raise ConfigError(
            f"method.lora_targets: {', '.join(unknown)} not found in {model.config.model_type}",
            f"linear layers of this model: {', '.join(available)}",
        )
    return list(wanted)


def _matching(modules: dict[str, str], suffixes, setting: str, model_type: str) -> list[str]:
    """Full names of the linear layers whose name ends with one of ``suffixes`` (peft's matching rule)."""
    names = [full for full in modules if any(full == s or full.endswith("." + s) for s in suffixes)]
    unknown = [s for s in suffixes if not any(full == s or full.endswith("." + s) for full in modules)]
    if unknown:
        raise ConfigError(f"method.{setting}: {', '.join(unknown)} not found in {model_type}",
                          f"linear layers of this model: {', '.join(sorted(set(modules.values())))}")
    return names


def ia3_modules(model, config: RunConfig) -> tuple[list[str], list[str]]:
    """(targets, feed-forward targets) as full module names.

    Defaults follow peft's table, but only a block's feed-forward output counts as feed-forward: peft's BERT
    entry ``output.dense`` also matches ``attention.output.dense``, which the IA3 paper leaves alone.
    """
    from peft.utils.constants import TRANSFORMERS_MODELS_TO_IA3_TARGET_MODULES_MAPPING as DEFAULTS

    modules, model_type = _linear_modules(model), model.config.model_type
    prefix, blocks = transformer_blocks(model)
    ffn_outputs = set()
    for index in range(len(blocks)):
        for path in FFN_OUTPUTS:
            if f"{prefix}.{index}.{path}" in modules:
                ffn_outputs.add(f"{prefix}.{index}.{path}")
                break
    wanted = config.method.ia3_targets
    if wanted:
        targets = _matching(modules, wanted, "ia3_targets", model_type)
    else:
        suffixes = [s for s in DEFAULTS.get(model_type, []) if s in KEY_VALUE_LEAVES]
        if not suffixes:
            suffixes = [leaf for leaf in KEY_VALUE_LEAVES if leaf in modules.values()]
        targets = _matching(modules, suffixes, "ia3_targets", model_type) + sorted(ffn_outputs)
    if config.method.ia3_feedforward is not None:
        feedforward = _matching(modules, config.method.ia3_feedforward, "ia3_feedforward", model_type)
        if not set(feedforward) <= set(targets):
            raise ConfigError("method.ia3_feedforward must be a subset of method.ia3_targets",
                              "add those modules to method.ia3_targets too")
    else:
        feedforward = [name for name in targets if name in ffn_outputs]
    return sorted(set(targets)), sorted(set(feedforward))


def accept_past_key_values(model) -> None:
    """Let peft's prefix tuning reach encoders such as BERT on transformers 5.

    transformers 5 renamed the encoder's ``past_key_values`` argument to ``cache``; peft 0.21 looks the old
    name up in the backbone's signature and refuses. This forwards the old name to the new one (the encoder
    then prepends the prefix keys and values exactly as before).
    """
    from transformers import PreTrainedModel

    if "past_key_values" in inspect.signature(model.forward).parameters:
        return
    backbone = next((module for _, module in model.named_children() if isinstance(module, PreTrainedModel)), None)
    if backbone is None:
        return
    parameters = inspect.signature(backbone.forward).parameters
    if "past_key_values" in parameters or "cache" not in parameters:
        return
    original = backbone.forward

    def forward(*args, past_key_values=None, **kwargs):
        if past_key_values is not None:
            kwargs["cache"] = past_key_values
        return original(*args, **kwargs)

    backbone.forward = forward


def _task_type(task: str):
    from peft import TaskType

    return TaskType.SEQ_CLS if task == "seq-cls" else TaskType.CAUSAL_LM


def _lora(model, config: RunConfig, task_type, tokenizer_path: str):
    method = config.method
    return _peft().LoraConfig(task_type=task_type, r=method.lora_r, lora_alpha=method.lora_alpha,
                              lora_dropout=method.lora_dropout, target_modules=lora_targets(model, config),
                              use_dora=method.name == "dora", use_rslora=method.use_rslora)


def _ia3(model, config: RunConfig, task_type, tokenizer_path: str):
    targets, feedforward = ia3_modules(model, config)
    return _peft().IA3Config(task_type=task_type, target_modules=targets, feedforward_modules=feedforward)


def _prefix(model, config: RunConfig, task_type, tokenizer_path: str):
    method = config.method
    return _peft().PrefixTuningConfig(task_type=task_type, num_virtual_tokens=method.num_virtual_tokens,
                                      prefix_projection=method.prefix_projection,
                                      encoder_hidden_size=method.encoder_hidden_size)


def _ptuning(model, config: RunConfig, task_type, tokenizer_path: str):
    method = config.method
    return _peft().PromptEncoderConfig(task_type=task_type, num_virtual_tokens=method.num_virtual_tokens,
                                       encoder_hidden_size=method.encoder_hidden_size)


def _prompt(model, config: RunConfig, task_type, tokenizer_path: str):
    peft, method = _peft(), config.method
    init = dict(prompt_tuning_init=peft.PromptTuningInit.RANDOM)
    if method.prompt_init_text:
        init = dict(prompt_tuning_init=peft.PromptTuningInit.TEXT, prompt_tuning_init_text=method.prompt_init_text,
                    tokenizer_name_or_path=tokenizer_path)
    return peft.PromptTuningConfig(task_type=task_type, num_virtual_tokens=method.num_virtual_tokens, **init)


def _peft():
    import peft

    return peft


PEFT_CONFIGS = {"lora": _lora, "dora": _lora, "qlora": _lora, "ia3": _ia3, "prefix": _prefix, "ptuning": _ptuning,
                "prompt": _prompt}  # method.name -> its peft config


def peft_config(model, config: RunConfig, task: str, tokenizer_path: str):
    """The peft config for ``method.name``."""
    return PEFT_CONFIGS[config.method.name](model, config, _task_type(task), tokenizer_path)


def _keep_4bit_training_layout(model) -> None:
    """Stop bitsandbytes repacking 4-bit weights for CPU inference during evaluation.

    bitsandbytes 0.50 converts CPU 4-bit weights to an inference-only layout on the first no-grad
    forward (our per-epoch eval); the next training step then fails inside ``matmul_4bit``.
    """
    for module in model.modules():
        if hasattr(module, "support_avx512bf16_for_cpu"):
            module.support_avx512bf16_for_cpu = False


def apply_peft(model, config: RunConfig, task: str, tokenizer_path: str):
    from peft import get_peft_model, prepare_model_for_kbit_training

    checkpointing = config.training.gradient_checkpointing
    if config.method.name == "qlora":
        _keep_4bit_training_layout(model)
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=checkpointing,
                                                gradient_checkpointing_kwargs={"use_reentrant": False})
    elif checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.enable_input_require_grads()
    if config.method.name == "prefix" and task == "seq-cls":  # causal LMs take past_key_values directly
        accept_past_key_values(model)
    model = get_peft_model(model, peft_config(model, config, task, tokenizer_path))
    cheapen_lora_dropout(model)  # the same dropout; on a CPU its mask was up to 40% of a LoRA step
    return model


def load_peft_adapter(base, folder):
    """A saved peft adapter on its base model (with the prefix-tuning fix applied when needed)."""
    from peft import PeftConfig, PeftModel

    saved = PeftConfig.from_pretrained(str(folder))
    if saved.peft_type == "PREFIX_TUNING" and saved.task_type == "SEQ_CLS":
        accept_past_key_values(base)
    return PeftModel.from_pretrained(base, folder)
