"""Step 5: the training settings and the chosen method's settings, defaults from the recommendation."""
from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Input, Select, Static

from fttui.config.methods import REGISTRY
from fttui.config.schema import MethodSection, TrainingSection
from fttui.tui.screens.base import StepResult, WizardStep
from fttui.tui.widgets.form import SchemaForm

TRAINING_FIELDS = ["objective", "beta", "learning_rate", "epochs", "max_steps", "batch_size", "gradient_accumulation", "max_length",
                   "warmup_ratio", "scheduler", "weight_decay", "precision", "gradient_checkpointing", "seed",
                   "logging_steps", "eval_steps", "save_steps"]


VALIDATE_DELAY_S = 0.15


class HyperparamsScreen(WizardStep):
    INDEX = 4
    validate_timer = None

    def compose_body(self) -> ComposeResult:
        method = self.draft.get("method", "name", "lora")
        with VerticalScroll(classes="body"):
            yield Static(f"Training settings for {method}. Tab moves between fields; the focused field shows its "
                         "help. Empty means the default.", classes="intro")
            yield SchemaForm(TrainingSection, TRAINING_FIELDS, self.draft.sections["training"], "training",
                             id="training-form")
            fields = REGISTRY[method].fields if method in REGISTRY else ()
            if fields:
                yield Static(f"{method} settings", classes="section-title")
                yield SchemaForm(MethodSection, fields, self.draft.sections["method"], "method", id="method-form")

    def on_mount(self) -> None:
        self.query(".field-control").first().focus()

    def validate_forms(self):
        method_form = self.query("#method-form").first(SchemaForm) if self.query("#method-form") else None
        training_form = self.query_one("#training-form", SchemaForm)
        method_errors: dict[str, str] = {}
        training_errors: dict[str, str] = {}
        if method_form is not None and "lora_targets" in method_form.fields:
            targets = method_form.raw_values().get("lora_targets")
            shape = self.draft.shape
            if shape is not None and targets:
                try:
                    shape.resolve_targets(targets if isinstance(targets, list) else [str(targets)])
                except Exception as error:
                    method_errors["lora_targets"] = f"{error}" + (f" ({error.hint})" if getattr(error, "hint", None) else "")
        method_name = self.draft.get("method", "name")
        if method_name in REGISTRY and not REGISTRY[method_name].gradient_checkpointing \
                and training_form.raw_values().get("gradient_checkpointing"):
            training_errors["gradient_checkpointing"] = f"{method_name} tuning does not support gradient checkpointing"
        training = training_form.validate(self.draft.sections["training"], training_errors)
        method = self.draft.sections["method"]
        method_section = (method_form.validate(method, method_errors) if method_form is not None
                          else MethodSection.model_validate(method))
        return training, method_section

    @on(Input.Changed)
    @on(Select.Changed)
    def _changed(self) -> None:
        """Flag bad values as they are typed, a moment after the last key (the keystroke shows first)."""
        if self.validate_timer is not None:
            self.validate_timer.stop()
        self.validate_timer = self.set_timer(VALIDATE_DELAY_S, self.validate_forms)

    def keep_on_back(self) -> dict:
        training, method = self.validate_forms()
        return {name: section for name, section in (("training", training), ("method", method)) if section is not None}

    def collect(self) -> StepResult | None:
        training, method = self.validate_forms()
        if training is None or method is None:
            self.set_status("fix the fields marked in red")
            return None
        return StepResult("next", {"training": training, "method": method})
