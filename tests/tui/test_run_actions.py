"""Runs screen actions with a fake services: Resume, Continue (epochs validated inline), Export (the Export & try
screen), and Try it."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from textual.widgets import Button, Input, Select, Static

from fttui.events import Evaluated, Finished, Started, StepLogged
from fttui.tui.screens.export import ExportScreen
from fttui.tui.screens.run_actions import EpochsModal, epochs_problem
from fttui.tui.screens.runs import RunsScreen
from fttui.tui.screens.train import TrainScreen
from fttui.tui.widgets.loss_plot import LossPlot

from .conftest import drive, RUN_NAME, FakeServices, recorded_events, wait_for, write_run

STOPPED = "quickstart-20260101-110000"


def _runs(workdir) -> tuple[Path, Path]:
    """A finished run (with its adapter) and a stopped one (with a checkpoint), as the runner leaves them."""
    events = recorded_events()
    finished = next(e for e in events if isinstance(e, Finished))
    done = write_run(workdir / "runs", RUN_NAME, events, finished.summary)
    stopped_summary = {**finished.summary, "status": "stopped", "global_step": 20}
    stopped = write_run(workdir / "runs", STOPPED, events[:20], stopped_summary)
    (stopped / "checkpoints" / "checkpoint-20").mkdir(parents=True)
    (stopped / "checkpoints" / "checkpoint-20" / "trainer_state.json").write_text("{}")
    (stopped / "checkpoints" / "checkpoint-20" / "adapter_model.safetensors").write_bytes(b"\x02" + b"\0" * 7 + b"{}")
    return done, stopped


async def _open_runs(pilot, select: str) -> RunsScreen:
    screen = RunsScreen(Path("runs"))
    pilot.app.push_screen(screen)
    await wait_for(pilot, lambda: len(screen.runs) == 2, what="the run list")
    while screen.current().name != select:
        await pilot.press("down")
    return screen


def _notes(app) -> list[str]:
    """Notifications are off under run_test; keep their text to check what the user was told."""
    notes: list[str] = []
    app.notify = lambda message, **kwargs: notes.append(message)
    return notes


def _text(renderable) -> str:
    from rich.console import Console

    console = Console(width=100, record=True, file=open("/dev/null", "w"))
    console.print(renderable)
    return console.export_text()


def test_epochs_problem_says_what_is_wrong():
    assert "not a number" in epochs_problem("two", 2.0)
    assert "positive" in epochs_problem("-1", 0.0)
    assert "more than that" in epochs_problem("2", 2.0)
    assert epochs_problem("3.5", 2.0) is None


def test_continue_flags_a_bad_epoch_value_inline_then_continues(make_app, workdir):
    done, _ = _runs(workdir)
    app = make_app(None)

    async def body(pilot):
        await _open_runs(pilot, RUN_NAME)
        await pilot.press("c")
        assert isinstance(app.screen, EpochsModal)
        field = app.screen.query_one("#epochs-input", Input)
        error = app.screen.query_one("#epochs-error", Static)
        for bad, expected in (("lots", "not a number"), ("1", "trained 2 epochs already")):
            field.value = bad
            await pilot.press("enter")
            assert isinstance(app.screen, EpochsModal) and error.has_class("visible")
            assert expected in str(error.render())
        field.value = "5"
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, TrainScreen), what="the Train screen")
        assert app.screen.run_dir == Path("runs") / RUN_NAME
        assert app.services.resumes == [(Path("runs") / RUN_NAME, ["training.epochs=5"])]
        await wait_for(pilot, lambda: app.screen.result is not None, what="the replayed run")

    app.services.hold = False
    drive(app, body)


def test_resume_is_offered_for_a_stopped_run_only(make_app, workdir):
    _, stopped = _runs(workdir)
    recorded = recorded_events()
    resumed = [replace(e, resumed_from_step=20) if isinstance(e, Started) else e for e in recorded
               if not isinstance(e, (StepLogged, Evaluated)) or e.step > 20]  # what the resumed worker reports
    app = make_app(None, services=FakeServices(resumed, hold=False))
    notes = _notes(app)

    async def body(pilot):
        screen = await _open_runs(pilot, RUN_NAME)
        await pilot.press("r")  # a finished run is continued, not resumed
        assert app.screen is screen and "c continues" in notes[-1]
        assert "c: more epochs" in str(screen.query_one("#run-detail").render())
        while screen.current().name != STOPPED:
            await pilot.press("down")
        assert "r resumes from checkpoint-20" in str(screen.query_one("#run-detail").render())
        await pilot.press("c")  # a stopped run is resumed, not continued
        assert app.screen is screen and "r resumes" in notes[-1]
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, TrainScreen), what="the Train screen")
        assert app.services.resumes == [(Path("runs") / STOPPED, None)]
        train = app.screen
        await wait_for(pilot, lambda: train.result is not None, what="the resumed run's end")
        plot = train.query_one(LossPlot)  # the earlier curve up to the checkpoint, then the new steps
        assert plot.train_steps == [e.step for e in recorded if isinstance(e, StepLogged) and e.loss is not None]

    drive(app, body)


def test_x_opens_the_one_export_ui_and_exports_with_the_chosen_options(make_app, workdir):
    _runs(workdir)
    app = make_app(None)

    async def body(pilot):
        runs = await _open_runs(pilot, RUN_NAME)
        await pilot.press("x")  # the same screen as e: every export (adapter, merged, GGUF) is offered there
        assert isinstance(app.screen, ExportScreen)
        screen = app.screen
        screen.query_one("#merge-dest", Input).value = ""
        screen.query_one("#merge", Button).press()
        await pilot.pause()
        assert "give a folder" in str(screen.query_one("#merge-result").render())
        screen.query_one("#merge-dest", Input).value = "out/merged"
        screen.query_one("#merge-dtype", Select).value = "float16"
        screen.query_one("#merge", Button).press()
        await wait_for(pilot, lambda: "written to" in str(screen.query_one("#merge-result").render()),
                       what="the export result")
        assert "merged model written to out/merged" in str(screen.query_one("#merge-result").render())
        assert app.services.merges == [(Path("runs") / RUN_NAME, Path("out/merged"), "float16")]
        await pilot.press("escape")
        assert app.screen is runs

    drive(app, body, size=(120, 40))


@pytest.mark.parametrize("size", [(120, 40), (80, 24)])
def test_try_it_shows_both_answers_and_ends_the_worker_with_the_screen(make_app, workdir, size):
    done, _ = _runs(workdir)
    app = make_app(None)

    async def body(pilot):
        app.push_screen(ExportScreen(done))
        await pilot.pause()
        screen = app.screen
        assert str(screen.query_one(".field-line Label").render())  # the form is there
        field = screen.query_one("#try-input", Input)
        field.focus()
        await pilot.press("enter")
        assert "type a sentence first" in str(screen.query_one("#try-status").render())
        await pilot.press(*"a great film")
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen.answers, what="the answer")
        session = screen.session
        assert session.asked == ["a great film"] and field.value == ""
        shown = _text(screen.query_one("#try-answers").content)
        assert "negative (52%)" in shown and "positive (97%)" in shown
        assert "ready" in str(screen.query_one("#try-status").render())
        await pilot.pause()
        answers = screen.query_one("#try-answers")
        assert answers.region.height > 0 and answers.region.y < screen.region.bottom  # in view at 80x24 too
        await pilot.press("escape")
        await pilot.pause()
        assert session.closed

    drive(app, body, size=size)


def test_a_resumed_run_is_judged_by_its_last_worker_and_long_files_by_their_tail(workdir):
    from fttui.events import Planned
    from fttui.runner.run_folder import TAIL_BYTES, RunFolder

    events = recorded_events()
    finished = next(e for e in events if isinstance(e, Finished))
    first_part = [e for e in events if not isinstance(e, Finished)][:20]
    stopped = replace(finished, status="stopped", summary={**finished.summary, "status": "stopped"})
    planned, started = (next(e for e in events if isinstance(e, kind)) for kind in (Planned, Started))
    resumed = [planned, replace(started, resumed_from_step=20)]
    steps = [StepLogged(step=n, max_steps=5000, epoch=n / 100, loss=0.5) for n in range(21, 2021)]
    run = write_run(workdir / "runs", STOPPED, first_part + [stopped] + resumed + steps, stopped.summary)
    assert (run / "events.jsonl").stat().st_size > 2 * TAIL_BYTES
    info = RunFolder(run).read()
    assert info.status == "interrupted"  # the resumed worker has not finished (and is not running here)
    assert (info.step, info.max_steps) == (2020, 5000)
    assert info.started == first_part[0].time
    with open(run / "events.jsonl", "a") as handle:
        handle.write(finished.to_json() + "\n")
    assert RunFolder(run).read().status == "completed"


def test_the_runs_screen_is_kept_and_reads_only_what_was_appended(make_app, workdir):
    events = recorded_events()
    cut = next(i for i, e in enumerate(events) if isinstance(e, StepLogged) and e.step >= 20)
    run = write_run(workdir / "runs", RUN_NAME, events[:cut])
    app = make_app(None)

    async def body(pilot):
        app.action_runs()  # what ctrl+r does on every other screen
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, RunsScreen)
        plot = screen.query_one(LossPlot)
        await wait_for(pilot, lambda: screen.runs and plot.train_steps, what="the run and its curve")
        assert screen.current().status == "interrupted"
        (path,) = screen.curves
        offset = screen.curves[path][0]
        assert offset == (run / "events.jsonl").stat().st_size
        await pilot.press("escape")
        with open(run / "events.jsonl", "a") as handle:  # the run went on while we looked elsewhere
            handle.write("".join(e.to_json() + "\n" for e in events[cut:]))
        app.action_runs()
        await pilot.pause()
        assert app.screen is screen  # the same screen, not a rebuilt one
        await wait_for(pilot, lambda: screen.current().status == "completed", what="the refreshed list")
        await wait_for(pilot, lambda: plot.train_steps[-1] == 60, what="the appended points")
        assert plot.train_steps == [e.step for e in events if isinstance(e, StepLogged) and e.loss is not None]
        assert screen.curves[path][0] == (run / "events.jsonl").stat().st_size > offset  # read on from there

    drive(app, body)


def test_revisiting_runs_changes_only_what_changed(make_app, workdir):
    from textual.widgets import DataTable

    events = recorded_events()
    finished = next(e for e in events if isinstance(e, Finished))
    cut = next(i for i, e in enumerate(events) if isinstance(e, StepLogged) and e.step >= 20)
    older = write_run(workdir / "runs", "older-20251231-120000", events, finished.summary)
    live = write_run(workdir / "runs", RUN_NAME, events[:cut])
    app = make_app(None)

    async def visit(pilot, screen, done, what):
        await pilot.press("escape")
        app.action_runs()
        await pilot.pause()
        assert app.screen is screen
        await wait_for(pilot, done, what=what)

    async def body(pilot):
        app.action_runs()
        await pilot.pause()
        screen = app.screen
        table, plot = screen.query_one(DataTable), screen.query_one(LossPlot)

        def key(run):  # rows are keyed by the run's folder as listed
            return str(screen.runs_dir / run.name)

        await wait_for(pilot, lambda: table.row_count == 2 and plot.train_steps, what="the runs and a curve")
        await pilot.pause(0.6)  # the plot's pending redraws are done
        rows = dict(table.rows)
        redraws = plot.redraws
        await visit(pilot, screen, lambda: screen.visits == 2, "the second visit")
        await pilot.pause(0.2)
        assert dict(table.rows) == rows and all(table.rows[k] is rows[k] for k in rows)  # not rebuilt
        assert plot.redraws == redraws  # same run, nothing appended: not redrawn
        with open(live / "events.jsonl", "a") as handle:
            handle.write("".join(e.to_json() + "\n" for e in events[cut:]))
        await visit(pilot, screen, lambda: str(table.get_row(key(live))[1]) == "completed", "the finished run")
        assert all(table.rows[k] is rows[k] for k in rows)
        assert table.get_row(key(live))[4] == "60/60"
        table.move_cursor(row=table.get_row_index(key(older)))
        write_run(workdir / "runs", "newest-20260102-120000", events, finished.summary)
        await visit(pilot, screen, lambda: table.row_count == 3, "the new run")
        assert screen.current().name == older.name  # the cursor stays on the run it was on

    drive(app, body)
