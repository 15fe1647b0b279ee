"""Run folders seen from the UI: list them, and read a run's events as a stream (live, tailed or replayed).

Every event source here has the supervisor's interface (``next_event``, ``request_stop``, ``running``),
so the Train screen shows a run it started, a run it re-attached to and recorded events the same way.
"""
from __future__ import annotations

import json
import os
from collections import deque
import signal
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from fttui.events import Event, Failed, Finished, Planned, Started, StepLogged, parse_event
from fttui.runner.lock import TRAINING, holder
from fttui.runner.run_dir import CONFIG_FILE, EVENTS_FILE, SUMMARY_FILE


def shown_path(path) -> str:
    """Relative to the current folder when inside it: shorter, and the same on every machine."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError):
        return str(path)


@dataclass
class RunInfo:
    path: Path
    status: str  # completed | stopped | failed | running | interrupted | new
    method: str = "?"
    model: str = "?"
    step: int = 0
    max_steps: int = 0
    metrics: dict = field(default_factory=dict)
    started: float = 0.0
    pid: int | None = None
    adapter: Path | None = None

    @property
    def name(self) -> str:
        return self.path.name

    def headline_metric(self) -> str:
        for key in ("eval_accuracy", "eval_loss", "perplexity", "train_loss"):
            value = self.metrics.get(key)
            if isinstance(value, (int, float)):
                return f"{key.removeprefix('eval_')} {value:.4g}"
        return ""


TAIL_BYTES = 64 * 1024


def head_and_tail(path: Path) -> tuple[Event | None, list[Event]]:
    """The first event and those in the last TAIL_BYTES: all a run's status needs, however long the run.

    The Runs screen lists every run on each visit; parsing whole event files there would grow with every
    logged step (and hold the GIL the UI needs).
    """
    with open(path, "rb") as handle:
        first = parse_event(handle.readline().decode("utf-8", "replace"))
        size = handle.seek(0, os.SEEK_END)
        start = max(size - TAIL_BYTES, 0)
        handle.seek(start)
        lines = handle.read().decode("utf-8", "replace").split("\n")
    if start > 0:
        lines = lines[1:]  # cut in the middle
    return first, [event for event in map(parse_event, lines) if event is not None]


UNDECIDED = "undecided"  # events began but no worker said how it ended: running, or interrupted


def read_run(path: Path) -> RunInfo:
    """What a run folder says about itself: how its last worker ended, else whether a worker still runs."""
    info = _read_files(path)
    if info.status == UNDECIDED:
        _decide(info)
    return info


def _decide(info: RunInfo) -> None:
    """A run whose events stop without an end: running while a worker holds its claim, else interrupted."""
    claimed = holder(info.path)
    info.pid = claimed.signal_pid if claimed is not None and claimed.purpose in TRAINING else None
    info.status = "running" if info.pid else "interrupted"


_parsed: dict[Path, tuple[tuple, RunInfo]] = {}  # per run folder: the files' stamp, and what they said


def _stamp(path: Path) -> tuple:
    """Sizes and modification times of the files a run's status is read from: unchanged means same answer."""
    stamp = []
    for name in (CONFIG_FILE, EVENTS_FILE, SUMMARY_FILE):
        try:
            stat = (path / name).stat()
            stamp.append((stat.st_size, stat.st_mtime_ns))
        except OSError:
            stamp.append(None)
    return (*stamp, (path / "adapter").is_dir())


def _read_files(path: Path) -> RunInfo:
    """``_parse_run`` once per change of the run's files: revisiting the Runs screen re-reads nothing unchanged.

    Finished runs never change, so a runs folder of many runs costs a few stat calls per visit instead of
    parsing every config and event tail again (which held the GIL the UI needs for a fifth of a second).
    """
    stamp = _stamp(path)
    cached = _parsed.get(path)
    if cached is None or cached[0] != stamp:
        cached = _parsed[path] = (stamp, _parse_run(path))
    info = cached[1]
    return replace(info, metrics=dict(info.metrics))


def _parse_run(path: Path) -> RunInfo:
    """A resumed run holds several workers' events one after the other; only the last one's say counts."""
    info = RunInfo(path=path, status="new", started=path.stat().st_mtime)
    try:
        import yaml

        from fttui.config.safe_yaml import loads  # libyaml speed, refuses alias bombs and duplicate keys

        config = loads((path / CONFIG_FILE).read_text(encoding="utf-8")) or {}
        info.method = str(config.get("method", {}).get("name", "?"))
        info.model = str(config.get("model", {}).get("name", "?"))
    except (OSError, ValueError, AttributeError, yaml.YAMLError):
        pass
    first, events = head_and_tail(path / EVENTS_FILE) if (path / EVENTS_FILE).is_file() else (None, [])
    ended = None
    for event in events:
        if isinstance(event, (Planned, Started)):
            ended = None  # a worker (a new one, when resumed) began
        elif isinstance(event, StepLogged):
            info.step, info.max_steps = event.step, event.max_steps
        elif isinstance(event, Finished):
            ended, info.metrics = event.status, dict(event.summary)
            info.step = max(info.step, int(event.summary.get("global_step") or 0))  # the last log may be earlier
            info.adapter = Path(event.output_path) if event.output_path else None
        elif isinstance(event, Failed):
            ended, info.metrics = "failed", {"error": event.message}
    if first is not None:
        info.started = first.time
    try:
        summary = json.loads((path / SUMMARY_FILE).read_text(encoding="utf-8"))
        info.metrics = {**summary, **info.metrics}
        if first is None:
            ended = str(summary.get("status", "completed"))
    except (OSError, ValueError):
        pass
    if ended is not None:
        info.status = ended
    elif first is not None:
        info.status = UNDECIDED
    if info.adapter is None and (path / "adapter").is_dir():
        info.adapter = path / "adapter"
    return info


def list_runs(runs_dir: Path) -> list[RunInfo]:
    """Run folders (those with a config.yaml) under ``runs_dir``, newest first."""
    runs_dir = Path(runs_dir)
    if not runs_dir.is_dir():
        return []
    found = [_read_files(p) for p in runs_dir.iterdir() if p.is_dir() and (p / CONFIG_FILE).is_file()]
    listed = {info.path for info in found}
    for gone in [path for path in _parsed if path.parent == runs_dir and path not in listed]:
        del _parsed[gone]  # deleted folders
    for info in found:
        if info.status == UNDECIDED:  # asked on every visit: a worker may have ended since
            _decide(info)
    return sorted(found, key=lambda r: (r.started, r.name), reverse=True)


class TailSupervisor:
    """Follows a run's events.jsonl like ``tail -f``; stops the worker by signalling its process group."""

    POLL_S = 0.05

    def __init__(self, run_dir: Path, pid: int | None = None):
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / EVENTS_FILE
        self.pid = pid
        self.offset = 0
        self.buffer = ""
        self.pending: deque[Event] = deque()  # a long run read back is 100k events: pop from the left cheaply
        self.ended = False
        self.stop_requested = False

    def _read_new(self) -> None:
        try:
            with open(self.path, encoding="utf-8") as handle:
                handle.seek(self.offset)
                chunk = handle.read()
                self.offset = handle.tell()
        except OSError:
            return
        self.buffer += chunk
        *lines, self.buffer = self.buffer.split("\n")
        for line in lines:
            event = parse_event(line)
            if event is not None:
                self.pending.append(event)
                if isinstance(event, (Finished, Failed)):
                    self.ended = True

    def _alive(self) -> bool:
        """A worker still trains there: it holds the run's claim (a pid alone could have been reused)."""
        if self.pid is None:
            return False
        claimed = holder(self.run_dir)
        return claimed is not None and claimed.purpose in TRAINING

    def next_event(self, timeout: float = 0.2):
        deadline = time.monotonic() + timeout
        while True:
            if not self.pending:
                self._read_new()
            if self.pending:
                return self.pending.popleft()
            if self.ended or not self._alive():
                self._read_new()
                if self.pending:
                    continue
                return None
            if time.monotonic() >= deadline:
                return False
            time.sleep(self.POLL_S)

    @property
    def running(self) -> bool:
        return not self.ended and self._alive()

    def request_stop(self) -> bool:
        if not self.running:
            return False
        sig = signal.SIGKILL if self.stop_requested else signal.SIGINT
        self.stop_requested = True
        try:
            os.killpg(os.getpgid(self.pid), sig)
        except (ProcessLookupError, PermissionError):
            return False
        return sig == signal.SIGKILL


class ReplaySupervisor:
    """Recorded events played back (snapshots, screenshots, tests); ``hold`` keeps it "running" until stopped.

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
