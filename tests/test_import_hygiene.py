"""Layering: config, planning, hardware, runner, commands, events and the CLI never load torch or textual; the
TUI loads textual but not torch; the engine never loads textual; planning reads config but no other layer."""
from __future__ import annotations

import json
import pkgutil
import subprocess
import sys

import fttui.commands
import fttui.planning
import fttui.runner
import fttui.tui

HEAVY = ("torch", "transformers", "peft", "datasets", "textual")
LIGHT_MODULES = ("fttui.config", "fttui.runner.headless", "fttui.runner.supervisor", "fttui.runner.console",
                 "fttui.events", "fttui.cli", "fttui.errors", "fttui.atomic", "fttui.runner.jobs",
                 "fttui.runner.run_folder", "fttui.runner.summary", "fttui.commands.runs")


def modules_of(package) -> list[str]:
    """Every module of ``package`` and of its subpackages, named for import."""
    return [package.__name__] + [m.name for m in pkgutil.walk_packages(package.__path__, package.__name__ + ".")]


def loaded_after(code: str, layers: bool = False) -> set[str]:
    """Top-level packages (of HEAVY) in sys.modules after running ``code`` in a fresh interpreter; with
    ``layers``, the fttui subpackages loaded too (``fttui.engine``, ``fttui.tui``...)."""
    wanted = f"{{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r})"
    if layers:
        wanted += " | {'.'.join(m.split('.')[:2]) for m in sys.modules if m.startswith('fttui.')}"
    probe = code + f"\nimport json, sys\nprint(json.dumps(sorted({wanted})))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return set(json.loads(result.stdout.strip().splitlines()[-1]))


def imports(modules) -> str:
    return "\n".join(f"import {name}" for name in modules)


def test_probe_detects_a_heavy_import():
    assert loaded_after("import textual") == {"textual"}  # the probe itself works


def test_light_modules_do_not_load_torch_or_textual():
    assert loaded_after("\n".join(f"import {name}" for name in LIGHT_MODULES)) == set()


def test_planning_hardware_runner_and_commands_load_nothing_heavy():
    modules = [*modules_of(fttui.planning), "fttui.hardware", *modules_of(fttui.runner), *modules_of(fttui.commands)]
    assert loaded_after(imports(modules)) == set()


def test_planning_reads_config_and_no_other_layer():
    layers = loaded_after(imports(modules_of(fttui.planning)), layers=True)
    assert "fttui.config" in layers and not layers & {"fttui.engine", "fttui.tui", "fttui.runner", "fttui.commands"}
    assert not layers & set(HEAVY)


def test_planning_a_run_from_the_cli_and_the_wizard_loads_no_torch(tmp_path):
    code = (f"import os; os.chdir({str(tmp_path)!r})\n"
            "from fttui.cli import main\nassert main(['recommend', '--preset', 'quickstart', '--json']) == 0\n"
            "from fttui.config import load_config\nfrom fttui.hardware import detect\nfrom fttui.tui import services\n"
            "shape, config, report = services.load_shape('builtin'), load_config('quickstart'), detect()\n"
            "assert services.estimate_config(config, shape, report) is not None\n"
            "services.recommend(shape, report, config.model_dump(mode='json'))")
    assert loaded_after(code) == set()


def test_the_tui_loads_textual_but_not_torch():
    assert loaded_after(imports(modules_of(fttui.tui))) == {"textual"}


def test_building_the_cli_parser_loads_nothing_heavy():
    # what `fttui --help` does, including every subcommand's register()
    assert loaded_after("from fttui.cli import build_parser\nbuild_parser()") == set()


def test_engine_recipe_does_not_load_textual():
    loaded = loaded_after("import fttui.engine.training.recipe")
    assert "torch" in loaded  # it is the engine: it really imported its stack
    assert "textual" not in loaded


def test_fttui_help_exits_zero():
    result = subprocess.run([sys.executable, "-m", "fttui", "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "--preset" in result.stdout and "exit codes" in result.stdout
    assert result.stderr == ""
