"""The Review step's Check fit: the measured fit check in a (fake) worker, its line, and what fits in the draft."""
from __future__ import annotations

from textual.widgets import Button, Static

from fttui.events import Failed, FitChecked, Logged
from fttui.tui.screens.review import ReviewScreen

from .conftest import FakeServices, drive, wait_for
from .fakes import ReplaySupervisor


class FitBackend(FakeServices):
    """Answers a fit check with recorded events; keeps the config it was asked about."""

    def __init__(self, answer):
        super().__init__()
        self.answer, self.fit_configs = answer, []

    def start_fit(self, config):
        self.fit_configs.append(config)
        return ReplaySupervisor([Logged("fit check: 2 steps on the 8 longest rows"), self.answer])


def _fit_line(app) -> str:
    return str(app.screen.query_one("#review-fit", Static).render())


def test_check_fit_shows_the_measurement_and_applies_what_fits_to_the_draft(make_app):
    answer = FitChecked(measured_mb=5120.0, estimate_mb=4800.0, changes=["batch 16 did not fit: batch 8 x 2 accumulation"],
                        batch_size=8, gradient_accumulation=2, gradient_checkpointing=False, device="cuda")
    app = make_app(5, services=FitBackend(answer))

    async def body(pilot):
        assert isinstance(app.screen, ReviewScreen)
        assert app.draft.sections["training"]["batch_size"] == 16  # the quickstart's
        await pilot.press("ctrl+f")
        await wait_for(pilot, lambda: "measured" in _fit_line(app), what="the fit check's result")
        line = _fit_line(app)
        assert "measured 5,120 MB vs estimate 4,800 MB; fits at batch 8 x accumulation 2" in line
        assert "applied to the draft" in line
        assert not app.screen.query_one("#check-fit", Button).disabled
        yaml = str(app.screen.query_one("#review-yaml", Static).render())
        assert "batch_size: 8" in yaml and "fit_check: false" in yaml

    drive(app, body)
    assert app.services.fit_configs[0].training.batch_size == 16  # it checked the draft as it stood
    training = app.draft.sections["training"]
    assert (training["batch_size"], training["gradient_accumulation"], training["fit_check"]) == (8, 2, False)


def test_check_fit_failure_says_what_to_change_and_keeps_the_draft(make_app):
    answer = Failed(kind="TrainingError", message="does not fit: out of memory at batch 1 with gradient checkpointing",
                    hint="use method.name=qlora, or a shorter training.max_length")
    app = make_app(5, services=FitBackend(answer))
    before = dict(app.draft.sections["training"])

    async def body(pilot):
        await pilot.click("#check-fit")
        await wait_for(pilot, lambda: "does not fit" in _fit_line(app), what="the failure")
        assert "use method.name=qlora" in _fit_line(app)

    drive(app, body)
    assert {k: app.draft.sections["training"].get(k) for k in before} == before


def test_check_fit_running_line_until_the_worker_answers(make_app):
    class Silent(FitBackend):
        def start_fit(self, config):
            return ReplaySupervisor([], hold=True)  # a worker still loading the model

    app = make_app(5, services=Silent(None))

    async def body(pilot):
        await pilot.press("ctrl+f")
        await pilot.pause()
        assert "running..." in _fit_line(app)
        assert app.screen.query_one("#check-fit", Button).disabled  # one check at a time

    drive(app, body)
