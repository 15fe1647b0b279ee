"""Test doubles of the runner's ``Supervisor`` protocol: recorded events played back, no child processes."""
from __future__ import annotations

import time

from fttui.events import Event, Failed, Finished


class ReplaySupervisor:
    """Recorded events played back (snapshots, tests, benchmarks); ``hold`` keeps it "running" until stopped.

    With ``hold``, events after the first Finished/Failed are kept back until ``request_stop`` is called,
    like a worker that finishes only once it is asked to stop.
    """

    def __init__(self, events: list[Event], hold: bool = False, pid: int | None = None):
        self.events = list(events)
        self.hold = hold
        self.stopped = False
        self.process = None
        self.pid = pid
        self.stop_calls = 0

    def _next_index_blocked(self) -> bool:
        return self.hold and not self.stopped and bool(self.events) and isinstance(self.events[0], (Finished, Failed))

    def next_event(self, timeout: float = 0.2):
        if self._next_index_blocked() or (self.hold and not self.stopped and not self.events):
            time.sleep(min(timeout, 0.05))
            return False
        if self.events:
            return self.events.pop(0)
        return None

    @property
    def running(self) -> bool:
        return bool(self.events) or (self.hold and not self.stopped)

    def request_stop(self) -> bool:
        self.stop_calls += 1
        self.stopped = True
        return self.stop_calls > 1
