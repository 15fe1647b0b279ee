"""Layering: config, runner, events and the CLI never load torch or textual; the engine never loads textual."""
from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("torch", "transformers", "peft", "datasets", "textual")
LIGHT_MODULES = ("fttui.config", "fttui.runner.headless", "fttui.runner.supervisor", "fttui.runner.console",
                 "fttui.events", "fttui.cli", "fttui.errors", "fttui.atomic", "fttui.runner.jobs",
                 "fttui.runner.run_folder", "fttui.runner.summary", "fttui.commands.runs")


def loaded_after(code: str) -> set[str]:
    """Top-level packages (of HEAVY) in sys.modules after running ``code`` in a fresh interpreter."""
    probe = code + f"\nimport json, sys\nprint(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r}))))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return set(json.loads(result.stdout.strip().splitlines()[-1]))


def test_probe_detects_a_heavy_import():
    assert loaded_after("import textual") == {"textual"}  # the probe itself works


def test_light_modules_do_not_load_torch_or_textual():
    assert loaded_after("\n".join(f"import {name}" for name in LIGHT_MODULES)) == set()


def test_building_the_cli_parser_loads_nothing_heavy():
    # what `fttui --help` does, including every subcommand's register()
    assert loaded_after("from fttui.cli import build_parser\nbuild_parser()") == set()


def test_engine_recipe_does_not_load_textual():
    loaded = loaded_after("import fttui.engine.recipe")
    assert "torch" in loaded  # it is the engine: it really imported its stack
    assert "textual" not in loaded


def test_fttui_help_exits_zero():
    result = subprocess.run([sys.executable, "-m", "fttui", "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "--preset" in result.stdout and "exit codes" in result.stdout
    assert result.stderr == ""
