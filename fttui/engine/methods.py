"""One small builder per fine-tuning method; each returns the model ready for the Trainer.

LoRA targets default to peft's per-architecture choice (attention query/value); QLoRA follows the
QLoRA paper and wraps every linear layer of the transformer blocks. Heads stay out of both: for
classification peft trains the new head in full (``modules_to_save``).
"""
from __future__ import annotations

from fttui.config.schema import RunConfig
from fttui.engine.models import HEAD_MODULES
from fttui.errors import ConfigError

LINEAR_TYPES = ("Linear", "Linear4bit", "Linear8bitLt", "Conv1D")


def linear_module_names(model) -> list[str]:
    """Leaf names of the linear layers inside the transformer blocks (candidates for LoRA)."""
    names = set()
    for full_name, module in model.named_modules():
        leaf = full_name.rsplit(".", 1)[-1]
        if type(module).__name__ in LINEAR_TYPES and leaf not in HEAD_MODULES and "pooler" not in full_name:
            names.add(leaf)
    return sorted(names)


def default_lora_targets(model, method: str) -> list[str]:
    available = linear_module_names(model)
    if method == "qlora":
        return available
    from peft.utils.constants import TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING as DEFAULTS

    targets = DEFAULTS.get(model.config.model_type)
    if targets and all(t in available for t in targets):
        return list(targets)
    attention = [n for n in available if n in ("q_proj", "v_proj", "query", "value", "q", "v", "c_attn", "qkv_proj", "Wqkv")]
    return attention or available


def lora_targets(model, config: RunConfig) -> list[str]:
    wanted = config.method.lora_targets
    if not wanted:
        return default_lora_targets(model, config.method.name)
    available = linear_module_names(model)
    unknown = [name for name in wanted if name not in available]
    if unknown:
        raise ConfigError(
            f"method.lora_targets: {', '.join(unknown)} not found in {model.config.model_type}",
            f"linear layers of this model: {', '.join(available)}",
        )
    return list(wanted)


def _keep_4bit_training_layout(model) -> None:
    """Stop bitsandbytes repacking 4-bit weights for CPU inference during evaluation.

    bitsandbytes 0.50 converts CPU 4-bit weights to an inference-only layout on the first no-grad
    forward (our per-epoch eval); the next training step then fails inside ``matmul_4bit``.
    """
    for module in model.modules():
        if hasattr(module, "support_avx512bf16_for_cpu"):
            module.support_avx512bf16_for_cpu = False


def _task_type(task: str):
    from peft import TaskType

    return TaskType.SEQ_CLS if task == "seq-cls" else TaskType.CAUSAL_LM


def apply_method(model, config: RunConfig, task: str, tokenizer_path: str):
    name = config.method.name
    method = config.method
    if name == "full":
        for parameter in model.parameters():
            parameter.requires_grad_(True)
        if config.training.gradient_checkpointing:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        return model
    from peft import LoraConfig, PromptTuningConfig, PromptTuningInit, get_peft_model, prepare_model_for_kbit_training

    if name == "qlora":
        _keep_4bit_training_layout(model)
        model = prepare_model_for_kbit_training(
            model,
            use_gradient_checkpointing=config.training.gradient_checkpointing,
            gradient_checkpointing_kwargs={"use_reentrant": False},
        )
    elif config.training.gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.enable_input_require_grads()
    if name in ("lora", "qlora"):
        peft_config = LoraConfig(
            task_type=_task_type(task),
            r=method.lora_r,
            lora_alpha=method.lora_alpha,
            lora_dropout=method.lora_dropout,
            target_modules=lora_targets(model, config),
        )
    else:
        init = dict(prompt_tuning_init=PromptTuningInit.RANDOM)
        if method.prompt_init_text:
            init = dict(
                prompt_tuning_init=PromptTuningInit.TEXT,
                prompt_tuning_init_text=method.prompt_init_text,
                tokenizer_name_or_path=tokenizer_path,
            )
        peft_config = PromptTuningConfig(task_type=_task_type(task), num_virtual_tokens=method.num_virtual_tokens, **init)
    return get_peft_model(model, peft_config)


def count_parameters(model) -> tuple[int, int]:
    """(trainable, total), counting 4-bit packed weights at their real size."""
    if hasattr(model, "get_nb_trainable_parameters"):
        trainable, total = model.get_nb_trainable_parameters()
        return int(trainable), int(total)
    trainable = total = 0
    for parameter in model.parameters():
        count = parameter.numel()
        if type(parameter).__name__ == "Params4bit":
            count *= 2
        total += count
        if parameter.requires_grad:
            trainable += count
    return trainable, total
