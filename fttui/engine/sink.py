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


class StreamSink(Sink):
    """One JSON line per event, flushed at once so readers see progress live."""

    def __init__(self, stream: IO[str]):
        self.stream = stream

    def emit(self, event: Event) -> None:
        self.stream.write(event.to_json() + "\n")
        self.stream.flush()


class TeeSink(Sink):
    """Sends each event to every sink, and a readable line to the text log."""

    def __init__(self, *sinks: Sink):
        self.sinks = sinks

    def emit(self, event: Event) -> None:
        for sink in self.sinks:
            sink.emit(event)
        if isinstance(event, Logged):
            log.log(logging.WARNING if event.level == "warning" else logging.INFO, event.message)
        elif not isinstance(event, StepLogged):
            log.info("%s %s", event.name, {k: v for k, v in event.to_dict().items() if k not in ("event", "time")})
        else:
            log.info("step %s/%s loss=%s lr=%s", event.step, event.max_steps, event.loss, event.learning_rate)
