"""Dispatch ``method.name`` to its builder; each returns the model ready for the Trainer.

peft methods live in ``peft_methods``, BitFit and freeze in ``selective``, bottleneck adapters in
``bottleneck``; layer-wise learning rates (``layerwise``) are an optimizer setting on top of full or freeze.
"""
from __future__ import annotations

from pathlib import Path

from fttui.config.schema import RunConfig
from fttui.engine.bottleneck import apply_adapters, is_bottleneck_folder, load_adapters
from fttui.engine.peft_methods import apply_peft, load_peft_adapter
from fttui.engine.selective import apply_bitfit, apply_freeze

OWN_METHODS = ("full", "bitfit", "freeze", "adapter")  # no peft: the choice of trainable parameters is ours


def apply_method(model, config: RunConfig, task: str, tokenizer_path: str):
    name, method = config.method.name, config.method
    if name not in OWN_METHODS:
        return apply_peft(model, config, task, tokenizer_path)
    if name == "full":
        model.requires_grad_(True)
    elif name == "bitfit":
        apply_bitfit(model, task)
    elif name == "freeze":
        apply_freeze(model, method.trainable_layers)
    else:
        apply_adapters(model, method.adapter_reduction, method.adapter_placement, task)
    if config.training.gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    return model


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
