"""Dialogs for what the Runs screen does to a run: continue a finished one for more epochs, export one.

Continue only asks (the app resumes the run); Export does the work itself, in a worker process, and stays
open to show its progress and its result.
"""
from __future__ import annotations

from functools import partial
from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, Select, Static

from fttui.config.methods import spec
from fttui.events import Exported
from fttui.runner.run_folder import shown_path
from fttui.tui.widgets.job import JobStatus

DTYPES = ("float32", "bfloat16", "float16")


def epochs_problem(text: str, epochs_done: float) -> str | None:
    """Why ``text`` is not a usable new number of epochs, or None when it is."""
    try:
        value = float(text.strip())
    except ValueError:
        return f"not a number: {text.strip() or '(empty)'}; e.g. {epochs_done + 1:g}"
    if value != value or value <= 0 or value == float("inf"):
        return "give a positive number of epochs"
    if value <= epochs_done + 1e-9:
        return f"the run has trained {epochs_done:g} epochs already: give more than that"
    return None


class EpochsModal(ModalScreen[float | None]):
    """Ask how many epochs a finished run should reach; bad values are flagged under the field."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, run_name: str, epochs_done: float, max_steps: int | None = None):
        super().__init__()
        self.run_name, self.epochs_done, self.max_steps = run_name, epochs_done, max_steps

    def compose(self) -> ComposeResult:
        note = (f" (it was limited to {self.max_steps} steps; continuing by epochs lifts that limit)"
                if self.max_steps else "")
        with Vertical(classes="dialog"):
            yield Label(f"Continue {self.run_name}", classes="dialog-title")
            yield Static(f"It has trained {self.epochs_done:g} epochs{note}. Train on from its last checkpoint "
                         "until epoch:", classes="dialog-text")
            yield Input(f"{self.epochs_done + 1:g}", id="epochs-input", compact=True)
            yield Static("", classes="field-error", id="epochs-error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Continue", id="ok", variant="primary", compact=True)
                yield Button("Cancel", id="cancel", compact=True)

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    @on(Input.Changed)
    def _typed(self) -> None:
        self.query_one("#epochs-error", Static).remove_class("visible")

    @on(Input.Submitted)
    @on(Button.Pressed, "#ok")
    def _accept(self) -> None:
        text = self.query_one(Input).value
        problem = epochs_problem(text, self.epochs_done)
        if problem:
            error = self.query_one("#epochs-error", Static)
            error.update(problem)
            error.add_class("visible")
            return
        self.dismiss(float(text))

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


class ExportModal(ModalScreen[None]):
    """Export a run to a folder: the adapter as it is, or merged into the base model in a chosen dtype."""

    BINDINGS = [Binding("escape", "close", "Close")]

    def __init__(self, run_dir: Path, method: str = "lora"):
        super().__init__()
        self.run_dir, self.method = Path(run_dir), method

    def compose(self) -> ComposeResult:
        name = self.run_dir.name
        full = spec(self.method).saves_whole_model  # full, bitfit, freeze saved the whole model
        prompt = not full and not spec(self.method).mergeable  # nothing a weight matrix can absorb
        with Vertical(classes="dialog"):
            yield Label(f"Export {name}", classes="dialog-title")
            with Horizontal(classes="field-line"):
                yield Label("to folder", classes="field-name")
                yield Input(f"{name}-export", id="export-dest", compact=True)
            yield Checkbox("merge into the base model (a standalone model)", full, id="export-merge",
                           compact=True, disabled=full or prompt)
            with Horizontal(classes="field-line"):
                yield Label("dtype", classes="field-name")
                yield Select([(d, d) for d in DTYPES], value="float32", allow_blank=False, compact=True,
                             id="export-dtype", disabled=not full)
            yield Static("a full fine-tune is exported as a whole model" if full else
                         f"{self.method} cannot be merged: its adapter is exported" if prompt else
                         "without merging, the adapter is copied as it is (load it with peft)",
                         classes="dialog-note", id="export-note")
            yield JobStatus(Exported, id="export-status")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Export", id="export-go", variant="primary", compact=True)
                yield Button("Close", id="export-close", compact=True)

    def on_mount(self) -> None:
        self.query_one("#export-dest", Input).focus()

    @on(Checkbox.Changed, "#export-merge")
    def _merge_changed(self, event: Checkbox.Changed) -> None:
        if not spec(self.method).saves_whole_model:
            self.query_one("#export-dtype", Select).disabled = not event.value

    @on(Input.Submitted, "#export-dest")
    @on(Button.Pressed, "#export-go")
    def _export(self) -> None:
        status = self.query_one(JobStatus)
        if status.running:
            return
        destination = self.query_one("#export-dest", Input).value.strip()
        if not destination:
            status.show("give a folder to export to", ok=False)
            return
        merge = self.query_one("#export-merge", Checkbox).value and self.method != "full"
        dtype = str(self.query_one("#export-dtype", Select).value)
        start = partial(self.app.backend.start_export, self.run_dir, Path(destination), merge, dtype)
        if status.launch(start, "starting the export worker"):
            self.query_one("#export-go", Button).disabled = True

    @on(JobStatus.Ended)
    def _ended(self, message: JobStatus.Ended) -> None:
        self.query_one("#export-go", Button).disabled = False
        result = message.result
        if message.ok and isinstance(result, Exported):
            notes = "".join(f"\nnote: {note}" for note in result.notes)
            message.status.show(f"{result.kind} written to {shown_path(result.out)}{notes}", ok=True)

    @on(Button.Pressed, "#export-close")
    def action_close(self) -> None:
        if self.query_one(JobStatus).running:
            self.notify("the export goes on in the background; its log is export.log in the run folder")
        self.dismiss(None)
