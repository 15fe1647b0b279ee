"""A one-shot job's status line: a refused or failed start is shown in place; a started job reports its end."""
from __future__ import annotations

from textual.app import App

from fttui.errors import ConfigError
from fttui.events import Exported, Logged
from fttui.tui.widgets.job import JobStatus

from .conftest import drive, wait_for
from .fakes import ReplaySupervisor


class Host(App):
    def __init__(self):
        super().__init__()
        self.ended: list = []

    def compose(self):
        yield JobStatus(Exported, id="job")

    def on_job_status_ended(self, message: JobStatus.Ended) -> None:
        self.ended.append((message.ok, message.result))


def shown(app) -> str:
    return str(app.query_one(JobStatus).render())


def test_a_refused_start_and_an_os_error_are_shown_and_nothing_runs():
    app = Host()

    def refuse():
        raise ConfigError("runs/x is not a run folder", "give a folder under runs/")

    def no_process():
        raise OSError("No such file or directory: 'python'")

    async def body(pilot):
        status = app.query_one(JobStatus)
        assert status.launch(refuse, "starting") is False
        assert "runs/x is not a run folder" in shown(app) and not status.running
        assert status.launch(no_process, "starting") is False
        assert "cannot start the worker: No such file" in shown(app) and not status.running
        await pilot.pause(0.3)
        assert app.ended == []

    drive(app, body)


def test_a_started_job_shows_its_stage_then_ends_with_its_result():
    app = Host()
    done = Exported(out="exports/x", kind="adapter")
    supervisor = ReplaySupervisor([Logged(message="copying the adapter"), done])

    async def body(pilot):
        status = app.query_one(JobStatus)
        assert status.launch(lambda: supervisor, "starting the export worker") is True
        await wait_for(pilot, lambda: app.ended, what="the job's end")
        assert app.ended == [(True, done)] and not status.running
        assert str(status.render()) == "done: copying the adapter"  # not a spinner frozen on its last frame

    drive(app, body)
