"""ui.worker_niceness: the worker's priority is lowered by that much (0: not at all), and the Train screen says
when that slows training: only while other processes compete for the CPUs."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from fttui.tui import resources
from fttui.tui.resources import contended
from fttui.tui.screens import train
from fttui.tui.screens.train import TrainScreen

from .conftest import RUN_NAME, drive, recorded_events, wait_for
from .fakes import ReplaySupervisor


@pytest.mark.parametrize("others, busy, cores, expected", [
    (1.2, 2.0, 2, True),  # another job takes a core and the CPUs are full: the niceness costs training
    (0.1, 2.0, 2, False),  # full, but with the worker (and the UI) alone: nothing to lose
    (1.0, 1.2, 2, False),  # others busy, yet a core is idle: the worker gets what it wants
    (0.5, 7.3, 8, True),
])
def test_contention_means_full_cpus_and_someone_else(others, busy, cores, expected):
    assert contended(others, busy, cores) is expected


class FakeWatch:
    """PriorityWatch with the machine's state set by the test: a worker at niceness 2, contended or not."""

    busy, calls = False, 0

    def __init__(self, pid):
        self.pid = pid

    def note(self):
        FakeWatch.calls += 1
        real = resources.PriorityWatch(self.pid)
        real.niceness = lambda: 2
        real.last = (0.0, 0.0, 0.0)
        # one second in which the 2 CPUs were busy: with 1.5 cores of others' work, or with the worker's alone
        real._reading = lambda cpus: (1.0, 2.0, 0.5 if FakeWatch.busy else 2.0)
        return real.note()


@pytest.mark.parametrize("busy", [True, False])
def test_the_train_screen_says_when_training_is_slowed_for_the_ui(make_app, monkeypatch, busy):
    monkeypatch.setattr(train, "PriorityWatch", FakeWatch)
    monkeypatch.setattr(train, "PRIORITY_EVERY_S", 0.05)
    monkeypatch.setattr(FakeWatch, "busy", busy)
    app = make_app(None)
    screen = TrainScreen(Path("runs") / RUN_NAME, ReplaySupervisor(recorded_events()[:3], hold=True, pid=os.getpid()))
    monkeypatch.setattr(FakeWatch, "calls", 0)

    async def body(pilot):
        app.push_screen(screen)
        await wait_for(pilot, lambda: FakeWatch.calls >= 3, what="three samples of the machine")
        await pilot.pause(0.1)
        line = screen.query_one("#priority")
        text = str(line.render())
        if busy:
            assert "visible" in line.classes and "lower priority" in text and "ui.worker_niceness=2; 0 to turn off" in text
        else:
            assert "visible" not in line.classes

    drive(app, body)


class Started:
    def __init__(self, process):
        self.process = process


@pytest.mark.parametrize("niceness", [0, 3])
def test_the_worker_is_lowered_by_ui_worker_niceness(niceness):
    import subprocess
    import sys

    import psutil

    from fttui.tui.services import lower_priority

    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        before = psutil.Process(child.pid).nice()
        lower_priority(Started(child), niceness)
        assert psutil.Process(child.pid).nice() == min(before + niceness, 19)
    finally:
        child.kill()
        child.wait()


def test_the_wizard_takes_ui_settings_from_the_command_line(tmp_path, capsys):
    from fttui.cli import main
    from fttui.tui.services import worker_niceness
    from fttui.tui.draft import Draft

    assert worker_niceness(Draft.quickstart(tmp_path, ["ui.worker_niceness=0"])) == 0
    assert worker_niceness(Draft.quickstart(tmp_path)) == worker_niceness() == 2
    assert main(["--set", "training.epochs=2"]) == 2  # other keys still need --preset
    assert "ui.* keys only" in capsys.readouterr().err
    assert main(["--set", "ui.worker_niceness=40"]) == 2  # checked before the wizard opens
    assert "ui.worker_niceness" in capsys.readouterr().err
