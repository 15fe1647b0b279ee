"""Step 1: what this machine can train with (GPUs with VRAM bars, CPU, RAM, disk) and what to beware of."""
from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import Static

from fttui.tui import services
from fttui.tui.screens.base import StepResult, WizardStep
from fttui.tui.widgets.bars import MemoryBar, bar_text

LEVEL_MARK = {"error": ("✗", "red"), "warning": ("!", "yellow"), "info": ("i", "cyan")}


class HardwareScreen(WizardStep):
    INDEX = 0

    class Detected(Message):
        def __init__(self, report, error: str | None = None):
            super().__init__()
            self.report, self.error = report, error

    def compose_body(self) -> ComposeResult:
        yield VerticalScroll(Static("Detecting GPUs, CPU, RAM and disk…", classes="dim"), id="hardware-body",
                             classes="body")

    def on_mount(self) -> None:
        if self.draft.hardware is not None:
            self.show(self.draft.hardware)
        else:
            self.detect()

    @work(thread=True, exclusive=True, group="hardware", exit_on_error=False)
    def detect(self) -> None:
        runs_dir = self.draft.get("output", "runs_dir")
        try:
            self.post_message(self.Detected(services.hardware_report(runs_dir)))
        except Exception as error:  # detection must never take the wizard down
            self.post_message(self.Detected(None, f"{type(error).__name__}: {error}"))

    def after_worker_error(self, worker) -> None:
        if worker.group == "hardware":
            self.set_status("hardware detection failed (see the error)")

    @on(Detected)
    def _detected(self, message: Detected) -> None:
        if message.report is None:
            self.set_status(f"hardware detection failed: {message.error}")
            return
        self.draft.hardware = message.report
        self.show(message.report)

    def show(self, report) -> None:
        body = self.query_one("#hardware-body")
        body.remove_children()
        widgets = [Static(Text("GPUs", style="bold"), classes="section-title")]
        if report.gpus:
            for gpu in report.gpus:
                label = f"GPU {gpu.index}"
                widgets.append(MemoryBar(label, gpu.memory_used_gb, gpu.memory_total_gb))
                detail = (f"           {gpu.name}, compute {gpu.compute_capability or '?'}, "
                          f"bf16 {'yes' if gpu.bf16 else 'no'}, {gpu.memory_free_gb:.1f} GB free")
                widgets.append(Static(detail, classes="dim"))
            widgets.append(Static(f"driver {report.driver_version or '?'}, CUDA {report.cuda_version or '?'}",
                                  classes="dim"))
        else:
            widgets.append(Static(f"none found ({report.gpu_error or 'no NVIDIA GPU'})", classes="dim"))
        cpu = report.cpu
        cores = f"{cpu.physical_cores or '?'} physical / {cpu.logical_cores or '?'} logical cores"
        rows = Text()
        rows.append("CPU       ", style="bold")
        rows.append(f"{cpu.model}, {cores}\n")
        rows.append("          ")
        rows.append(f"{', '.join(cpu.features) or 'no AVX2/AVX-512/AMX'}; native bf16: {'yes' if cpu.bf16 else 'no'}\n")
        rows.append("RAM       ", style="bold")
        rows.append_text(bar_text(report.ram_total_gb - report.ram_available_gb, report.ram_total_gb))
        rows.append(f" in use, {report.ram_available_gb:.1f} GB available\n")
        rows.append("Disk      ", style="bold")
        free = "?" if report.disk_free_gb is None else f"{report.disk_free_gb:.1f} GB"
        rows.append(f"{free} free at {report.disk_path}\n")
        rows.append("OS        ", style="bold")
        rows.append(report.os)
        widgets.append(Static(Text("Machine", style="bold"), classes="section-title"))
        widgets.append(Static(rows))
        warnings = services.hardware_warnings(report)
        if warnings:
            widgets.append(Static(Text("Warnings", style="bold"), classes="section-title"))
            for note in warnings:
                mark, style = LEVEL_MARK.get(note.level, ("!", "yellow"))
                line = Text(f" {mark} ", style=f"bold {style}")
                line.append(note.text)
                widgets.append(Static(line, classes=f"warning {note.level}"))
        body.mount_all(widgets)

    def collect(self) -> StepResult | None:
        if self.draft.hardware is None:
            self.set_status("still detecting the hardware…", "warning")
            return None
        return StepResult("next")
