"""Step 6: the resolved preset as highlighted YAML, the memory estimate, Check fit, Save preset as…, and Start.

Check fit runs the engine's measured fit check (``engine.training.fit_check``) on the draft in a scratch worker
(``fttui.engine.worker --mode fit``): torch stays out of the UI process. What fits (micro-batch, accumulation,
checkpointing) goes into the draft with ``training.fit_check: false``, so the run starts without probing again.
"""
from __future__ import annotations

from pathlib import Path

from rich.syntax import Syntax
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.widgets import Button, Input, Static

from fttui.config import dump_config
from fttui.config.schema import OutputSection
from fttui.errors import FttuiError
from fttui.events import Failed, FitChecked
from fttui.tui import services
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


def fit_text(result: FitChecked | Failed) -> Text:
    """One line for a fit check's result: what was measured and what fits, or why nothing does and what to do."""
    if isinstance(result, Failed):
        return Text(f"fit check: {result.message}" + (f"; {result.hint}" if result.hint else ""), style="red")
    estimate = f" vs estimate {result.estimate_mb:,.0f} MB" if result.estimate_mb else ""
    line = Text(f"fit check: measured {result.measured_mb:,.0f} MB{estimate}; fits at batch {result.batch_size} x "
                f"accumulation {result.gradient_accumulation}"
                + (", gradient checkpointing on" if result.gradient_checkpointing else ""), style="green")
    if result.changes:
        line.append(f" ({'; '.join(result.changes)}: applied to the draft)", style="yellow")
    return line


class ReviewScreen(WizardStep):
    INDEX = 5
    BINDINGS = [Binding(either("ctrl+s"), "save", "Save preset"), Binding("ctrl+f", "check_fit", "Check fit")]

    class FitDone(Message):
        def __init__(self, result: FitChecked | Failed) -> None:
            super().__init__()
            self.result = result

    def next_label(self) -> str:
        return "Start training ▶"

    def compose_body(self) -> ComposeResult:
        self.draft.name_run()
        with VerticalScroll(classes="body"):
            yield SchemaForm(OutputSection, ["name"], self.draft.sections["output"], "output", id="output-form")
            yield Static("", id="review-estimate")
            with Horizontal(classes="button-row"):
                yield Button("Save preset as… (ctrl+s)", id="save", compact=True)
                yield Button("Check fit (ctrl+f)", id="check-fit", compact=True)
            yield Static("", id="review-fit")
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
        estimate = services.estimate_config(config, self.draft.shape, self.draft.hardware)
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

    @on(Button.Pressed, "#check-fit")
    def action_check_fit(self) -> None:
        config = self.resolved()
        if config is None:
            return
        self.query_one("#check-fit", Button).disabled = True
        self.query_one("#review-fit", Static).update(Text(
            "fit check: running... (two training steps on the longest rows, in a worker process)", style="dim"))
        self.run_fit_check(config)

    @work(thread=True, exclusive=True, group="fit-check", exit_on_error=False)
    def run_fit_check(self, config) -> None:
        from textual.worker import get_current_worker

        try:
            supervisor = self.app.services.start_fit(config)
        except FttuiError as error:
            self.post_message(self.FitDone(Failed(kind=type(error).__name__, message=error.message, hint=error.hint)))
            return
        worker = get_current_worker()
        while (event := supervisor.next_event(0.2)) is not None:
            if worker.is_cancelled:  # the screen went away: no worker goes on unwatched
                supervisor.request_stop()
                supervisor.request_stop()
                return
            if isinstance(event, (FitChecked, Failed)):
                self.post_message(self.FitDone(event))
                return
        self.post_message(self.FitDone(Failed(kind="TrainingError", message="the fit check worker ended without a result",
                                              hint="start the run: it checks the fit itself (training.fit_check) "
                                                   "and keeps its log in the run folder")))

    def after_worker_error(self, worker) -> None:
        if worker.group == "fit-check":  # the error dialog says why; the button works again
            self.query_one("#check-fit", Button).disabled = False
            self.query_one("#review-fit", Static).update(Text("fit check: failed (see the error)", style="red"))

    @on(FitDone)
    def _fit_done(self, message: FitDone) -> None:
        result = message.result
        self.query_one("#check-fit", Button).disabled = False
        self.query_one("#review-fit", Static).update(fit_text(result))
        if isinstance(result, FitChecked):  # what fits goes into the draft: the run does not probe again
            self.draft.update("training", {"batch_size": result.batch_size,
                                           "gradient_accumulation": result.gradient_accumulation,
                                           "gradient_checkpointing": result.gradient_checkpointing,
                                           "fit_check": False})
            self.refresh_review()
            self.set_status("fit check done" + (": the draft now uses what fits" if result.changes else ""), "ok")

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
        """The confirmed config: the app starts it (and brings this step back with the reason if it cannot)."""
        config = self.resolved()
        if config is None:
            return None
        return StepResult("next", {"output": config.output}, confirmed=config)
