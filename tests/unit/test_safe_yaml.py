"""Hostile or careless YAML in presets and run configs: alias bombs, duplicate keys, deep nesting, huge values."""
from __future__ import annotations

import contextlib
import gc
import time
import tracemalloc

import pytest
import yaml

from fttui.config import load_config
from fttui.config import safe_yaml
from fttui.errors import ConfigError


def bomb(levels: int = 9, width: int = 9) -> str:
    """The classic "billion laughs": each level is ``width`` aliases of the one below (9**9 values)."""
    lines = ["data:", "  train: t.jsonl", f"l0: &l0 [{', '.join(['lol'] * width)}]"]
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * width)}]" for i in range(1, levels + 1)]
    return "\n".join([*lines, f"model:\n  name: *l{levels}\n"])


# Expanding the 9**9 values would take minutes; refusing takes milliseconds. The bound leaves room for a slow
# CI machine, and the collector is paused so that a full collection of the whole suite's heap (seconds,
# under tracemalloc) cannot land inside the timed call.
QUICK_S = 2.0


@contextlib.contextmanager
def no_gc_pause():
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def config_error(*args) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_config(*args)
    return info.value


@pytest.fixture(params=["libyaml", "python"])
def loader(request, monkeypatch):
    """Every check holds for libyaml's loader and for the pure-Python fallback."""
    if request.param == "libyaml" and not hasattr(yaml, "CSafeLoader"):
        pytest.skip("PyYAML built without libyaml")
    monkeypatch.setattr(safe_yaml, "LOADER", yaml.CSafeLoader if request.param == "libyaml" else yaml.SafeLoader)
    return request.param


def test_an_alias_bomb_is_refused_quickly_in_bounded_memory_naming_file_and_line(tmp_path, loader):
    preset = tmp_path / "bomb.yaml"
    preset.write_text(bomb(), encoding="utf-8")
    with no_gc_pause():
        tracemalloc.start()
        started = time.perf_counter()
        try:
            error = config_error(str(preset))
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        elapsed = time.perf_counter() - started
    assert elapsed < QUICK_S
    assert peak < 20 * 2**20
    assert f"{preset}:" in error.message and "aliases" in error.message and len(error.message) < 300


def test_an_alias_bomb_in_a_set_override_is_refused():
    value = "&l0 [" + ", ".join(["x"] * 9) + "]"
    for level in range(1, 9):  # flow YAML: each level holds the one below once and 8 aliases of it
        value = f"&l{level} [" + ", ".join([value] + [f"*l{level - 1}"] * 8) + "]"
    error = config_error(None, ["data.train=t.jsonl", f"method.lora_targets={value}"])
    assert "--set method.lora_targets: aliases (*name) expand to more than" in error.message
    assert len(error.message) < 300


def test_aliases_within_the_budget_still_work(tmp_path, loader):
    preset = tmp_path / "p.yaml"
    preset.write_text("data:\n  train: t.jsonl\nmethod:\n  lora_targets: &t [q_proj, v_proj]\n"
                      "  ia3_targets: *t\n", encoding="utf-8")
    config = load_config(str(preset))
    assert config.method.lora_targets == config.method.ia3_targets == ["q_proj", "v_proj"]


def test_a_recursive_alias_is_refused(loader):
    with pytest.raises(safe_yaml.RefusedYAML, match="contains it"):
        safe_yaml.loads("a: &r [1, *r]\n")


def test_a_duplicated_section_names_both_lines(tmp_path, loader):
    preset = tmp_path / "dup.yaml"
    preset.write_text("data:\n  train: t.jsonl\ntraining:\n  max_steps: 5\nmethod:\n  name: lora\n"
                      "\n\ntraining:\n  epochs: 3\n", encoding="utf-8")
    error = config_error(str(preset))
    assert "training: defined at line 3 and again at line 9" in error.message
    assert error.message.startswith(f"{preset}:9:")


def test_a_duplicated_nested_key_names_its_path_and_lines(loader):
    with pytest.raises(safe_yaml.RefusedYAML) as info:
        safe_yaml.loads("training:\n  epochs: 1\n  seed: 3\n  epochs: 2\n")
    assert "training.epochs: defined at line 2 and again at line 4" in info.value.problem
    with pytest.raises(safe_yaml.RefusedYAML, match="line 1 and again at line 2"):
        safe_yaml.loads("yes: 1\ntrue: 2\n")  # equal as values, so one would silently win


def test_a_merge_key_may_be_overridden(loader):
    assert safe_yaml.loads("base: &b {x: 1, y: 2}\nrun:\n  <<: *b\n  x: 3\n")["run"] == {"x": 3, "y": 2}


def test_deep_nesting_is_a_clear_error_not_a_recursion_error(tmp_path, loader):
    preset = tmp_path / "deep.yaml"
    preset.write_text("data:\n  train: " + "[" * 500 + "]" * 500 + "\n", encoding="utf-8")
    assert "nested" in config_error(str(preset)).message


def test_a_huge_value_is_shown_as_a_short_excerpt(tmp_path):
    preset = tmp_path / "big.yaml"
    preset.write_text(f"data:\n  train: t.jsonl\ntraining:\n  epochs: {'9x' * 50_000}\n  "
                      f"{'k' * 900}: 1\n", encoding="utf-8")
    error = config_error(str(preset))
    assert "training.epochs" in error.message and "unknown key" in error.message
    assert max(len(line) for line in error.message.splitlines()) < 200


def test_a_bad_set_item_is_echoed_short():
    error = config_error(None, ["x" * 10_000])
    assert max(len(line) for line in error.message.splitlines()) < 200


def test_the_runs_screen_survives_a_hostile_config(tmp_path):
    from fttui.runner.run_folder import RunFolder, parse

    for name, text in (("bomb", bomb()), ("dup", "method:\n  name: lora\nmethod:\n  name: full\n")):
        run = tmp_path / name
        run.mkdir()
        (run / "config.yaml").write_text(text, encoding="utf-8")
        with no_gc_pause():
            started = time.perf_counter()
            info = parse(RunFolder(run))
            elapsed = time.perf_counter() - started
        assert elapsed < QUICK_S
        assert info.method == "?"


def test_a_normal_config_loads_as_with_safe_load():
    text = "model:\n  name: builtin\ntraining:\n  epochs: 1.5\n  report_to: []\n  seed: 0x10\n"
    assert safe_yaml.loads(text) == yaml.safe_load(text)
    assert safe_yaml.loads("") is None
