"""A one-shot worker's progress line: what it is doing and for how long, then its result or its error.

Reusable wherever the UI waits for a child process that ends with one event (an export, for now): give it
a supervisor, it follows the events in a thread and posts :class:`JobStatus.Ended` when the job is over.
"""
from __future__ import annotations

import time

from rich.text import Text
from textual import on, work
from textual.message import Message
from textual.widgets import Static

from fttui.events import Event, Failed, Logged
from fttui.tui.worker_errors import ReportsWorkerErrors

SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


def forward_events(source, post, timeout: float = 0.1) -> None:
    """In a thread worker: ``post`` each event of ``source`` (a supervisor), then None when its stream ends.

    Stops early when the worker is cancelled (its screen went away).
    """
    from textual.worker import get_current_worker

    worker = get_current_worker()
    while not worker.is_cancelled:
        event = source.next_event(timeout)
        if event is False:  # nothing yet
            continue
        post(event)
        if event is None:
            return


class JobStatus(ReportsWorkerErrors, Static):
    DEFAULT_CSS = "JobStatus { height: auto; }"

    class Progressed(Message):
        def __init__(self, event: Event | None):
            super().__init__()
            self.event = event  # None: the worker's stream ended

    class Ended(Message):
        """The job is over: ``result`` is its final event (the expected one, a Failed, or None if it died)."""

        def __init__(self, status: JobStatus, ok: bool, result: Event | None):
            super().__init__()
            self.status, self.ok, self.result = status, ok, result

        @property
        def control(self) -> JobStatus:  # lets handlers pick one job with @on(JobStatus.Ended, "#id")
            return self.status

    def __init__(self, done: type[Event], **kwargs):
        super().__init__("", **kwargs)
        self.done = done  # the event type that means success
        self.supervisor = None
        self.stage = ""
        self.started = 0.0
        self.result: Event | None = None
        self.running = False

    def on_mount(self) -> None:
        self.set_interval(0.25, self._tick)

    def start(self, supervisor, stage: str = "starting the worker") -> None:
        self.supervisor, self.stage, self.started = supervisor, stage, time.monotonic()
        self.result, self.running = None, True
        self._tick()
        self.follow()

    def launch(self, start, stage: str) -> bool:
        """Start a worker with ``start()`` and follow it; a refusal or an OS error is shown here instead.

        Returns whether the job started, so the caller can disable its button until ``Ended``.
        """
        from fttui.errors import FttuiError

        try:
            supervisor = start()
        except FttuiError as error:  # e.g. not a run folder: say it, stay usable
            self.show(error.message + (f"\nhint: {error.hint}" if error.hint else ""), ok=False)
            return False
        except OSError as error:
            self.show(f"cannot start the worker: {error}", ok=False)
            return False
        self.start(supervisor, stage)
        return True

    def show(self, text: str, ok: bool) -> None:
        """A message of the caller's (e.g. a field left empty), in the same place as results."""
        self.running = False
        self.update(Text(text, style="green" if ok else "red"))

    @work(thread=True, exclusive=True, group="job", exit_on_error=False)
    def follow(self) -> None:
        forward_events(self.supervisor, lambda event: self.post_message(self.Progressed(event)))

    def after_worker_error(self, worker) -> None:
        """Following the job broke: stop the spinner and say it ended, so the caller's buttons come back."""
        if self.running:
            self.show("following the worker failed (see the error)", ok=False)
            self.post_message(self.Ended(self, False, None))

    @on(Progressed)
    def _progressed(self, message: Progressed) -> None:
        event = message.event
        if isinstance(event, Logged):
            self.stage = event.message
        elif isinstance(event, (self.done, Failed)):
            self.result = event
        elif event is None and self.running:
            self.running = False
            ok = isinstance(self.result, self.done)
            if ok:  # a frozen spinner until the caller says what was made would look stuck
                self.update(Text(f"done: {self.stage}", style="green"))
            elif self.result is None:
                self.update(Text("the worker ended without a result: see its log in the run folder", style="red"))
            elif isinstance(self.result, Failed):
                hint = f"\nhint: {self.result.hint}" if self.result.hint else ""
                self.update(Text(f"failed: {self.result.message}{hint}", style="red"))
            self.post_message(self.Ended(self, ok, self.result))
            return
        self._tick()

    def _tick(self) -> None:
        if not self.running:
            return
        elapsed = time.monotonic() - self.started
        spin = SPINNER[int(elapsed * 4) % len(SPINNER)]
        self.update(Text.assemble((f"{spin} ", "bold cyan"), self.stage, (f"  {elapsed:.0f} s", "dim")))
