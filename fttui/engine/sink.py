"""Where events go: a JSON-lines stream (the worker's stdout), a file (``events.jsonl``), or a list."""
from __future__ import annotations

import logging
from typing import IO

from fttui.events import Event, Logged, StepLogged

log = logging.getLogger("fttui")


class Sink:
    def emit(self, event: Event) -> None:
        raise NotImplementedError


class ListSink(Sink):
    """Collects events in memory (tests, in-process runs)."""

    def __init__(self):
        self.events: list[Event] = []

    def emit(self, event: Event) -> None:
        self.events.append(event)


class NullSink(Sink):
    """Drops events: training ranks other than 0 train but do not report (rank 0 speaks for all)."""

    def emit(self, event: Event) -> None:
        pass


class StreamSink(Sink):
    """One JSON line per event, flushed at once so readers see progress live.

    A reader may leave (the UI quits and the pipe breaks): training must not depend on it, so the first
    failed write closes this sink quietly and later events go only to the other sinks (``events.jsonl``).
    """

    def __init__(self, stream: IO[str], name: str = "stream"):
        self.stream = stream
        self.name = name
        self.closed = False

    def emit(self, event: Event) -> None:
        if self.closed:
            return
        try:
            self.stream.write(event.to_json() + "\n")
            self.stream.flush()
        except (BrokenPipeError, OSError, ValueError) as error:  # ValueError: the stream was closed
            self.closed = True
            log.warning("stopped writing events to %s (%s); training goes on", self.name,
                        type(error).__name__)
            try:
                self.stream.close()  # drops what is buffered for the gone reader
            except (OSError, ValueError):
                pass


class TeeSink(Sink):
    """Sends each event to every sink, and a readable line to the text log; one failing sink spares the rest."""

    def __init__(self, *sinks: Sink):
        self.sinks = sinks

    def emit(self, event: Event) -> None:
        for sink in self.sinks:
            try:
                sink.emit(event)
            except OSError as error:  # e.g. a full disk under events.jsonl: say so, keep training
                log.warning("could not write an event to %s: %s", type(sink).__name__, error)
        if isinstance(event, Logged):
            log.log(logging.WARNING if event.level == "warning" else logging.INFO, event.message)
        elif not isinstance(event, StepLogged):
            log.info("%s %s", event.name, {k: v for k, v in event.to_dict().items() if k not in ("event", "time")})
        else:
            log.info("step %s/%s loss=%s lr=%s", event.step, event.max_steps, event.loss, event.learning_rate)
