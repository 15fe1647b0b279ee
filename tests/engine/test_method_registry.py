"""The method registry walked: every method validates as a config, keeps the rules its capabilities state,
is estimated by its own formula, and builds on a tiny model (its Hyperparameters form: tests/tui/test_forms.py).

A method added to ``config/methods.py`` without a builder or a formula fails here by name.
"""
from __future__ import annotations

import pytest

from fttui.config import validate_config
from fttui.config.methods import METHODS, PLAN_ROWS, SPECS
from fttui.config.schema import PREFERENCE_OBJECTIVES, MethodSection, effective_learning_rate, saved_folder
from fttui.engine.training.device import choose_placement
from fttui.engine.methods.build import BUILDERS, apply_method, count_parameters
from fttui.engine.models.loading import load_model, load_model_config, load_tokenizer, resolve_model
from fttui.errors import ConfigError
from fttui.planning import Compute, estimate_run, shape_from_config
from fttui.planning.formulas import FORMULAS


def test_every_method_has_one_builder_one_formula_per_row_and_declared_fields():
    assert set(BUILDERS) == set(METHODS)
    assert set(FORMULAS) == {row.key for row in PLAN_ROWS} and len(PLAN_ROWS) == len(FORMULAS)
    declared = set(MethodSection.model_fields) - {"name"}
    for spec in SPECS:
        assert set(spec.fields) <= declared, spec.name
    assert declared == {name for spec in SPECS for name in spec.fields}  # no method.* field nobody reads


@pytest.mark.parametrize("objective", PREFERENCE_OBJECTIVES)
def test_preference_objectives_take_the_methods_the_registry_names(objective):
    """training.objective=dpo/kto validates exactly with the methods whose spec lists it."""
    fmt = PREFERENCE_OBJECTIVES[objective]
    for spec in SPECS:
        raw = {"model": {"task": "causal-lm"}, "data": {"train": "pairs.jsonl", "format": fmt},
               "method": {"name": spec.name}, "training": {"objective": objective}}
        assert _refused(lambda: validate_config(raw)) is (objective not in spec.objectives), spec.name
    assert any(objective in spec.objectives for spec in SPECS)


def _config(model: str, task: str, data: str, method: dict, **training):
    return validate_config({"model": {"name": model, "task": task}, "data": {"train": data, "eval": None},
                            "method": method, "training": {"precision": "fp32", "max_length": 32, **training}})


def _refused(build) -> bool:
    try:
        build()
    except ConfigError:
        return True
    return False


@pytest.mark.parametrize("spec", SPECS, ids=lambda spec: spec.name)
def test_each_registered_method_validates_estimates_and_builds(spec, tiny_bert, sentiment_file):
    model, task, data = tiny_bert, "seq-cls", sentiment_file  # causal LMs: test_estimates_agree builds each
    source = resolve_model(model)
    for row in spec.rows:
        method = {"name": spec.name, **row.values}
        config = _config(model, task, data, method)
        assert effective_learning_rate(config) == spec.learning_rate
        assert saved_folder(spec.name) == ("model" if spec.saves_whole_model else "adapter")
        # what the capabilities say, the schema enforces
        assert _refused(lambda: _config(model, task, data, method, gradient_checkpointing=True)) \
            is not spec.gradient_checkpointing
        assert _refused(lambda: _config(model, task, data, method, distributed="fsdp", device="cuda")) \
            is bool(spec.unshardable)
        assert _refused(lambda: _config(model, task, data, {**method, "layer_lr_decay": 0.9})) is not spec.layerwise
        # the planner sizes it with its own formula
        model_config = load_model_config(source, config)
        estimate = estimate_run(config, shape_from_config(model_config.to_dict()), Compute("cpu", False))
        assert estimate.method == row.key and estimate.total_gb > 0 and estimate.trainable_params > 0
        # and the engine builds it
        placement = choose_placement("cpu", "fp32")
        tokenizer = load_tokenizer(source, config)
        built = apply_method(load_model(source, config, task, ["neg", "pos"], placement, tokenizer), config, task,
                             source.path)
        trainable, total = count_parameters(built)
        assert 0 < trainable <= total, (spec.name, trainable, total)
        assert (trainable == total) is (spec.name == "full")
