"""Dispatch ``method.name`` to its builder; each returns the model ready for the Trainer.

What a method is (its fields, capabilities, default learning rate) is in ``config/methods.py``; here is only
how it is built: ``BUILDERS`` has one entry per registered method (a test checks). peft methods live in
``peft_methods`` (their peft config in ``PEFT_CONFIGS``), BitFit and freeze in ``selective``, bottleneck adapters in
``bottleneck``; layer-wise learning rates (``layerwise``) are an optimizer setting on top of full or freeze.
"""
from __future__ import annotations

from pathlib import Path

from fttui.config.schema import RunConfig
from fttui.engine.methods.bottleneck import apply_adapters, is_bottleneck_folder, load_adapters
from fttui.engine.methods.peft_methods import PEFT_CONFIGS, apply_peft, load_peft_adapter
from fttui.engine.methods.selective import apply_bitfit, apply_freeze


def _full(model, config: RunConfig, task: str):
    return model.requires_grad_(True)


def _bitfit(model, config: RunConfig, task: str):
    apply_bitfit(model, task)
    return model


def _freeze(model, config: RunConfig, task: str):
    apply_freeze(model, config.method.trainable_layers)
    return model


def _adapter(model, config: RunConfig, task: str):
    apply_adapters(model, config.method.adapter_reduction, config.method.adapter_placement, task)
    return model


def _ours(build):
    """One of our own builders (no peft: the choice of trainable parameters is ours), then checkpointing."""
    def apply(model, config: RunConfig, task: str, tokenizer_path: str):
        model = build(model, config, task)
        if config.training.gradient_checkpointing:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        return model

    return apply


BUILDERS = {  # one per method of config/methods.py; peft wires checkpointing to its adapters itself
    "full": _ours(_full), "bitfit": _ours(_bitfit), "freeze": _ours(_freeze), "adapter": _ours(_adapter),
    **dict.fromkeys(PEFT_CONFIGS, apply_peft),
}


def apply_method(model, config: RunConfig, task: str, tokenizer_path: str):
    """The model ready for the Trainer, built by its method's builder."""
    return BUILDERS[config.method.name](model, config, task, tokenizer_path)


def load_adapter(base, folder: Path):
    """What a run saved in ``adapter/``, attached to a fresh copy of its base model (peft or bottleneck)."""
    if is_bottleneck_folder(folder):
        return load_adapters(base, folder)
    return load_peft_adapter(base, folder)


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
