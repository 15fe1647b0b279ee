"""Method settings (issue 5): every method has a default learning rate, impossible combinations are config errors."""
from __future__ import annotations

import pytest

from fttui.config import validate_config
from fttui.config.schema import DEFAULT_LEARNING_RATES, METHODS, MethodSection, saved_folder
from fttui.errors import ConfigError


def config(method: dict, **training):
    return validate_config({"data": {"train": "t.jsonl"}, "method": method, "training": training})


def test_every_method_is_declared_once_with_a_learning_rate():
    assert set(METHODS) == set(DEFAULT_LEARNING_RATES)
    assert set(MethodSection.model_fields["name"].annotation.__args__) == set(METHODS)
    assert all(field.description for field in MethodSection.model_fields.values())  # the wizard shows them


@pytest.mark.parametrize("method", ["prompt", "prefix", "ptuning"])
def test_virtual_token_methods_refuse_gradient_checkpointing(method):
    with pytest.raises(ConfigError, match="gradient_checkpointing"):
        config({"name": method}, gradient_checkpointing=True)


@pytest.mark.parametrize("method", ["lora", "adapter", "bitfit"])
def test_layer_lr_decay_needs_full_or_freeze(method):
    with pytest.raises(ConfigError, match="full or freeze"):
        config({"name": method, "layer_lr_decay": 0.9})
    assert config({"name": "freeze", "layer_lr_decay": 0.9}).method.layer_lr_decay == 0.9


@pytest.mark.parametrize("value", [0, 1.5, -0.1])
def test_layer_lr_decay_is_in_zero_one(value):
    with pytest.raises(ConfigError, match="layer_lr_decay"):
        config({"name": "full", "layer_lr_decay": value})


def test_adapter_placement_is_a_choice_and_results_land_in_the_right_folder():
    with pytest.raises(ConfigError, match="adapter_placement"):
        config({"name": "adapter", "adapter_placement": "middle"})
    assert [saved_folder(m) for m in ("full", "bitfit", "freeze")] == ["model"] * 3
    assert {saved_folder(m) for m in METHODS} - {"model"} == {"adapter"}
