"""Step 2: which model: built-in, a hub id or a local folder; its size and task read from its config only."""
from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.widgets import Button, Input, Select, Static

from fttui.config import BUILTIN_MODEL
from fttui.config.schema import ModelSection
from fttui.errors import FttuiError
from fttui.planning import trainable_task
from fttui.tui import services
from fttui.tui.screens.base import StepResult, WizardStep
from fttui.tui.widgets.form import SchemaForm

FIELDS = ["name", "task", "revision", "trust_remote_code"]
CHECK_DELAY_S = 0.6


def _params(n: int) -> str:
    return f"{n / 1e9:.2f}B" if n >= 1e9 else f"{n / 1e6:.1f}M"


def describe(shape, task_setting: str) -> Text:
    text = Text()
    text.append(f"{shape.source}", style="bold")
    text.append(f"  {shape.family} {shape.kind}" + (f" ({shape.architecture})" if shape.architecture else "") + "\n")
    text.append(f"{_params(shape.total_params)} parameters, {shape.num_layers} layers, hidden {shape.hidden_size}, "
                f"context {shape.context_length or '?'} tokens, vocabulary {shape.vocab_size:,}\n")
    text.append("task: ", style="bold")
    try:
        task = trainable_task(shape, task_setting)
    except FttuiError as error:  # what the engine would refuse, said before the run
        text.append(f"{error.message}; {error.hint}\n", style="yellow")
    else:
        text.append(f"{task}" + (" (inferred from the config)" if task_setting == "auto" else "") + "\n")
    text.append("LoRA targets by default: every linear layer (", style="dim")
    text.append(", ".join(shape.lora_target_names) or "-", style="dim")
    text.append(")", style="dim")
    for warning in shape.warnings:
        text.append(f"\nnote: {warning}", style="yellow")
    return text


class ModelScreen(WizardStep):
    INDEX = 1

    class ShapeLoaded(Message):
        def __init__(self, ref: str, shape, error: str | None):
            super().__init__()
            self.ref, self.shape, self.error = ref, shape, error

    def __init__(self, draft):
        super().__init__(draft)
        self.loading: str | None = None
        self.check_timer = None
        self.task_chosen = False  # the user picked a task on this visit: new models do not change it
        self.task_set_to = None  # the value this screen set itself (its Changed event is not the user's)
        self.task_shown = draft.sections["model"].get("task", "auto")  # what the field held before a change

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(classes="body"):
            yield Static("The model to fine-tune: the built-in MiniLM (offline), a hub id (org/name) or a local "
                         "folder saved with save_pretrained. Only its config.json is read here.", classes="intro")
            yield SchemaForm(ModelSection, FIELDS, self.draft.sections["model"], "model", id="model-form")
            with Horizontal(classes="button-row"):
                yield Button("Use the built-in model", id="use-builtin", compact=True)
            yield Static("", id="model-info", classes="info-panel")

    def on_mount(self) -> None:
        self.query_one("#model-name", Input).focus()
        self.check_model()

    def current_ref(self) -> str:
        return self.query_one("#model-name", Input).value.strip()

    @on(Button.Pressed, "#use-builtin")
    def _use_builtin(self) -> None:
        self.query_one("#model-name", Input).value = BUILTIN_MODEL
        self.check_model()

    @on(Input.Changed, "#model-name")
    def _name_changed(self) -> None:
        if self.check_timer is not None:
            self.check_timer.stop()
        self.check_timer = self.set_timer(CHECK_DELAY_S, self.check_model)

    @on(Input.Submitted, "#model-name")
    def _name_submitted(self) -> None:
        self.check_model()

    @on(Select.Changed, "#model-task")
    def _task_changed(self, event: Select.Changed) -> None:
        if event.value not in (self.task_set_to, self.task_shown):  # the user's own choice: later models keep it
            self.task_chosen = True
        self.task_shown = event.value
        self.show_shape()

    def follow_task(self, shape) -> None:
        """A new model brings its own task (a ...ForCausalLM folder: causal-lm), unless the user chose one here."""
        select = self.query_one("#model-task", Select)
        try:
            inferred = trainable_task(shape)
        except FttuiError:  # an encoder-decoder: auto would not train, so the task it has stays
            return
        if self.task_chosen or select.value in ("auto", inferred):
            return
        if inferred == "causal-lm" and shape.kind == "encoder":
            return
        self.task_set_to = inferred
        select.value = inferred
        self.notify(f"task set to {inferred}: {shape.architecture or shape.family} "
                    f"{'generates text' if inferred == 'causal-lm' else 'classifies text'}", timeout=6)

    def check_model(self) -> None:
        ref = self.current_ref()
        if not ref:
            self.query_one("#model-info", Static).update(Text("give a model", style="dim"))
            return
        shape = self.draft.shape
        if shape is not None and shape.source == ref:
            self.show_shape()
            return
        self.loading = ref
        self.query_one("#model-info", Static).update(Text(f"reading {ref}'s config…", style="dim"))
        self.load_shape(ref, self.query_one("#model-revision", Input).value.strip() or None)

    @work(thread=True, exclusive=True, group="model-shape", exit_on_error=False)
    def load_shape(self, ref: str, revision: str | None) -> None:
        try:
            self.post_message(self.ShapeLoaded(ref, services.load_shape(ref, revision), None))
        except Exception as error:
            message = getattr(error, "message", None) or f"{type(error).__name__}: {error}"
            hint = getattr(error, "hint", None)
            self.post_message(self.ShapeLoaded(ref, None, message + (f"\n{hint}" if hint else "")))

    def after_worker_error(self, worker) -> None:
        if worker.group == "model-shape" and self.loading is not None:  # stop saying "reading…"; Next works again
            self.query_one("#model-info", Static).update(Text(f"reading {self.loading}'s config failed", style="red"))
            self.loading = None

    @on(ShapeLoaded)
    def _shape_loaded(self, message: ShapeLoaded) -> None:
        if message.ref != self.current_ref():
            return
        self.loading = None
        self.draft.shape, self.draft.shape_error = message.shape, message.error
        if message.shape is not None:
            self.follow_task(message.shape)
        self.show_shape()

    def show_shape(self) -> None:
        info = self.query_one("#model-info", Static)
        shape = self.draft.shape
        if shape is not None and shape.source == self.current_ref():
            task = self.query_one("#model-task", Select).value
            info.update(describe(shape, task if isinstance(task, str) else "auto"))
            info.set_class(False, "problem")
        elif self.draft.shape_error:
            info.update(Text(self.draft.shape_error, style="yellow"))
            info.set_class(True, "problem")

    def keep_on_back(self) -> dict:
        section = self.query_one(SchemaForm).validate(self.draft.sections["model"])
        return {"model": section} if section is not None else {}

    def collect(self) -> StepResult | None:
        form = self.query_one(SchemaForm)
        ref = self.current_ref()
        errors: dict[str, str] = {}
        if ref and ref != BUILTIN_MODEL and ref.startswith((".", "/", "~")) and not Path(ref).expanduser().exists():
            errors["name"] = f"no model folder at {ref}"
        shape = self.draft.shape if self.draft.shape is not None and self.draft.shape.source == ref else None
        task = form.raw_values().get("task")
        if shape is not None and task == "causal-lm" and shape.kind == "encoder":
            errors["task"] = f"{ref} is an encoder: it cannot generate text; choose seq-cls"
        elif shape is not None and isinstance(task, str):
            try:
                trainable_task(shape, task)
            except FttuiError as error:
                errors["task"] = error.message
        section = form.validate(self.draft.sections["model"], errors)
        if section is None:
            self.set_status("fix the fields marked in red")
            return None
        if self.loading == ref:
            self.set_status("still reading the model's config…", "warning")
            return None
        if shape is None:
            self.draft.shape = None
            if self.draft.shape_error and "hub" not in self.draft.shape_error:
                form.show_errors({"name": self.draft.shape_error.splitlines()[0]})
                self.set_status("this model cannot be read")
                return None
        return StepResult("next", {"model": section})
