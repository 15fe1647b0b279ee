"""Export and try: copy the adapter, merge it into the base model, save the preset; Try it comes next.

Copying is plain file work done here; merging needs torch, so it runs ``fttui export --merge`` in a child
process, and only when the engine ships it (checked on disk, never by importing the engine).
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Button, Footer, Input, Label, Select, Static

from fttui.runner.run_dir import CONFIG_FILE
from fttui.tui import backend

DTYPES = ("float32", "bfloat16", "float16")


def copy_adapter(run_dir: Path, destination: Path) -> Path:
    """Copy the run's adapter/ (or model/) folder to a new or empty ``destination``."""
    source = next((run_dir / name for name in ("adapter", "model") if (run_dir / name).is_dir()), None)
    if source is None:
        raise ValueError(f"{run_dir} has no adapter/ or model/ folder (did the run finish?)")
    destination = destination.expanduser()
    if destination.exists() and (not destination.is_dir() or any(destination.iterdir())):
        raise ValueError(f"{destination} exists and is not empty: choose a new folder")
    shutil.copytree(source, destination, dirs_exist_ok=True)
    return destination


class ExportScreen(Screen):
    BINDINGS = [Binding("escape", "close", "Back"), Binding("ctrl+r", "app.runs", "Runs")]

    class Done(Message):
        def __init__(self, target: str, ok: bool, text: str):
            super().__init__()
            self.target, self.ok, self.text = target, ok, text

    def __init__(self, run_dir: Path):
        super().__init__()
        self.run_dir = Path(run_dir)

    def compose(self) -> ComposeResult:
        name = self.run_dir.name
        can_merge = backend.engine_has("export")
        yield Static(Text.assemble((" fttui ", "bold reverse"), "  Export & try  ", (name, "bold")),
                     classes="step-header")
        with VerticalScroll(classes="body"):
            yield Static("Save the adapter", classes="section-title")
            with Horizontal(classes="field-line"):
                yield Label("to folder", classes="field-name")
                yield Input(f"{name}-adapter", id="adapter-dest", compact=True)
            with Horizontal(classes="button-row"):
                yield Button("Copy adapter", id="copy-adapter", compact=True, variant="primary")
            yield Static("", id="copy-adapter-result", classes="result")

            yield Static("Merge into the base model" + ("" if can_merge else "  (coming next)"),
                         classes="section-title")
            with Horizontal(classes="field-line"):
                yield Label("to folder", classes="field-name")
                yield Input(f"{name}-merged", id="merge-dest", compact=True, disabled=not can_merge)
            with Horizontal(classes="field-line"):
                yield Label("dtype", classes="field-name")
                yield Select([(d, d) for d in DTYPES], value="float32", allow_blank=False, compact=True,
                             id="merge-dtype", disabled=not can_merge)
            with Horizontal(classes="button-row"):
                yield Button("Merge and save (safetensors)", id="merge", compact=True, disabled=not can_merge)
            yield Static("" if can_merge else "Coming next: merging needs the engine's export support, which is "
                         "being added. Until then: copy the adapter and load it with peft.",
                         id="merge-result", classes="result placeholder" if not can_merge else "result")

            yield Static("Save the preset", classes="section-title")
            with Horizontal(classes="field-line"):
                yield Label("to file", classes="field-name")
                yield Input(f"{name}.yaml", id="preset-dest", compact=True)
            with Horizontal(classes="button-row"):
                yield Button("Save preset", id="save-preset", compact=True)
            yield Static("", id="save-preset-result", classes="result")

            yield Static("Try it  (coming next)", classes="section-title")
            yield Static("Coming next: type a prompt (causal LM) or a sentence (classification) and see the base "
                         "model's and the fine-tuned model's outputs side by side. It needs generation support in "
                         "the engine, which is being added; this screen will offer it as soon as it lands.",
                         classes="result placeholder", id="try-placeholder")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#adapter-dest", Input).focus()

    def _result(self, target: str, ok: bool, text: str) -> None:
        widget = self.query_one(f"#{target}-result", Static)
        widget.update(Text(text, style="green" if ok else "red"))

    @on(Button.Pressed, "#copy-adapter")
    def _copy(self) -> None:
        destination = self.query_one("#adapter-dest", Input).value.strip()
        if not destination:
            self._result("copy-adapter", False, "give a folder")
            return
        self._result("copy-adapter", True, "copying…")
        self.copy_worker(Path(destination))

    @work(thread=True, group="export", exit_on_error=False)
    def copy_worker(self, destination: Path) -> None:
        try:
            target = copy_adapter(self.run_dir, destination)
            self.post_message(self.Done("copy-adapter", True, f"adapter copied to {target}"))
        except (OSError, ValueError) as error:
            self.post_message(self.Done("copy-adapter", False, str(error)))

    @on(Button.Pressed, "#merge")
    def _merge(self) -> None:
        destination = self.query_one("#merge-dest", Input).value.strip()
        dtype = self.query_one("#merge-dtype", Select).value
        if not destination:
            self._result("merge", False, "give a folder")
            return
        self._result("merge", True, "merging in a worker process (this loads the base model)…")
        self.merge_worker(Path(destination), str(dtype))

    @work(thread=True, group="export", exit_on_error=False)
    def merge_worker(self, destination: Path, dtype: str) -> None:
        done = self.app.backend.merge(self.run_dir, destination, dtype)
        if done.returncode == 0:
            try:
                out = json.loads(done.stdout.strip().splitlines()[-1]).get("out", destination)
            except (ValueError, IndexError, AttributeError):
                out = destination
            self.post_message(self.Done("merge", True, f"merged model saved to {out}"))
        else:
            self.post_message(self.Done("merge", False, (done.stderr or "merge failed").strip()[-400:]))

    @on(Button.Pressed, "#save-preset")
    def _save_preset(self) -> None:
        from fttui.atomic import write_text

        destination = Path(self.query_one("#preset-dest", Input).value.strip() or "preset.yaml").expanduser()
        try:
            body = (self.run_dir / CONFIG_FILE).read_text(encoding="utf-8")
            write_text(destination, f"# Saved from run {self.run_dir.name}. Run it headless:\n"
                                    f"#   fttui --preset {destination}\n{body}")
            self._result("save-preset", True, f"preset saved to {destination}")
        except OSError as error:
            self._result("save-preset", False, f"cannot save: {error.strerror or error}")

    @on(Done)
    def _done(self, message: Done) -> None:
        self._result(message.target, message.ok, message.text)

    def action_close(self) -> None:
        self.app.pop_screen()
