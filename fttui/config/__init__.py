"""Run configuration: schema, the method registry (``methods``), presets and overrides.

Pure Python (no torch, no textual).
"""
from fttui.config.presets import (
    apply_overrides,
    dump_config,
    find_preset,
    list_presets,
    load_config,
    validate_config,
)
from fttui.config.schema import BUILTIN_MODEL, RunConfig, effective_learning_rate

__all__ = [
    "BUILTIN_MODEL",
    "RunConfig",
    "apply_overrides",
    "dump_config",
    "effective_learning_rate",
    "find_preset",
    "list_presets",
    "load_config",
    "validate_config",
]
