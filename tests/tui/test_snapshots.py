"""Snapshots of every screen at 80x24 (SSH) and 120x40, on a fixed machine with recorded events.

Update them after an intended change with ``pytest tests/tui --snapshot-update`` and look at the report.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import DataTable

from fttui.events import Finished, StepLogged
from fttui.tui.screens.export import ExportScreen
from fttui.tui.screens.runs import RunsScreen
from fttui.tui.screens.train import TrainScreen
from fttui.tui.widgets.loss_plot import CoalescedPlot, LossPlot

from .conftest import RUN_NAME, recorded_events, recorded_preference_events, wait_for, write_run
from .fakes import ReplaySupervisor

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((120, 40), id="120x40")]
STEP_NAMES = ["hardware", "model", "method", "dataset", "hyperparams", "review"]


async def _settle(pilot) -> None:
    await pilot.pause()
    await pilot.wait_for_scheduled_animations()
    for screen in pilot.app.screen_stack:  # a modal on top must not hide an unflushed plot below it
        for plot in screen.query(CoalescedPlot):  # the loss plot, and a preference run's second plot
            plot.flush()
    await pilot.pause()


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("step", range(6), ids=STEP_NAMES)
def test_wizard_step(snap_compare, make_app, size, step):
    app = make_app(step)

    async def ready(pilot):
        if step == 3:
            await wait_for(pilot, lambda: app.draft.preview is not None, what="the data preview")
        await _settle(pilot)

    assert snap_compare(app, terminal_size=size, run_before=ready)


def _train_app(make_app, events, hold: bool):
    app = make_app(None)
    screen = TrainScreen(Path("runs") / RUN_NAME, ReplaySupervisor(events, hold=hold))

    async def ready(pilot):
        app.push_screen(screen)
        await wait_for(pilot, lambda: screen.events_seen == len(events), what="the recorded events")
        await _settle(pilot)

    return app, ready


@pytest.mark.parametrize("size", SIZES)
def test_train_running(snap_compare, make_app, size):
    events = recorded_events()
    cut = next(i for i, e in enumerate(events) if isinstance(e, StepLogged) and e.step >= 40)
    app, ready = _train_app(make_app, events[: cut + 1], hold=True)
    assert snap_compare(app, terminal_size=size, run_before=ready)


@pytest.mark.parametrize("size", SIZES)
def test_train_finished(snap_compare, make_app, size):
    app, ready = _train_app(make_app, recorded_events(), hold=False)
    assert snap_compare(app, terminal_size=size, run_before=ready)


@pytest.mark.parametrize("size", SIZES)
def test_train_stop_confirmation(snap_compare, make_app, size):
    events = recorded_events()[:12]
    app, ready = _train_app(make_app, events, hold=True)

    async def ask(pilot):
        await ready(pilot)
        await pilot.press("s")
        await _settle(pilot)

    assert snap_compare(app, terminal_size=size, run_before=ask)


@pytest.mark.parametrize("size", SIZES)
def test_runs(snap_compare, make_app, workdir, size):
    from fttui.events import Failed

    events = recorded_events()
    finished = next(e for e in events if isinstance(e, Finished))
    write_run(workdir / "runs", RUN_NAME, events, finished.summary)
    write_run(workdir / "runs", "quickstart-20260101-110000", events[:20])
    failed = Failed(kind="DataError", message="data/train.jsonl line 3: no 'label' field", time=1767265200.0)
    write_run(workdir / "runs", "quickstart-20260101-100000", [events[0], failed])
    app = make_app(None)

    async def ready(pilot):
        screen = RunsScreen(Path("runs"))
        app.push_screen(screen)
        await wait_for(pilot, lambda: len(screen.runs) == 3, what="the run list")
        await wait_for(pilot, lambda: screen.query_one(LossPlot).points > 0, what="the run's curve")
        screen.query_one(DataTable).refresh()  # column widths grew with the rows: redraw the header with them
        await _settle(pilot)

    assert snap_compare(app, terminal_size=size, run_before=ready)


@pytest.mark.parametrize("size", SIZES)
def test_export(snap_compare, make_app, workdir, size):
    events = recorded_events()
    write_run(workdir / "runs", RUN_NAME, events, next(e for e in events if isinstance(e, Finished)).summary)
    app = make_app(None)

    async def ready(pilot):
        app.push_screen(ExportScreen(Path("runs") / RUN_NAME))
        await _settle(pilot)

    assert snap_compare(app, terminal_size=size, run_before=ready)


@pytest.mark.parametrize("size", SIZES)
def test_quit_while_running(snap_compare, make_app, size):
    from .conftest import FakeServices

    events = recorded_events()
    cut = next(i for i, e in enumerate(events) if isinstance(e, StepLogged) and e.step >= 30)
    app = make_app(5, services=FakeServices(events[: cut + 1]))

    async def ready(pilot):
        await pilot.press("ctrl+n")  # start (the fake services replays, then holds as if still training)
        await wait_for(pilot, lambda: isinstance(app.screen, TrainScreen) and app.screen.events_seen == cut + 1,
                       what="the train screen")
        await pilot.press("ctrl+q")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "ChoiceModal", what="the quit question")
        await _settle(pilot)

    assert snap_compare(app, terminal_size=size, run_before=ready)


@pytest.mark.parametrize("size", SIZES)
def test_train_preference_finished(snap_compare, make_app, size):
    """A DPO run: its reward margin and accuracy beside the loss."""
    app, ready = _train_app(make_app, recorded_preference_events("dpo"), hold=False)
    assert snap_compare(app, terminal_size=size, run_before=ready)
