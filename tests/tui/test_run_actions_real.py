"""Runs screen actions on REAL short runs of the built-in model (child processes, no fakes).

Resume a stopped run to its end, re-attach to a live run and stop it, export a merged model to a folder,
and ask the base and the fine-tuned model the same sentence.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from textual.widgets import Button, Input, Select

from fttui.config import load_config
from fttui.events import Finished, StepLogged, TryAnswered
from fttui.runner.launch import start_run
from fttui.tui.app import FttuiApp
from fttui.tui.screens.export import ExportScreen
from fttui.tui.screens.runs import RunsScreen
from fttui.tui.screens.train import TrainScreen
from fttui.tui.widgets.loss_plot import LossPlot
from fttui.tui.widgets.modals import ConfirmModal

from .conftest import drive, wait_for

pytestmark = pytest.mark.slow  # trains for real end to end: `python -m pytest -m slow`, and CI

SHORT = ["training.batch_size=8", "training.logging_steps=1", "training.save_steps=2", "data.max_train_rows=64",
         "data.max_eval_rows=16", "training.baseline_eval=false"]


def _config(runs: Path, name: str, *more: str):
    return load_config("quickstart", [f"output.runs_dir={runs}", f"output.name={name}", *SHORT, *more])


def _run(config, stop_at: int | None = None) -> Path:
    """Run to the end, or ask for a graceful stop once step ``stop_at`` is logged."""
    run_dir, supervisor = start_run(config)
    stopping = False
    while (event := supervisor.next_event()) is not None:
        if stop_at and not stopping and isinstance(event, StepLogged) and event.step >= stop_at:
            stopping = not supervisor.request_stop()
    supervisor.wait()
    return run_dir


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> Path:
    return _run(_config(tmp_path_factory.mktemp("real") / "runs", "done", "training.max_steps=8"))


async def _runs_screen(pilot, runs: Path, count: int = 1) -> RunsScreen:
    screen = RunsScreen(runs)
    pilot.app.push_screen(screen)
    await wait_for(pilot, lambda: len(screen.runs) == count, what="the run list")
    return screen


def test_resume_a_stopped_run_really_resumes_and_finishes(tmp_path):
    runs = tmp_path / "runs"
    stopped = _run(_config(runs, "stopped", "training.max_steps=16"), stop_at=3)
    stopped_at = json.loads((stopped / "summary.json").read_text())["global_step"]
    assert json.loads((stopped / "summary.json").read_text())["status"] == "stopped" and stopped_at < 16
    app = FttuiApp(runs_dir=runs, start_step=None, cursor_blink=False)

    async def body(pilot):
        screen = await _runs_screen(pilot, runs)
        assert screen.current().status == "stopped"
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, TrainScreen), what="the Train screen")
        train = app.screen
        await wait_for(pilot, lambda: train.result is not None, timeout=180, what="the resumed run's end")
        assert isinstance(train.result, Finished) and train.result.status == "completed"
        assert train.result.summary["global_step"] == 16
        assert train.query_one(LossPlot).train_steps == list(range(1, 17))  # the earlier curve, then the new steps
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: isinstance(app.screen, RunsScreen) and app.screen.runs, what="the Runs screen")
        assert app.screen.current().status == "completed"

    drive(app, body)


def test_reattach_to_a_live_run_and_stop_it(tmp_path):
    runs = tmp_path / "runs"
    run_dir, supervisor = start_run(_config(runs, "live", "training.max_steps=400", "training.save_steps=1000"))
    try:
        while not isinstance(event := supervisor.next_event(), StepLogged):  # under way before the UI opens
            assert event is not None, "the run ended before its first step"
        app = FttuiApp(runs_dir=runs, start_step=None, cursor_blink=False)

        async def body(pilot):
            screen = await _runs_screen(pilot, runs)
            assert screen.current().status == "running"
            await pilot.press("enter")
            await wait_for(pilot, lambda: isinstance(app.screen, TrainScreen), what="the attached Train screen")
            train = app.screen
            assert train.attached
            plot = train.query_one(LossPlot)
            seen = len(plot.train_steps)
            await wait_for(pilot, lambda: len(plot.train_steps) > seen + 2, timeout=60, what="new live steps")
            await pilot.press("s")
            assert isinstance(app.screen, ConfirmModal)
            await pilot.press("enter")
            await wait_for(pilot, lambda: train.result is not None, timeout=120, what="the graceful stop")
            assert train.result.status == "stopped" and train.result.summary["global_step"] < 400

        drive(app, body)
        assert supervisor.wait() == 130  # the worker itself stopped gracefully
    finally:
        supervisor.kill()


def test_export_writes_the_folder(finished_run, tmp_path):
    app = FttuiApp(runs_dir=finished_run.parent, start_step=None, cursor_blink=False)
    out = tmp_path / "merged"

    async def body(pilot):
        await _runs_screen(pilot, finished_run.parent)
        await pilot.press("x")
        screen = app.screen
        assert isinstance(screen, ExportScreen)
        screen.query_one("#merge-dest", Input).value = str(out)
        screen.query_one("#merge-dtype", Select).value = "bfloat16"
        screen.query_one("#merge", Button).press()
        status = screen.query_one("#merge-result")
        await wait_for(pilot, lambda: status.running, what="the export to start")
        await wait_for(pilot, lambda: not status.running, timeout=180, what="the export")
        # the screen writes what was made when it handles JobStatus.Ended, a message after the job's end
        await wait_for(pilot, lambda: "written to" in str(status.render()) or "failed" in str(status.render()),
                       what="the export's result line")
        assert "merged model written to" in str(status.render()), str(status.render())

    drive(app, body)
    assert (out / "model.safetensors").is_file() and (out / "tokenizer.json").is_file()
    assert json.loads((out / "fttui_export.json").read_text())["kind"] == "merged model"
    assert json.loads((out / "config.json").read_text())["dtype"] == "bfloat16"


def test_try_it_answers_with_the_base_and_the_fine_tuned_model(finished_run):
    app = FttuiApp(runs_dir=finished_run.parent, start_step=None, cursor_blink=False)

    async def body(pilot):
        app.push_screen(ExportScreen(finished_run))
        await pilot.pause()
        screen = app.screen
        screen.query_one("#try-input", Input).focus()
        await pilot.press(*"a wonderful, moving film", "enter")
        await wait_for(pilot, lambda: screen.answers, timeout=120, what="the first answer")
        session = screen.session
        await pilot.press(*"dull and broken", "enter")
        await wait_for(pilot, lambda: len(screen.answers) == 2, timeout=60, what="the second answer")
        assert screen.session is session  # loaded once, kept resident
        for answer in screen.answers:
            assert isinstance(answer, TryAnswered) and answer.error is None
            assert {answer.base, answer.tuned} <= {"negative", "positive"}
            assert 0.5 <= answer.base_probability <= 1 and 0.5 <= answer.tuned_probability <= 1
        assert [a.prompt for a in screen.answers] == ["dull and broken", "a wonderful, moving film"]
        await pilot.press("escape")  # closing the screen ends the worker
        await wait_for(pilot, lambda: not session.running, timeout=30, what="the try worker to exit")

    drive(app, body, size=(120, 40))
