"""What every wizard step shares: a step header, Back/Next, and returning its section through ``dismiss``."""
from __future__ import annotations

from pydantic import BaseModel
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Button, Static

from fttui.tui.draft import Draft, StepResult
from fttui.tui.keys import either
from fttui.tui.widgets.footer import Footer
from fttui.tui.worker_errors import ReportsWorkerErrors

__all__ = ["STEP_NAMES", "StepHeader", "StepResult", "WizardStep", "step_header"]
STEP_NAMES = ("Hardware", "Model", "Method", "Dataset", "Hyperparameters", "Review")


def step_header(index: int, width: int = 120) -> Text:
    """`` fttui  1 Hardware › 2 Model › ...``; when too wide, steps other than the current one shrink."""
    for short in (False, True):
        text = Text(" fttui ", style="bold reverse")
        text.append("  ")
        for number, name in enumerate(STEP_NAMES):
            style = "bold underline" if number == index else "dim" if number > index else ""
            label = f"{number + 1}" if short and number != index else f"{number + 1} {name}"
            text.append(label, style=style)
            if number < len(STEP_NAMES) - 1:
                text.append(" › ", style="dim")
        if text.cell_len <= width:
            break
    return text


class StepHeader(Static):
    """The step bar; re-rendered on resize so it fits 80 columns."""

    def __init__(self, index: int):
        super().__init__(classes="step-header")
        self.index = index

    def render(self) -> Text:
        return step_header(self.index, self.size.width or 120)


class WizardStep(ReportsWorkerErrors, Screen[StepResult]):
    """A step: ``compose_body`` draws it, ``collect`` validates it and returns its sections (or None).

    ``opening_status``: a line the step shows when it opens (the app's reason a start failed, on the Review step).
    """

    INDEX = 0
    BINDINGS = [
        Binding(either("ctrl+n"), "next", "Next", priority=True),
        Binding("escape", "back", "Back"),
        Binding(either("ctrl+r"), "app.runs", "Runs"),
    ]

    def __init__(self, draft: Draft):
        super().__init__()
        self.draft = draft
        self.opening_status = ""

    def compose(self) -> ComposeResult:
        yield StepHeader(self.INDEX)
        yield from self.compose_body()
        with Horizontal(classes="nav"):
            yield Button("← Back", id="back", compact=True, disabled=self.INDEX == 0)
            yield Static(self.opening_status, classes="nav-status error" if self.opening_status else "nav-status",
                         id="nav-status")
            yield Button(self.next_label(), id="next", variant="primary", compact=True)
        yield Footer()

    def compose_body(self) -> ComposeResult:
        yield from ()

    def next_label(self) -> str:
        return "Next →"

    def collect(self) -> StepResult | None:
        return StepResult("next")

    def set_status(self, message: str, level: str = "error") -> None:
        status = self.query_one("#nav-status", Static)
        status.update(message)
        status.set_classes(f"nav-status {level}")

    def action_next(self) -> None:
        result = self.collect()
        if result is not None:
            self.dismiss(result)

    def keep_on_back(self) -> dict[str, BaseModel]:
        """Sections worth keeping when the user goes back (valid edits are not thrown away)."""
        return {}

    def action_back(self) -> None:
        if self.INDEX > 0:
            self.dismiss(StepResult("back", self.keep_on_back()))

    @on(Button.Pressed, "#next")
    def _next_pressed(self) -> None:
        self.action_next()

    @on(Button.Pressed, "#back")
    def _back_pressed(self) -> None:
        self.action_back()
