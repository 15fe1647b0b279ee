"""The whole wizard by keyboard on the real machine: built-in model, bundled data, a REAL training run.

It detects the hardware, reads the model's config, runs the real data preview worker, starts training in
a child process, watches the loss plot receive points, stops the run through the confirmation, and finds
the checkpoint the graceful stop saved on disk.
"""
from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from fttui.events import Finished
from fttui.tui.app import FttuiApp
from fttui.tui.screens.dataset import DatasetScreen
from fttui.tui.screens.hardware import HardwareScreen
from fttui.tui.screens.hyperparams import HyperparamsScreen
from fttui.tui.screens.method import MethodScreen
from fttui.tui.screens.model import ModelScreen
from fttui.tui.screens.review import ReviewScreen
from fttui.tui.screens.runs import RunsScreen
from fttui.tui.screens.train import TrainScreen
from fttui.tui.widgets.loss_plot import LossPlot

from .conftest import wait_for

pytestmark = pytest.mark.slow  # trains for real end to end: `python -m pytest -m slow`, and CI


async def type_into(pilot, selector: str, text: str) -> None:
    """Focus a field and replace its text with keystrokes."""
    pilot.app.screen.query_one(selector).focus()
    await pilot.press("ctrl+a", "ctrl+k", *text)  # to the start, delete to the end, type


def test_wizard_trains_plots_stops_and_checkpoints(tmp_path):
    asyncio.run(walk_the_wizard(tmp_path))


async def walk_the_wizard(tmp_path):
    runs = tmp_path / "runs"
    app = FttuiApp(runs_dir=runs, cursor_blink=False)
    async with app.run_test(size=(100, 32)) as pilot:
        assert isinstance(app.screen, HardwareScreen)
        await wait_for(pilot, lambda: app.draft.hardware is not None, what="hardware detection")
        await pilot.press("ctrl+n")

        assert isinstance(app.screen, ModelScreen)
        await wait_for(pilot, lambda: app.draft.shape is not None, what="the built-in model's config")
        await pilot.press("ctrl+n")

        assert isinstance(app.screen, MethodScreen)
        await pilot.pause()
        assert app.screen.chosen() == "lora"  # 480 rows: LoRA is preselected although Full fits (issue 17)
        assert "480 training rows" in str(app.screen.query_one("#method-intro").render())
        table = app.screen.query_one("#method-table")
        table.focus()
        while app.screen.chosen() != "lora":  # walk the table by keyboard to LoRA
            await pilot.press("down")
        await pilot.press("enter")

        assert isinstance(app.screen, DatasetScreen)
        assert app.draft.get("method", "name") == "lora"
        await wait_for(pilot, lambda: app.draft.preview is not None, timeout=90, what="the real data preview")
        assert app.draft.preview.train_rows == 480
        await pilot.press("ctrl+n")

        assert isinstance(app.screen, HyperparamsScreen)
        await type_into(pilot, "#training-max_steps", "300")  # long enough that Stop interrupts it
        await type_into(pilot, "#training-logging_steps", "1")
        await type_into(pilot, "#training-save_steps", "1000")
        await pilot.press("ctrl+n")

        assert isinstance(app.screen, ReviewScreen), app.screen.query_one("#nav-status").render()
        assert app.draft.get("training", "max_steps") == 300
        await pilot.press("ctrl+n")

        assert isinstance(app.screen, TrainScreen)
        screen = app.screen
        plot = screen.query_one(LossPlot)
        await wait_for(pilot, lambda: plot.points >= 3, timeout=90, what="loss points on the plot")
        assert plot.train_loss and all(loss > 0 for loss in plot.train_loss)

        await pilot.press("s")  # Stop asks first
        await pilot.pause()
        await pilot.press("enter")  # "Stop" is focused
        await wait_for(pilot, lambda: screen.result is not None, timeout=90, what="the graceful stop")
        assert isinstance(screen.result, Finished)
        assert screen.result.status == "stopped"
        assert screen.last_step.step < 300

        run_dir = screen.run_dir
        assert run_dir.parent == runs
        checkpoints = sorted(Path(run_dir, "checkpoints").glob("checkpoint-*"))
        assert checkpoints, "the graceful stop saves a checkpoint"
        assert (checkpoints[-1] / "adapter_model.safetensors").is_file()
        assert (run_dir / "adapter" / "adapter_config.json").is_file()

        await pilot.press("ctrl+r")  # the run is listed as stopped
        assert isinstance(app.screen, RunsScreen)
        await wait_for(pilot, lambda: app.screen.runs, what="the run list")
        (info,) = app.screen.runs.values()
        assert info.status == "stopped"


QUIT_AND_LEAVE = """
import asyncio, os, sys
from fttui.config import load_config
from fttui.tui.app import FttuiApp
from fttui.tui.screens.train import TrainScreen
from fttui.tui.widgets.loss_plot import LossPlot

async def main():
    runs = sys.argv[1]
    app = FttuiApp(runs_dir=runs, start_step=None, cursor_blink=False)
    async with app.run_test() as pilot:
        config = load_config("quickstart", [f"output.runs_dir={runs}", "training.max_steps=40",
                                            "training.logging_steps=1"])
        run_dir, supervisor = app.launch(config)
        await app.push_screen(TrainScreen(run_dir, supervisor))
        plot = app.screen.query_one(LossPlot)
        while plot.points < 2:
            await pilot.pause(0.05)
        await pilot.press("ctrl+q")
        await pilot.click("#choice-leave")
    print(run_dir)

asyncio.run(main())
os._exit(0)  # the UI process is gone, as after quitting fttui
"""


def test_a_run_left_running_finishes_after_the_ui_exits(tmp_path):
    import json
    import subprocess
    import sys
    import time

    out = subprocess.run([sys.executable, "-c", QUIT_AND_LEAVE, str(tmp_path / "runs")], capture_output=True,
                         text=True, timeout=120, check=True).stdout
    run_dir = Path(out.strip().splitlines()[-1])
    summary = run_dir / "summary.json"

    def last_event() -> str:
        from fttui.events import parse_event

        lines = (run_dir / "events.jsonl").read_text().splitlines()
        event = parse_event(lines[-1]) if lines else None  # None for a line being written
        return event.name if event else ""

    deadline = time.monotonic() + 300  # niced, on a machine that may be busy
    while last_event() != "finished" and time.monotonic() < deadline:
        time.sleep(0.2)  # the worker is another process: nothing to await
    assert json.loads(summary.read_text())["status"] == "completed"
    # Nobody read its stdout once the UI was gone: the worker noticed, and kept events.jsonl complete.
    assert "stopped writing events to stdout" in (run_dir / "train.log").read_text()
