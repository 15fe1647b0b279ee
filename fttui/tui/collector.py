"""Full garbage collections in the UI process, moved to moments when nobody is pressing keys.

Python runs a full (oldest-generation) collection whenever enough objects have survived the younger
ones, whatever the app is doing. The UI allocates a lot (every frame, every event), so those passes come
every few seconds, and measured 20-115 ms each while training kept both cores busy: the largest part of
the slow key presses left. Here the oldest generation is collected by us instead, when no key or mouse
event has arrived for a moment, and at the latest once far more than the usual amount is pending, so
memory stays bounded even while someone types without pause. Younger generations are left as they are.
"""
from __future__ import annotations

import gc
import time

IDLE_S = 1.0  # no input for this long: a pause now goes unnoticed
DUE = 10  # younger collections since the last full one at which Python itself would consider one
OVERDUE = 100  # collect now even during input (ten times the usual wait): memory must stay bounded


class IdleCollector:
    """Takes over full collections (``start``), runs them from ``tick`` when idle, hands back on ``stop``."""

    def __init__(self, clock=time.monotonic, collect=gc.collect, pending=lambda: gc.get_count()[2]):
        self.clock, self.collect, self.pending = clock, collect, pending
        self.last_input = clock()
        self.collections = 0
        self.saved: tuple[int, ...] | None = None

    def start(self) -> None:
        """Everything alive now is long-lived (frozen out of every scan); full passes wait for ``tick``."""
        gc.freeze()
        self.saved = gc.get_threshold()
        gc.set_threshold(self.saved[0], self.saved[1], 1_000_000)

    def stop(self) -> None:
        """Python's own collection again (tests run many apps in one process)."""
        if self.saved is not None:
            gc.set_threshold(*self.saved)
            gc.unfreeze()
            self.saved = None

    def input_seen(self) -> None:
        self.last_input = self.clock()

    def tick(self) -> bool:
        """Collect if a full pass is due and the user is idle, or if one is long overdue; True if it ran."""
        pending = self.pending()
        idle = self.clock() - self.last_input >= IDLE_S
        if pending >= OVERDUE or (pending >= DUE and idle):
            self.collect()
            self.collections += 1
            return True
        return False
