"""Step 6: the resolved preset as highlighted YAML, the memory estimate, Save preset as…, and Start."""
from __future__ import annotations

from pathlib import Path

from rich.syntax import Syntax
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Button, Input, Static

from fttui.config import dump_config
from fttui.config.schema import OutputSection
from fttui.errors import FttuiError
from fttui.tui import backend
from fttui.tui.keys import either
from fttui.tui.screens.base import StepResult, WizardStep
from fttui.tui.widgets.bars import bar_text
from fttui.tui.widgets.form import SchemaForm
from fttui.tui.widgets.modals import PathModal


def preset_text(config) -> str:
    """The YAML a saved preset holds, opening with the command that runs it (like the shipped presets)."""
    return f"# Saved by the fttui wizard. Run it headless:\n#   fttui --preset PATH\n{dump_config(config)}"


def save_preset(config, path: str) -> Path:
    from fttui.atomic import write_text

    target = Path(path).expanduser()
    if target.suffix not in (".yaml", ".yml"):
        target = target.with_suffix(".yaml")
    write_text(target, preset_text(config).replace("PATH", str(target)))
    return target


class ReviewScreen(WizardStep):
    INDEX = 5
    BINDINGS = [Binding(either("ctrl+s"), "save", "Save preset")]

    def next_label(self) -> str:
        return "Start training ▶"

    def compose_body(self) -> ComposeResult:
        self.draft.name_run()
        with VerticalScroll(classes="body"):
            yield SchemaForm(OutputSection, ["name"], self.draft.sections["output"], "output", id="output-form")
            yield Static("", id="review-estimate")
            with Horizontal(classes="button-row"):
                yield Button("Save preset as… (ctrl+s)", id="save", compact=True)
            yield Static("", id="review-yaml", classes="yaml")

    def on_mount(self) -> None:
        self.refresh_review()
        self.query_one("#next").focus()

    def resolved(self):
        """The config with this screen's run name; None after showing why it is not valid."""
        output = self.query_one(SchemaForm).validate(self.draft.sections["output"])
        if output is None:
            return None
        self.draft.update("output", output)
        try:
            return self.draft.config()
        except FttuiError as error:
            self.query_one("#review-yaml", Static).update(Text(error.message, style="red"))
            self.set_status("the config is not valid: go back and fix it")
            return None

    def refresh_review(self) -> None:
        config = self.resolved()
        if config is None:
            return
        text = dump_config(config)  # highlighted as plain styled text: no background boxes, wraps like text
        self.query_one("#review-yaml", Static).update(Syntax(text, "yaml", theme="ansi_dark").highlight(text))
        estimate = backend.estimate_config(config, self.draft.shape, self.draft.hardware)
        line = Text("memory estimate  ", style="bold")
        if estimate is None:
            line.append("unknown (the model's config could not be read)", style="dim")
        else:
            need, available, unit = estimate
            line.append_text(bar_text(0, available, width=20, need=need))
            line.append(f" {unit}" + ("  fits" if need <= available * 0.9 else "  may not fit"),
                        style="green" if need <= available * 0.9 else "red")
        self.query_one("#review-estimate", Static).update(line)

    @on(Input.Submitted, "#output-name")
    def _renamed(self) -> None:
        self.refresh_review()

    @on(Button.Pressed, "#save")
    def action_save(self) -> None:
        config = self.resolved()
        if config is None:
            return
        default = f"{config.output.name or 'my-preset'}.yaml"

        def chosen(path: str | None) -> None:
            if not path:
                return
            try:
                target = save_preset(config, path)
            except OSError as error:
                self.set_status(f"cannot save {path}: {error.strerror}")
                return
            self.set_status(f"saved {target}", "ok")
            self.notify(f"preset saved to {target}")

        self.app.push_screen(PathModal("Save the preset to this file:", default, title="Save preset as…"), chosen)

    def collect(self) -> StepResult | None:
        config = self.resolved()
        if config is None:
            return None
        started = self.app.launch(config)
        if isinstance(started, str):
            self.set_status(started)
            return None
        return StepResult("next", {"output": config.output}, extra=started)
