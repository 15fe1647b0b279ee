"""The wizard's flow: steps hand typed results to the app, the app starts the confirmed run, and a worker's exception
anywhere ends in one error dialog (message and hint) instead of a screen left saying it is still busy."""
from __future__ import annotations

import inspect
import pkgutil
from importlib import import_module
from pathlib import Path

from textual.widgets import Button, Input, Static

import fttui.tui
from fttui.errors import ConfigError, DataError
from fttui.planning.recommend import MethodPlan
from fttui.tui.screens.dataset import DatasetScreen
from fttui.tui.screens.hardware import HardwareScreen
from fttui.tui.screens.hyperparams import HyperparamsScreen
from fttui.tui.screens.method import MethodScreen
from fttui.tui.screens.model import ModelScreen
from fttui.tui.screens.review import ReviewScreen
from fttui.tui.screens.train import TrainScreen
from fttui.tui.widgets.modals import ErrorModal
from fttui.tui.worker_errors import REPORT_HINT, ReportsWorkerErrors

from .conftest import FakeServices, drive, wait_for
from .fakes import ReplaySupervisor


def _dialog_text(app) -> str:
    return str(app.screen.query_one(".dialog-text", Static).render())


def test_the_wizard_walks_six_steps_and_the_app_starts_the_confirmed_run(make_app):
    app = make_app(0)

    async def body(pilot):
        for step in (HardwareScreen, ModelScreen, MethodScreen, DatasetScreen, HyperparamsScreen):
            await wait_for(pilot, lambda step=step: isinstance(app.screen, step), what=step.__name__)
            if step is DatasetScreen:
                await wait_for(pilot, lambda: app.draft.preview is not None, what="the preview")
            if step is MethodScreen:
                chosen = app.screen.chosen()
            await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: isinstance(app.screen, ReviewScreen), what="the Review step")
        assert not app.services.configs  # reviewing starts nothing
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: isinstance(app.screen, TrainScreen), what="the Train screen")
        assert isinstance(app.draft.plan, MethodPlan) and app.draft.plan.method == chosen  # the Method step's row
        assert app.screen.supervisor is app.services.started[-1] and app.screen.supervisor in app.live

    drive(app, body)
    (config,) = app.services.configs
    assert config.output.name == app.draft.sections["output"]["name"] == "minilm-lora-train"


def test_a_run_that_cannot_start_shows_why_and_keeps_the_draft(make_app):
    class RefusingOnce(FakeServices):
        refused = False

        def start_run(self, config):
            if not self.refused:
                self.refused = True
                raise ConfigError("runs/my-run exists already", "choose another output.name")
            return super().start_run(config)

    app = make_app(5, services=RefusingOnce())

    async def body(pilot):
        first = app.screen
        name = first.query_one("#output-name", Input)
        name.focus()
        name.value = "my-run"
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: app.screen is not first and app.screen.is_mounted, what="the step again")
        assert isinstance(app.screen, ReviewScreen)
        status = str(app.screen.query_one("#nav-status", Static).render())
        assert status == "runs/my-run exists already (choose another output.name)"
        assert app.screen.query_one("#output-name", Input).value == "my-run"  # what was typed is still there
        assert not app.live
        await pilot.press("ctrl+n")  # the second try starts
        await wait_for(pilot, lambda: isinstance(app.screen, TrainScreen), what="the Train screen")

    drive(app, body)
    assert [c.output.name for c in app.services.configs] == ["my-run"]


def test_an_fttui_error_in_a_worker_opens_the_dialog_with_its_message_and_hint(make_app):
    class Broken(ReplaySupervisor):
        def next_event(self, timeout=0.2):
            raise DataError("data/train.jsonl line 3: not JSON", "fix line 3 or set data.max_bad_rows")

    class BrokenPreview(FakeServices):
        def start_preview(self, config):
            return Broken([])

    app = make_app(3, services=BrokenPreview())

    async def body(pilot):
        await wait_for(pilot, lambda: isinstance(app.screen, ErrorModal), what="the error dialog")
        text = _dialog_text(app)
        assert "data/train.jsonl line 3: not JSON" in text and "hint: fix line 3 or set data.max_bad_rows" in text
        await pilot.press("enter")  # OK closes it
        await wait_for(pilot, lambda: isinstance(app.screen, DatasetScreen), what="the Dataset step again")
        panel = str(app.screen.query_one("#preview-panel", Static).render())
        assert "the preview failed" in panel and "tokenizing" not in panel  # not left saying it is reading

    drive(app, body)


def test_any_other_exception_in_a_worker_opens_the_dialog_and_asks_for_a_report(make_app):
    class NoWorker(FakeServices):
        def start_fit(self, config):
            raise PermissionError("python: permission denied")  # not an FttuiError: the fit worker let it through

    app = make_app(5, services=NoWorker())

    async def body(pilot):
        await pilot.press("ctrl+f")
        await wait_for(pilot, lambda: isinstance(app.screen, ErrorModal), what="the error dialog")
        assert "PermissionError: python: permission denied" in _dialog_text(app)
        assert f"hint: {REPORT_HINT}" in _dialog_text(app)
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, ReviewScreen), what="the Review step again")
        assert not app.screen.query_one("#check-fit", Button).disabled  # another check can be started
        assert "running" not in str(app.screen.query_one("#review-fit", Static).render())

    drive(app, body)


def test_every_class_with_a_worker_reports_its_errors():
    """A screen or widget whose workers do not mix in ReportsWorkerErrors would fail silently again."""
    missing = []
    for info in pkgutil.walk_packages(fttui.tui.__path__, "fttui.tui."):
        module = import_module(info.name)
        for name, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ == module.__name__ and "@work(" in inspect.getsource(cls) \
                    and not issubclass(cls, ReportsWorkerErrors):
                missing.append(f"{module.__name__}.{name}")
    assert missing == []


def test_a_train_screen_whose_event_reader_fails_says_so_and_opens_the_dialog(make_app):
    class Broken(ReplaySupervisor):
        def next_event(self, timeout=0.2):
            raise OSError("events.jsonl vanished")

    app = make_app(None)
    screen = TrainScreen(Path("runs") / "r", Broken([]))

    async def body(pilot):
        app.push_screen(screen)
        await wait_for(pilot, lambda: isinstance(app.screen, ErrorModal), what="the error dialog")
        assert "OSError: events.jsonl vanished" in _dialog_text(app)
        assert screen.status == "not following"

    drive(app, body)
