"""Small modal dialogs: confirm, choose one of several, show an error, ask for a path, pick a file.

Each returns its answer through ``dismiss`` so callers use ``push_screen(modal, callback)``; Escape cancels.
"""
from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, DirectoryTree, Input, Label, Static

from fttui.runner.preflight import DATA_SUFFIXES


class ChoiceModal(ModalScreen[str | None]):
    """A question with several answers (buttons); the first is focused, Escape answers None."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, question: str | Text, choices: list[tuple[str, str]], title: str = "",
                 danger: str | None = None):
        super().__init__()
        self.question, self.choices, self.title_text, self.danger = question, choices, title, danger

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            if self.title_text:
                yield Label(self.title_text, classes="dialog-title")
            yield Static(self.question, classes="dialog-text")
            with Horizontal(classes="dialog-buttons"):
                for key, label in self.choices:
                    variant = "error" if key == self.danger else "primary" if key == self.choices[0][0] else "default"
                    yield Button(label, id=f"choice-{key}", variant=variant, compact=True)

    def on_mount(self) -> None:
        self.query(Button).first().focus()

    @on(Button.Pressed)
    def _chosen(self, event: Button.Pressed) -> None:
        self.dismiss(str(event.button.id).removeprefix("choice-"))

    def action_cancel(self) -> None:
        self.dismiss(None)


class ConfirmModal(ChoiceModal):
    """Yes or no; answers True only for yes."""

    def __init__(self, question: str, yes: str = "Yes", no: str = "Cancel", title: str = "", danger: bool = False):
        super().__init__(question, [("yes", yes), ("no", no)], title, danger="yes" if danger else None)

    def dismiss(self, result=None):
        return super().dismiss(result == "yes")


class ErrorModal(ChoiceModal):
    """What went wrong and what to do next, with one OK button; the text is shown as is (no markup)."""

    def __init__(self, message: str, hint: str = "", title: str = "Error"):
        text = Text(message)
        if hint:
            text.append(f"\nhint: {hint}", style="dim")
        super().__init__(text, [("ok", "OK")], title)
        self.message, self.hint = message, hint


class PathModal(ModalScreen[str | None]):
    """Ask for a path (save a preset, export to a folder); Enter accepts, Escape cancels."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, prompt: str, default: str = "", title: str = ""):
        super().__init__()
        self.prompt, self.default, self.title_text = prompt, default, title

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            if self.title_text:
                yield Label(self.title_text, classes="dialog-title")
            yield Static(self.prompt, classes="dialog-text")
            yield Input(self.default, id="path-input", compact=True)
            yield Static("", classes="field-error", id="path-error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("OK", id="ok", variant="primary", compact=True)
                yield Button("Cancel", id="cancel", compact=True)

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    @on(Input.Submitted)
    @on(Button.Pressed, "#ok")
    def _accept(self) -> None:
        value = self.query_one(Input).value.strip()
        if not value:
            error = self.query_one("#path-error", Static)
            error.update("give a path")
            error.add_class("visible")
            return
        self.dismiss(value)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


class DataTree(DirectoryTree):
    """Folders and data files only (.jsonl, .csv, ...), hidden files left out."""

    def filter_paths(self, paths):
        return [p for p in paths if not p.name.startswith(".") and (p.is_dir() or p.suffix.lower() in DATA_SUFFIXES)]


class FilePickerModal(ModalScreen[str | None]):
    """Browse for a local data file anywhere: Enter on a file picks it, Backspace goes up a folder, ~ home."""

    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("backspace", "up", "Up a folder"),
                Binding("tilde", "home", "Home")]

    def __init__(self, start: Path):
        super().__init__()
        self.start = start if start.is_dir() else Path.cwd()

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog picker"):
            yield Label(self._title(self.start), classes="dialog-title", id="picker-title")
            yield DataTree(self.start, id="picker-tree")
            yield Static("Enter: open a folder, choose a file   Backspace: up a folder   ~: home   Escape: cancel",
                         classes="field-help")

    @staticmethod
    def _title(folder: Path) -> str:
        return f"Pick a data file under {folder}"

    def on_mount(self) -> None:
        self.query_one(DataTree).focus()

    def _show(self, folder: Path) -> None:
        tree = self.query_one(DataTree)
        tree.path = folder
        self.query_one("#picker-title", Label).update(self._title(folder))

    def action_up(self) -> None:
        current = Path(self.query_one(DataTree).path).resolve()
        if current.parent != current:
            self._show(current.parent)

    def action_home(self) -> None:
        self._show(Path.home())

    @on(DirectoryTree.FileSelected)
    def _picked(self, event: DirectoryTree.FileSelected) -> None:
        self.dismiss(str(event.path))

    def action_cancel(self) -> None:
        self.dismiss(None)
