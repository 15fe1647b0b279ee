"""Full garbage collections wait for a pause in input, up to a bound; the app hands collection back on exit."""
from __future__ import annotations

import gc

from fttui.tui.app import FttuiApp
from fttui.tui.collector import DUE, IDLE_S, OVERDUE, IdleCollector

from .conftest import drive


class Fake:
    def __init__(self):
        self.now, self.pending, self.collected = 100.0, 0, 0

    def collector(self) -> IdleCollector:
        def collect():
            self.collected += 1
            self.pending = 0

        return IdleCollector(clock=lambda: self.now, collect=collect, pending=lambda: self.pending)


def test_a_due_collection_waits_for_input_to_pause():
    fake = Fake()
    collector = fake.collector()
    fake.pending = DUE - 1
    fake.now += 10 * IDLE_S
    assert not collector.tick()  # idle, but nothing due
    fake.pending = DUE
    collector.input_seen()
    fake.now += IDLE_S / 2
    assert not collector.tick() and fake.collected == 0  # due, but a key was pressed just now
    fake.now += IDLE_S
    assert collector.tick() and fake.collected == 1 and fake.pending == 0


def test_an_overdue_collection_runs_even_during_input():
    fake = Fake()
    collector = fake.collector()
    fake.pending = OVERDUE
    collector.input_seen()
    assert collector.tick() and fake.collected == 1


def test_start_takes_full_collections_over_and_stop_gives_them_back():
    collector = IdleCollector()
    before = gc.get_threshold()
    collector.start()
    try:
        assert gc.get_threshold()[:2] == before[:2] and gc.get_threshold()[2] > 10 * before[2]
        assert gc.get_freeze_count() > 0
    finally:
        collector.stop()
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0


def test_the_app_notes_key_presses_and_restores_collection_on_exit(workdir):
    before = gc.get_threshold()
    app = FttuiApp(runs_dir=workdir / "runs", start_step=None)
    seen: list = []

    async def body(pilot):
        assert gc.get_threshold() != before  # the app collects the oldest generation itself
        app.collector.last_input = 0.0
        await pilot.press("x")
        seen.append(app.collector.last_input)

    drive(app, body)
    assert seen[0] > 0.0
    assert gc.get_threshold() == before
