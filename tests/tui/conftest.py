"""Shared app factory and fakes for the TUI tests: a fixed machine, recorded events, no child processes.

Snapshot tests must render the same on every machine, so they run in a temporary folder holding a copy
of the bundled data (paths shown are relative), with a fixed hardware report and recorded events.
"""
from __future__ import annotations

import asyncio
import shutil
import time
from pathlib import Path

import pytest

from fttui.events import parse_event
from fttui.hardware import CpuInfo, GpuInfo, HardwareReport
from fttui.tui.app import FttuiApp
from fttui.tui.services import Services, load_shape
from fttui.tui.draft import Draft

from .fakes import ReplaySupervisor

DATA = Path(__file__).parent / "data"
REPO = Path(__file__).resolve().parents[2]
SENTIMENT = REPO / "presets" / "data" / "sentiment"
RUN_NAME = "quickstart-20260101-120000"
# What export_run reported for a tiny Llama's q8_0 file and its adapter (tests/engine/test_gguf_*.py make them)
RECORDED_GGUF = {"file": "model-q8_0.gguf", "type": "q8_0", "bytes": 1_300_000, "template": "multi-turn",
                 "relative_logit_error": 0.011, "tolerance": 0.1, "top1_agreement": 1.0, "prompts": 3}
RECORDED_ADAPTER = {"file": "adapter-lora-f32.gguf", "bytes": 72_000, "tensors": 28, "architecture": "llama",
                    "base": "models/tiny-llama", "lora_alpha": 16.0, "ranks": [8], "relative_update_error": 0.0}


def recorded_events() -> list:
    """A real 60-step quickstart run (LoRA on the built-in model), paths and times made fixed."""
    return [e for e in map(parse_event, (DATA / "run_events.jsonl").read_text().splitlines()) if e is not None]


def recorded_preference_events(objective: str) -> list:
    """A real 30-step tiny-Llama run (``dpo`` or ``kto``, LoRA, an evaluation every 5 steps), paths and times fixed.

    The DPO pairs have a quarter of chosen and rejected swapped, so its accuracy climbs instead of being 1 at once.
    """
    lines = (DATA / f"{objective}_events.jsonl").read_text().splitlines()
    return [e for e in map(parse_event, lines) if e is not None]


def recorded_preview():
    return parse_event((DATA / "preview.jsonl").read_text())


def gpu_report() -> HardwareReport:
    gpu = GpuInfo(index=0, name="NVIDIA GeForce RTX 4090", memory_total_gb=23.99, memory_free_gb=22.1,
                  memory_used_gb=1.89, compute_capability="8.9", bf16=True, utilization_percent=3)
    cpu = CpuInfo(model="AMD EPYC 7B13", physical_cores=8, logical_cores=16,
                  features=["avx2", "avx512f", "avx512_bf16"], bf16=True)
    return HardwareReport(gpus=[gpu], driver_version="550.54.15", cuda_version="12.4", gpu_error=None, cpu=cpu,
                          ram_total_gb=62.7, ram_available_gb=51.3, disk_path="/home/me/runs", disk_free_gb=412.5,
                          os="Linux 6.8.0")


class FakeServices(Services):
    """Launches nothing: previews answer with a recorded event, runs replay recorded events."""

    def __init__(self, events=None, hold: bool = True):
        super().__init__()
        self.events = recorded_events() if events is None else events
        self.hold = hold
        self.configs: list = []
        self.merges: list = []
        self.ggufs: list = []
        self.resumes: list = []

    def start_run(self, config):
        self.configs.append(config)
        run_dir = Path(config.output.runs_dir) / RUN_NAME
        supervisor = ReplaySupervisor(self.events, hold=self.hold)
        self.started.append(supervisor)
        return run_dir, supervisor

    def start_preview(self, config):
        preview = recorded_preview()
        preview.max_length = config.training.max_length
        return ReplaySupervisor([preview])

    def resume_run(self, run_dir, overrides=None):
        self.resumes.append((run_dir, overrides))
        supervisor = ReplaySupervisor(self.events, hold=self.hold)
        self.started.append(supervisor)
        return supervisor

    def start_export(self, run_dir, out, merge, dtype, gguf=None, gguf_adapter=False):
        from fttui.events import Exported, Logged

        if gguf or gguf_adapter:
            self.ggufs.append((run_dir, out, gguf, gguf_adapter))
            kind, info = ("gguf adapter", RECORDED_ADAPTER) if gguf_adapter else ("gguf", {**RECORDED_GGUF, "type": gguf,
                                                                                          "file": f"model-{gguf}.gguf"})
            return ReplaySupervisor([Logged("reading the file back"), Exported(out=str(out), kind=kind, gguf=info)])
        self.merges.append((run_dir, out, dtype))
        kind = "merged model" if merge else "adapter"
        return ReplaySupervisor([Logged("merging the adapter into the base weights"),
                                 Exported(out=str(out), kind=kind, dtype=dtype if merge else None)])

    def start_try(self, run_dir):
        return FakeTrySession()


class FakeTrySession(ReplaySupervisor):
    """Answers each prompt with canned outputs, after a "ready" note, like the real try worker."""

    def __init__(self):
        from fttui.events import Logged

        super().__init__([Logged("ready: the base and the fine-tuned model are loaded", topic="ready")], hold=True)
        self.asked: list[str] = []
        self.closed = False

    def ask(self, text: str) -> bool:
        from fttui.events import TryAnswered

        self.asked.append(text)
        self.events.append(TryAnswered(prompt=text, base="negative", tuned="positive", task="seq-cls",
                                       base_probability=0.52, tuned_probability=0.97))
        return True

    def close(self) -> None:
        self.closed = True
        self.request_stop()


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """A temporary current folder with the bundled data in data/ and an empty runs/; local time is UTC."""
    shutil.copytree(SENTIMENT, tmp_path / "data")
    (tmp_path / "runs").mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    return tmp_path


def make_draft(report=None) -> Draft:
    draft = Draft.quickstart("runs")
    draft.sections["data"].update(train="data/train.jsonl", eval="data/eval.jsonl")
    draft.hardware = report if report is not None else gpu_report()
    draft.shape = load_shape("builtin")  # what the Model step would have read
    return draft


@pytest.fixture
def make_app(workdir):
    """Factory: an app in ``workdir`` on the fake machine, at a wizard step (None: empty, push your own)."""

    def make(step: int | None = 0, services=None, report=None, **kwargs) -> FttuiApp:
        return FttuiApp(runs_dir="runs", draft=make_draft(report), services=services or FakeServices(),
                        cursor_blink=False, start_step=step, **kwargs)

    return make


async def wait_for(pilot, condition, timeout: float = 30.0, what: str = "condition") -> None:
    """Let the app run until ``condition()`` holds (workers and child processes are asynchronous)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        await pilot.pause(0.05)


def write_run(runs: Path, name: str, events: list, summary: dict | None = None) -> Path:
    """A run folder as the runner leaves it: config.yaml, events.jsonl and (when it ended) summary.json."""
    import json

    from fttui.config import dump_config, load_config

    folder = runs / name
    folder.mkdir(parents=True)
    (folder / "config.yaml").write_text(dump_config(load_config("quickstart")))
    (folder / "events.jsonl").write_text("".join(e.to_json() + "\n" for e in events))
    if summary is not None:
        (folder / "summary.json").write_text(json.dumps(summary))
        (folder / Path(summary.get("output_path") or "adapter").name).mkdir(exist_ok=True)  # what it saved
    return folder


def drive(app, body, size=(100, 32)):
    """Run ``body(pilot)`` against ``app`` in a headless terminal of ``size``."""
    async def main():
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
            await body(pilot)

    asyncio.run(main())
