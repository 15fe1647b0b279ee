"""One run folder, read: its config, events from any offset, who trains there, checkpoints, output and result.

Every reader of a run (the Runs screen, ``fttui runs``, resume, continue, export, eval, Try it, the engine
resuming) goes through ``RunFolder``, so the layout of ``runs/<name>-<time>/`` and the rules for reading it (a
torn last line of ``events.jsonl``, a damaged checkpoint, a resumed run's several workers) live here once.
Torch-free and textual-free: the TUI and the CLI only show what it says.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, replace
from pathlib import Path

from fttui.errors import ConfigError
from fttui.events import Evaluated, Event, Failed, Finished, Planned, Started, StepLogged, event_from_dict
from fttui.runner.checkpoints import last_intact_checkpoint
from fttui.runner.lock import TRAINING, Holder, holder
from fttui.runner.summary import SUMMARY_FILE, RunSummary

CONFIG_FILE = "config.yaml"
EVENTS_FILE = "events.jsonl"
LOG_FILE = "train.log"
OUTPUTS = ("adapter", "model")  # a run saves one: model/ when its base weights trained, else adapter/
TAIL_BYTES = 64 * 1024  # a run's status needs only its last events, however long the run

# How a run stands. A run whose events stop without an end is "running" while a worker holds its training
# claim and "interrupted" once none does (killed, crashed, the machine rebooted).
RUNNING, INTERRUPTED, NEW = "running", "interrupted", "new"
UNDECIDED = "undecided"  # events began but no worker said how it ended: the lock decides (``RunFolder.status``)


def shown_path(path) -> str:
    """Relative to the current folder when inside it: shorter, and the same on every machine."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError):
        return str(path)


@dataclass
class RunInfo:
    """What a run folder says about itself, read at one moment (what a listing shows)."""

    path: Path
    status: str  # completed | stopped | failed | running | interrupted | new
    method: str = "?"
    model: str = "?"
    step: int = 0
    max_steps: int = 0
    summary: RunSummary | None = None
    error: str | None = None  # a failed run's message
    started: float = 0.0
    pid: int | None = None  # the training worker, while one holds the run's claim
    output: Path | None = None  # adapter/ or model/, once saved

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def output_kind(self) -> str:
        return self.output.name if self.output is not None else "adapter"

    def headline_metric(self) -> str:
        return self.summary.result_text(arrow=None) if self.summary is not None else ""


class RunFolder:
    """A run folder on disk; every method reads afresh (the run may still be training)."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    @classmethod
    def existing(cls, path: str | os.PathLike) -> RunFolder:
        """The run folder at ``path``, or a ConfigError (exit 2) saying why it is not one."""
        folder = cls(Path(path).expanduser())
        if not folder.path.is_dir():
            raise ConfigError(f"no run folder at {path}", "list the runs with: fttui runs")
        if not folder.config_file.is_file():
            raise ConfigError(f"{path} is not a run folder (no {CONFIG_FILE})",
                              "give a folder under runs/ made by fttui")
        return folder

    name = property(lambda self: self.path.name)
    config_file = property(lambda self: self.path / CONFIG_FILE)
    events_file = property(lambda self: self.path / EVENTS_FILE)
    log_file = property(lambda self: self.path / LOG_FILE)
    summary_file = property(lambda self: self.path / SUMMARY_FILE)

    # ------------------------------------------------------------------ config

    def raw_config(self) -> dict:
        """``config.yaml`` as written, read defensively; {} when unreadable (a listing must not fail on one)."""
        from fttui.config.presets import read_yaml

        try:
            return read_yaml(self.config_file)
        except ConfigError:
            return {}

    def config(self, overrides: list[str] | None = None):
        """The validated ``RunConfig`` (with ``--set`` overrides applied); a ConfigError names what is wrong."""
        from fttui.config.presets import apply_overrides, read_yaml, validate_config

        problems: list[str] = []
        raw = apply_overrides(read_yaml(self.config_file), overrides or [], problems)
        return validate_config(raw, str(self.config_file), problems)

    def section(self, name: str) -> dict:
        section = self.raw_config().get(name)
        return section if isinstance(section, dict) else {}

    # ------------------------------------------------------------------ events

    def records(self, offset: int = 0, final: bool = False) -> tuple[list[dict], int]:
        """Event objects (decoded JSON) from byte ``offset`` on, and the offset to read from next time.

        Only whole lines count: a line still being written (or torn by a kill) waits for its newline, unless
        ``final`` (no worker writes any more). Garbled lines are skipped. A file shorter than ``offset`` was
        replaced: it is read from the start, and the offset returned is below the one given.
        """
        try:
            with open(self.events_file, "rb") as handle:
                if handle.seek(0, os.SEEK_END) < offset:
                    offset = 0
                handle.seek(offset)
                chunk = handle.read()
        except OSError:
            return [], offset
        end = len(chunk) if final else chunk.rfind(b"\n") + 1
        found = []
        for line in chunk[:end].split(b"\n"):
            if not line.strip():
                continue
            try:
                data = json.loads(line.decode("utf-8", "replace"))
            except ValueError:
                continue
            if isinstance(data, dict) and isinstance(data.get("event"), str):
                found.append(data)
        return found, offset + end

    def events(self, offset: int = 0, final: bool = False) -> tuple[list[Event], int]:
        """``records`` as Event objects."""
        records, offset = self.records(offset, final)
        return [event for event in map(event_from_dict, records) if event is not None], offset

    def all_events(self) -> list[Event]:
        return self.events(final=True)[0]

    def head_and_tail(self) -> tuple[Event | None, list[Event]]:
        """The first event and those in the last TAIL_BYTES: a listing reads no more, however long the run."""
        try:
            with open(self.events_file, "rb") as handle:
                first = _event(handle.readline())
                size = handle.seek(0, os.SEEK_END)
                start = max(size - TAIL_BYTES, 0)
                handle.seek(start)
                lines = handle.read().split(b"\n")
        except OSError:
            return None, []
        if start > 0:
            lines = lines[1:]  # cut in the middle
        return first, [event for event in map(_event, lines) if event is not None]

    def baseline(self) -> dict[str, float]:
        """The base model's metrics measured when the run first started, for a resumed run's summary.

        A resumed worker does not evaluate the base model again, yet its summary must still read before -> after.
        """
        for event in self.all_events():
            if isinstance(event, Evaluated) and event.baseline:
                return dict(event.metrics)
        return {}

    # ------------------------------------------------------------------ who trains, what was saved

    def holder(self) -> Holder | None:
        """Who holds the run's claim now (``runner.lock``), or None."""
        return holder(self.path)

    def trainer_pid(self) -> int | None:
        """The training worker's pid while one holds the claim (the lock, not a pid alone: pids are reused)."""
        claimed = self.holder()
        return claimed.signal_pid or None if claimed is not None and claimed.purpose in TRAINING else None

    def last_checkpoint(self) -> Path | None:
        """The newest intact checkpoint: the one a resume starts from (damaged newer ones are skipped)."""
        return last_intact_checkpoint(self.path)[0]

    @property
    def output(self) -> Path | None:
        """``adapter/`` or ``model/``, once the run saved one."""
        return next((self.path / name for name in OUTPUTS if (self.path / name).is_dir()), None)

    def summary(self) -> RunSummary | None:
        return RunSummary.read(self.path)

    # ------------------------------------------------------------------ how it stands

    def read(self) -> RunInfo:
        """Status, progress and result, from the config, the events' head and tail, the summary and the lock."""
        info = parse(self)
        if info.status == UNDECIDED:
            decide(self, info)
        return info

    @property
    def status(self) -> str:
        return self.read().status

    @property
    def task(self) -> str | None:
        """seq-cls or causal-lm as the worker resolved it (summary, else plan), else as configured."""
        summary = self.summary()
        if summary is not None and summary.task:
            return summary.task
        first, tail = self.head_and_tail()
        plan = next((e for e in [first, *tail] if isinstance(e, Planned)), None)
        configured = self.section("model").get("task")
        return plan.task if plan is not None else configured if configured not in (None, "auto") else None


def _event(line: bytes) -> Event | None:
    try:
        return event_from_dict(json.loads(line.decode("utf-8", "replace")))
    except ValueError:
        return None


def parse(folder: RunFolder) -> RunInfo:
    """What the files say, without asking the lock: a resumed run holds several workers' events, the last counts."""
    path = folder.path
    try:
        started = path.stat().st_mtime
    except OSError:
        started = 0.0
    info = RunInfo(path=path, status=NEW, started=started)
    config = folder.raw_config()
    sections = {name: config.get(name) if isinstance(config.get(name), dict) else {} for name in ("method", "model")}
    info.method = str(sections["method"].get("name", "?"))
    info.model = str(sections["model"].get("name", "?"))
    first, events = folder.head_and_tail()
    ended, finished = None, {}
    for event in events:
        if isinstance(event, (Planned, Started)):
            ended = None  # a worker (a new one, when resumed) began
        elif isinstance(event, StepLogged):
            info.step, info.max_steps = event.step, event.max_steps
        elif isinstance(event, Finished):
            ended, finished, info.error = event.status, dict(event.summary), None
            info.step = max(info.step, int(event.summary.get("global_step") or 0))  # the last log may be earlier
        elif isinstance(event, Failed):
            ended, info.error = "failed", event.message
    if first is not None:
        info.started = first.time
    summary = folder.summary()
    if summary is not None or finished:
        info.summary = RunSummary.from_dict({**(summary.to_dict() if summary else {}), **finished})
        if first is None:
            ended = info.summary.status
    if ended is not None:
        info.status = ended
    elif first is not None:
        info.status = UNDECIDED
    info.output = folder.output
    return info


def decide(folder: RunFolder, info: RunInfo) -> None:
    """A run whose events stop without an end: running while a worker holds its training claim, else interrupted."""
    info.pid = folder.trainer_pid()
    info.status = RUNNING if info.pid else INTERRUPTED


# ---------------------------------------------------------------------- listing a runs folder

_parsed: dict[Path, tuple[tuple, RunInfo]] = {}  # per run folder: the files' stamp, and what they said


def _stamp(folder: RunFolder) -> tuple:
    """Sizes and modification times of the files a run's status is read from: unchanged means same answer."""
    stamp = []
    for path in (folder.config_file, folder.events_file, folder.summary_file):
        try:
            stat = path.stat()
            stamp.append((stat.st_size, stat.st_mtime_ns))
        except OSError:
            stamp.append(None)
    return (*stamp, folder.output)


def read_cached(folder: RunFolder) -> RunInfo:
    """``parse`` once per change of the run's files: a listing shown again re-reads nothing unchanged.

    Finished runs never change, so a runs folder of many runs costs a few stat calls per visit instead of
    parsing every config and event tail again (which held the GIL the UI needs for a fifth of a second).
    """
    stamp = _stamp(folder)
    cached = _parsed.get(folder.path)
    if cached is None or cached[0] != stamp:
        cached = _parsed[folder.path] = (stamp, parse(folder))
    return replace(cached[1])


def list_runs(runs_dir: str | os.PathLike) -> list[RunInfo]:
    """Run folders (those with a config.yaml) under ``runs_dir``, newest first; the lock decides unfinished ones."""
    runs_dir = Path(runs_dir)
    if not runs_dir.is_dir():
        return []
    folders = [RunFolder(p) for p in runs_dir.iterdir() if p.is_dir() and (p / CONFIG_FILE).is_file()]
    found = [read_cached(folder) for folder in folders]
    listed = {folder.path for folder in folders}
    for gone in [path for path in _parsed if path.parent == runs_dir and path not in listed]:
        del _parsed[gone]  # deleted folders
    for folder, info in zip(folders, found):
        if info.status == UNDECIDED:  # asked on every visit: a worker may have ended since
            decide(folder, info)
    return sorted(found, key=lambda r: (r.started, r.name), reverse=True)
