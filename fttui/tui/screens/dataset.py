"""Step 4: the training data: pick a file or hub id, map columns, and see it exactly as the model will.

The preview runs in a child process (``start_scratch(config, "preview")``) because tokenizing needs the
engine; this screen only posts the request and renders the ``Previewed`` event that comes back.
"""
from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Container, Horizontal, VerticalScroll
from textual.message import Message
from textual.widgets import Button, Input, Static

from fttui.config.schema import DataSection, TrainingSection
from fttui.events import Failed, Previewed
from fttui.runner.preflight import DATA_SUFFIXES
from fttui.tui.keys import either
from fttui.tui.screens.base import StepResult, WizardStep
from fttui.tui.widgets.bars import histogram_text
from fttui.tui.widgets.form import SchemaForm
from fttui.tui.widgets.modals import FilePickerModal

FIELDS = ["train", "eval", "format", "text_column", "label_column", "max_train_rows", "system_prompt"]


def looks_like_file(reference: str) -> bool:
    return reference.startswith((".", "/", "~")) or reference.lower().endswith(DATA_SUFFIXES)


LENGTH_FIELDS = ["max_length", "packing"]  # the training.* fields this step sets: they decide what a row costs


def _length_values(training: TrainingSection) -> dict:
    return {name: getattr(training, name) for name in LENGTH_FIELDS}


def render_preview(preview: Previewed) -> Text:
    """Summary, length histogram, truncation, then the examples: prompt dim, trained part highlighted."""
    text = Text()
    text.append("format ", style="bold")
    text.append(f"{preview.data_format}   ")
    text.append("columns ", style="bold")
    text.append(", ".join(preview.columns) + "\n")
    text.append(f"{preview.train_rows:,} training rows, {preview.eval_rows:,} eval rows")
    if preview.labels:
        text.append(f"; labels: {', '.join(preview.labels)}")
    text.append("\n\n")
    text.append(f"token lengths of {preview.measured_rows:,} rows (red: past max length {preview.max_length})\n",
                style="bold")
    text.append_text(histogram_text(preview.length_bins, preview.length_counts, preview.max_length))
    share = preview.truncated_fraction
    text.append(f"\n{share:.1%} of rows are longer than {preview.max_length} tokens and will be truncated\n",
                style="yellow" if share > 0 else "green")
    if preview.packed_sequences is not None:
        text.append(f"packing: {preview.measured_rows - preview.bad_rows:,} rows in {preview.packed_sequences:,} "
                    f"sequences, ~{preview.packed_tokens_per_batch:,.0f} tokens per step; padding "
                    f"{preview.padding_unpacked:.0%} unpacked -> {preview.padding_packed:.0%} packed "
                    "(if the model's attention keeps packed rows apart)\n", style="green")
    if preview.bad_rows:
        text.append(f"{preview.bad_rows:,} of {preview.measured_rows:,} rows cannot be read as {preview.data_format} "
                    "and will be skipped (data.max_bad_rows)\n", style="yellow")
    text.append("\nexamples as the model sees them ", style="bold")
    text.append("(dim: prompt, no loss; ", style="dim")
    text.append("highlighted", style="bold green")
    text.append(": trained)\n", style="dim")
    for number, example in enumerate(preview.examples, start=1):
        text.append(f"{number}. ", style="bold")
        for segment, trained in example.get("segments", []):
            text.append(segment, style="bold green" if trained else "dim")
        if example.get("label") is not None:
            text.append("  → ", style="dim")
            label = str(example["label"])  # a class; or what a preference reply is weighed against
            text.append(label, style="bold red" if label.startswith(("rejected: ", "undesirable")) else "bold green")
        text.append(f"  ({example.get('tokens', '?')} tokens)\n", style="dim")
    return text


class DatasetScreen(WizardStep):
    INDEX = 3
    BINDINGS = [Binding(either("f5"), "preview", "Preview"), Binding(either("ctrl+o"), "browse", "Browse")]

    class PreviewDone(Message):
        def __init__(self, key: tuple, preview: Previewed | None, error: str | None):
            super().__init__()
            self.key, self.preview, self.error = key, preview, error

    def __init__(self, draft):
        super().__init__(draft)
        self.pending_key: tuple | None = None
        self.failed: dict[tuple, str] = {}

    def compose_body(self) -> ComposeResult:
        with Container(classes="body", id="dataset-body"):
            with VerticalScroll(id="dataset-form-column"):
                yield SchemaForm(DataSection, FIELDS, self.draft.sections["data"], "data", id="data-form")
                yield SchemaForm(TrainingSection, LENGTH_FIELDS, self.draft.sections["training"], "length",
                                 id="length-form")
                with Horizontal(classes="button-row"):
                    yield Button("Browse… (ctrl+o)", id="browse", compact=True)
                    yield Button("Preview (F5)", id="preview", compact=True)
            with VerticalScroll(id="dataset-preview-column"):
                yield Static("", id="preview-panel", classes="info-panel")

    def on_resize(self, event) -> None:
        """Side by side when there is room (120 columns), stacked on 80x24."""
        self.set_class(event.size.width >= 110, "wide")

    def on_mount(self) -> None:
        self.query_one("#data-train", Input).focus()
        self.action_preview()

    def _sections(self, show_errors: bool = True):
        data_form = self.query_one("#data-form", SchemaForm)
        length_form = self.query_one("#length-form", SchemaForm)
        errors: dict[str, str] = {}
        values = data_form.raw_values()
        for key in ("train", "eval"):
            value = values.get(key)
            if isinstance(value, str) and looks_like_file(value) and not Path(value).expanduser().is_file():
                errors[key] = f"file not found: {value}"
        preview = self.draft.preview
        if preview is not None and preview.columns:
            for key in ("text_column", "label_column"):
                if values.get(key) and values[key] not in preview.columns:
                    errors[key] = f"no column {values[key]!r}; columns: {', '.join(preview.columns)}"
        data = data_form.validate(self.draft.sections["data"], errors)
        training = length_form.validate(self.draft.sections["training"])
        return data, training

    def _key(self, data: DataSection, training: TrainingSection) -> tuple:
        return (self.draft.get("model", "name"), self.draft.get("model", "task"), data.model_dump_json(),
                training.max_length, training.packing, self.draft.get("training", "batch_size"))

    @on(Button.Pressed, "#preview")
    def action_preview(self) -> None:
        data, training = self._sections()
        if data is None or training is None:
            return
        key = self._key(data, training)
        if self.draft.preview_key == key and self.draft.preview is not None:
            self._show(self.draft.preview)
            return
        raw = self.draft.raw()
        raw["data"] = data.model_dump(mode="json")
        raw["training"].update(_length_values(training))
        self.pending_key = key
        self.query_one("#preview-panel", Static).update(
            Text("reading and tokenizing the data in a worker process (a few seconds)…", style="dim"))
        self.run_preview(key, raw)

    @work(thread=True, exclusive=True, group="preview", exit_on_error=False)
    def run_preview(self, key: tuple, raw: dict) -> None:
        from fttui.config import validate_config

        try:
            supervisor = self.app.services.start_preview(validate_config(raw, "wizard"))
        except Exception as error:
            self.post_message(self.PreviewDone(key, None, getattr(error, "message", str(error))))
            return
        from textual.worker import get_current_worker

        worker = get_current_worker()
        while True:
            event = supervisor.next_event(0.2)
            if worker.is_cancelled:
                supervisor.request_stop()
                supervisor.request_stop()
                return
            if event is None:
                self.post_message(self.PreviewDone(key, None, "the preview worker ended without an answer"))
                return
            if isinstance(event, Previewed):
                self.post_message(self.PreviewDone(key, event, None))
                return
            if isinstance(event, Failed):
                self.post_message(self.PreviewDone(key, None, event.message + (f"\nhint: {event.hint}" if event.hint else "")))
                return

    def after_worker_error(self, worker) -> None:
        if worker.group == "preview" and self.pending_key is not None:  # no answer is coming: stop saying "reading"
            self.pending_key = None
            self.query_one("#preview-panel", Static).update(Text("the preview failed (see the error)", style="red"))

    @on(PreviewDone)
    def _preview_done(self, message: PreviewDone) -> None:
        if message.key != self.pending_key:
            return
        self.pending_key = None
        panel = self.query_one("#preview-panel", Static)
        if message.preview is None:
            self.failed[message.key] = message.error or "unknown error"
            panel.update(Text(f"the data cannot be used as given:\n{message.error}", style="red"))
            return
        self.draft.preview, self.draft.preview_key = message.preview, message.key
        self._show(message.preview)

    def _show(self, preview: Previewed) -> None:
        self.query_one("#preview-panel", Static).update(render_preview(preview))
        for key, placeholder in (("text_column", preview.text_column), ("label_column", preview.label_column)):
            control = self.query_one(f"#data-{key}", Input)
            control.placeholder = f"detected: {placeholder}" if placeholder else "default"

    @on(Button.Pressed, "#browse")
    def action_browse(self) -> None:
        current = self.query_one("#data-train", Input).value.strip()
        here = Path.cwd().resolve()
        folder = Path(current).expanduser().resolve().parent if current and looks_like_file(current) else here
        start = folder if folder.is_relative_to(here) else here  # your folder, not the package's bundled data

        def picked(path: str | None) -> None:
            if path:
                self.query_one("#data-train", Input).value = path
                self.action_preview()

        self.app.push_screen(FilePickerModal(start), picked)

    @on(Input.Submitted)
    def _submitted(self) -> None:
        self.action_preview()

    def keep_on_back(self) -> dict:
        data, training = self._sections()
        kept = {"data": data} if data is not None else {}
        if training is not None:
            kept["training"] = TrainingSection.model_validate(
                {**self.draft.sections["training"], **_length_values(training)})
        return kept

    def collect(self) -> StepResult | None:
        data, training = self._sections()
        if data is None or training is None:
            self.set_status("fix the fields marked in red")
            return None
        key = self._key(data, training)
        if key in self.failed:
            self.set_status("the preview failed: fix the data or the column mapping")
            return None
        merged = {**self.draft.sections["training"], **_length_values(training)}
        preview = self.draft.preview
        if preview is not None and preview.data_format == "preference" and merged.get("objective", "sft") == "sft":
            merged["objective"] = "dpo"  # pairs of replies: learned as preferences (Hyperparameters can change it)
        return StepResult("next", {"data": data, "training": TrainingSection.model_validate(merged)})
