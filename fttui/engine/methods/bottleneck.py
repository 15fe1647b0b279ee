"""Bottleneck adapters (Houlsby et al. 2019; Pfeiffer et al. 2020), a small implementation of our own.

The ``adapters`` library pins transformers 4.x, and the method is a few lines: a down-projection, a ReLU and an
up-projection with a residual, added to the output of a block's attention and/or feed-forward output projection
through a forward hook. The up-projection starts at zero, so training starts from the unchanged model. The base
model's weights and state-dict names stay as they are; only adapter (and classifier head) weights are saved, as
safetensors plus a JSON file naming the base model, and they load back onto a fresh copy of that base.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

from fttui.engine.models.anatomy import is_classifier_head, sublayer_outputs
from fttui.errors import ConfigError

WEIGHTS = "bottleneck_adapter.safetensors"
CONFIG = "bottleneck_config.json"


class Bottleneck(nn.Module):
    """``x + up(relu(down(x)))``, computed in the adapter's dtype (fp32) whatever the base runs in."""

    def __init__(self, width: int, reduction: int, device=None):
        super().__init__()
        inner = max(1, width // reduction)
        self.down = nn.Linear(width, inner, device=device)
        self.act = nn.ReLU()
        self.up = nn.Linear(inner, width, device=device)
        nn.init.zeros_(self.up.weight)
        nn.init.zeros_(self.up.bias)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        update = self.up(self.act(self.down(hidden.to(self.down.weight.dtype))))
        return hidden + update.to(hidden.dtype)


def _through_adapter(module, inputs, output):
    return module.bottleneck(output)


def add_adapters(model, reduction: int, placement: str) -> list[str]:
    """Attach an adapter to each chosen output projection; returns their full module names."""
    names = sublayer_outputs(model, placement)
    for name in names:
        layer = model.get_submodule(name)
        width = getattr(layer, "out_features", None) or getattr(layer, "nf", None)
        if not width:
            raise ConfigError(f"{name} ({type(layer).__name__}) is not a linear layer an adapter can follow",
                              "use method.name=lora for this model")
        layer.add_module("bottleneck", Bottleneck(width, reduction, device=layer.weight.device))
        layer.register_forward_hook(_through_adapter)
    return names


def adapter_weight_names(model, task: str) -> list[str]:
    """What a bottleneck run trains and saves: the adapters, and the classifier head for classification."""
    return [name for name, _ in model.named_parameters()
            if ".bottleneck." in name or (task == "seq-cls" and is_classifier_head(name))]


def apply_adapters(model, reduction: int, placement: str, task: str):
    """Freeze the base, add adapters, and train only them (plus a new classifier head)."""
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    modules = add_adapters(model, reduction, placement)
    trained = set(adapter_weight_names(model, task))
    for name, parameter in model.named_parameters():
        parameter.requires_grad_(name in trained)
    model.bottleneck_settings = {"reduction": reduction, "placement": placement, "task": task, "modules": modules,
                                 "model_type": model.config.model_type}
    return model


def save_adapters(model, folder: Path, base_model: str, base_model_path: str) -> None:
    """``bottleneck_adapter.safetensors`` (adapter and head weights) and ``bottleneck_config.json``."""
    from safetensors.torch import save_file

    settings = model.bottleneck_settings
    parameters = dict(model.named_parameters())
    weights = {name: parameters[name].detach().to("cpu").contiguous()
               for name in adapter_weight_names(model, settings["task"])}
    save_file(weights, str(folder / WEIGHTS), metadata={"format": "pt"})
    info = {"method": "bottleneck", **settings, "base_model": base_model, "base_model_path": base_model_path}
    (folder / CONFIG).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")


def is_bottleneck_folder(folder: Path) -> bool:
    return (Path(folder) / CONFIG).is_file()


def load_adapters(base, folder: Path):
    """Attach the saved adapters (and head) to ``base``, a fresh copy of the model they were trained on."""
    from safetensors.torch import load_file

    folder = Path(folder)
    settings = json.loads((folder / CONFIG).read_text(encoding="utf-8"))
    modules = add_adapters(base, settings["reduction"], settings["placement"])
    if modules != settings["modules"]:
        raise ConfigError(f"the adapters in {folder} were trained on a model with different layers",
                          f"load them onto their base model: {settings.get('base_model')}")
    device = next(base.parameters()).device
    weights = load_file(str(folder / WEIGHTS), device=str(device))
    _, unexpected = base.load_state_dict(weights, strict=False)
    if unexpected:
        raise ConfigError(f"{folder / WEIGHTS} holds weights this model does not have: {', '.join(unexpected[:3])}",
                          f"load them onto their base model: {settings.get('base_model')}")
    base.bottleneck_settings = {key: settings[key] for key in ("reduction", "placement", "task", "modules", "model_type")}
    return base


def load_from_folder(folder: Path, dtype: torch.dtype = torch.float32):
    """Base model (from the path recorded at save time) plus adapters, without a run folder."""
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification

    folder = Path(folder)
    settings = json.loads((folder / CONFIG).read_text(encoding="utf-8"))
    if settings["task"] == "seq-cls":
        labels = json.loads((folder / "labels.json").read_text(encoding="utf-8"))
        base = AutoModelForSequenceClassification.from_pretrained(
            settings["base_model_path"], dtype=dtype, num_labels=len(labels), id2label=dict(enumerate(labels)),
            label2id={label: i for i, label in enumerate(labels)})
    else:
        base = AutoModelForCausalLM.from_pretrained(settings["base_model_path"], dtype=dtype)
    return load_adapters(base, folder)
