"""The Runs screen's dialog for continuing a finished run for more epochs: it only asks (the app resumes the run).

Exporting has no dialog of its own: ``x`` opens the Export & try screen, the one export UI (``screens.export``).
"""
from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static


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
