"""Export and try: the one export UI (the adapter, merged into the base model, GGUF), the preset, the model tried.

Every export runs ``fttui export``'s own path in an export worker (plain, ``--merge --dtype``, ``--gguf TYPE`` or
``--gguf-adapter``) that reports its stages; trying runs a resident "try it" worker (started on the first question,
ended when this screen closes) that answers with the base and the fine-tuned model side by side. The Runs screen's
``x`` and ``e`` both open this screen.
"""
from __future__ import annotations

from functools import partial
from pathlib import Path

from rich import box
from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Button, Input, Label, Select, Static

from fttui import gguf_tools
from fttui.errors import FttuiError
from fttui.events import Event, Exported, Failed, Logged, TryAnswered
from fttui.runner.run_folder import RunFolder, shown_path
from fttui.tui.keys import either
from fttui.tui.widgets.footer import Footer
from fttui.tui.widgets.job import JobStatus, forward_events
from fttui.tui.worker_errors import ReportsWorkerErrors

DTYPES = ("float32", "bfloat16", "float16")
ANSWERS_SHOWN = 6
ADAPTER_CHOICE = "lora-adapter"  # the GGUF type list's entry for --gguf-adapter


def gguf_choices(run_dir: Path) -> tuple[list[tuple[str, str]], str]:
    """The GGUF types this run and machine allow (as Select options), and lines on them and on what is missing."""
    problem = gguf_tools.converter_problem()
    if problem is not None:  # the option says what to install instead of failing
        return [], f"{problem.message}: {problem.hint}"
    kinds = gguf_tools.available_types()
    options = [(kind, kind) for kind in kinds]
    notes = ["a type: the merged model as one file with an Ollama Modelfile"]
    folder = RunFolder(run_dir)
    try:
        refusal = gguf_tools.adapter_refusal(folder.config().method.name, folder.output) if folder.output else None
    except FttuiError as error:
        refusal = error
    if folder.output is not None and refusal is None:
        options.append(("LoRA adapter (for llama.cpp --lora)", ADAPTER_CHOICE))
        notes.append("LoRA adapter: one file for llama-cli --lora")
    notes[-1] += "; each is read back and checked"
    if len(kinds) < len(gguf_tools.GGUF_TYPES):
        notes.append(f"K-quants ({', '.join(gguf_tools.K_QUANTS)}) need llama.cpp's {gguf_tools.QUANTIZE_BINARY} on "
                     "PATH, or pip install llama-cpp-python")
    return options, "\n".join(notes)


def run_task(run_dir: Path) -> str:
    """seq-cls or causal-lm as the run trained (``auto`` while neither its summary nor its plan says)."""
    return RunFolder(run_dir).task or "auto"


def answers_table(answers: list[TryAnswered]) -> Table:
    """The latest answers, newest first: what was typed, the base model's answer, the fine-tuned one's."""
    table = Table(expand=True, show_edge=False, box=box.SIMPLE_HEAD, padding=(0, 1))
    table.add_column("you typed", ratio=2, style="bold")
    table.add_column("base model", ratio=3)
    table.add_column("fine-tuned", ratio=3, style="green")
    for answer in answers[:ANSWERS_SHOWN]:
        if answer.error:
            table.add_row(answer.prompt, Text(answer.error, style="red"), "")
        elif answer.task == "seq-cls":
            table.add_row(answer.prompt, f"{answer.base} ({answer.base_probability or 0:.0%})",
                          f"{answer.tuned} ({answer.tuned_probability or 0:.0%})")
        else:
            table.add_row(answer.prompt, answer.base or Text("(nothing)", style="dim"),
                          answer.tuned or Text("(nothing)", style="dim"))
    return table


class ExportScreen(ReportsWorkerErrors, Screen):
    BINDINGS = [Binding("escape", "close", "Back"), Binding(either("ctrl+r"), "app.runs", "Runs")]

    class TryEvent(Message):
        def __init__(self, event: Event | None):
            super().__init__()
            self.event = event  # None: the try worker ended

    def __init__(self, run_dir: Path):
        super().__init__()
        self.run_dir = Path(run_dir)
        self.model_task = run_task(self.run_dir)
        self.session = None  # the try worker, started on the first question
        self.answers: list[TryAnswered] = []
        self.waiting = 0
        self.try_failed = False

    def compose(self) -> ComposeResult:
        name = self.run_dir.name
        yield Static(Text.assemble((" fttui ", "bold reverse"), "  Export & try  ", (name, "bold")),
                     classes="step-header")
        with VerticalScroll(classes="body"):
            yield Static("Save the adapter", classes="section-title")
            with Horizontal(classes="field-line"):
                yield Label("to folder", classes="field-name")
                yield Input(f"{name}-adapter", id="adapter-dest", compact=True)
            with Horizontal(classes="button-row"):
                yield Button("Export adapter", id="adapter", compact=True, variant="primary")
            yield JobStatus(Exported, id="adapter-result", classes="result")

            yield Static("Merge into the base model", classes="section-title")
            with Horizontal(classes="field-line"):
                yield Label("to folder", classes="field-name")
                yield Input(f"{name}-merged", id="merge-dest", compact=True)
            with Horizontal(classes="field-line"):
                yield Label("dtype", classes="field-name")
                yield Select([(d, d) for d in DTYPES], value="float32", allow_blank=False, compact=True,
                             id="merge-dtype")
            with Horizontal(classes="button-row"):
                yield Button("Merge and save (safetensors)", id="merge", compact=True)
            yield JobStatus(Exported, id="merge-result", classes="result")

            if self.model_task != "seq-cls":  # GGUF runtimes run language models, not classifiers
                options, note = gguf_choices(self.run_dir)
                yield Static("GGUF for llama.cpp, Ollama and LM Studio", classes="section-title")
                with Horizontal(classes="field-line"):
                    yield Label("to folder", classes="field-name")
                    yield Input(f"{name}-gguf", id="gguf-dest", compact=True, disabled=not options)
                with Horizontal(classes="field-line"):
                    yield Label("type", classes="field-name")
                    yield Select(options, allow_blank=not options, compact=True, id="gguf-type", disabled=not options,
                                 **({"value": "q8_0"} if options else {}))
                with Horizontal(classes="button-row"):
                    yield Button("Export GGUF", id="gguf", compact=True, disabled=not options)
                yield Static(Text(note, style="dim" if options else "yellow"), id="gguf-note", classes="result")
                yield JobStatus(Exported, id="gguf-result", classes="result")

            yield Static("Save the preset", classes="section-title")
            with Horizontal(classes="field-line"):
                yield Label("to file", classes="field-name")
                yield Input(f"{name}.yaml", id="preset-dest", compact=True)
            with Horizontal(classes="button-row"):
                yield Button("Save preset", id="save-preset", compact=True)
            yield Static("", id="save-preset-result", classes="result")

            classify = self.model_task == "seq-cls"
            yield Static("Try it: the base model and the fine-tuned one, side by side", classes="section-title")
            with Horizontal(classes="field-line"):
                yield Label("sentence" if classify else "prompt", classes="field-name")
                yield Input(placeholder="a sentence to classify" if classify else "a prompt to continue (greedy, "
                            "48 new tokens)", id="try-input", compact=True)
                yield Button("Ask", id="try-ask", compact=True, variant="primary")
            yield Static(Text("the models load in a worker process on the first question", style="dim"),
                         id="try-status", classes="result")
            yield Static("", id="try-answers")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#adapter-dest", Input).focus()

    def _result(self, target: str, ok: bool, text: str) -> None:
        widget = self.query_one(f"#{target}-result", Static)
        widget.update(Text(text, style="green" if ok else "red"))

    @on(Button.Pressed, "#adapter")
    def _adapter(self) -> None:
        self._launch("adapter", "starting the export worker")

    @on(Button.Pressed, "#merge")
    def _merge(self) -> None:
        self._launch("merge", "starting the export worker (it loads the base model)", merge=True,
                     dtype=str(self.query_one("#merge-dtype", Select).value))

    @on(Button.Pressed, "#gguf")
    def _gguf(self) -> None:
        kind = str(self.query_one("#gguf-type", Select).value)
        adapter = kind == ADAPTER_CHOICE
        self._launch("gguf", "starting the export worker (it loads the model)",
                     gguf=None if adapter else kind, gguf_adapter=adapter)

    def _launch(self, section: str, stage: str, merge: bool = False, dtype: str = "float32", gguf: str | None = None,
                gguf_adapter: bool = False) -> None:
        """One section's export (its ``#S`` button, ``#S-dest`` folder): ``#S-result`` follows the worker."""
        status = self.query_one(f"#{section}-result", JobStatus)
        if status.running:
            return
        destination = self.query_one(f"#{section}-dest", Input).value.strip()
        if not destination:
            status.show("give a folder", ok=False)
            return
        start = partial(self.app.services.start_export, self.run_dir, Path(destination), merge, dtype, gguf,
                        gguf_adapter)
        if status.launch(start, stage):
            self.query_one(f"#{section}", Button).disabled = True  # until its JobStatus.Ended

    @on(JobStatus.Ended)
    def _exported(self, message: JobStatus.Ended) -> None:
        self.query_one(f"#{message.status.id.removesuffix('-result')}", Button).disabled = False
        result = message.result
        if message.ok and isinstance(result, Exported):
            out = Path(shown_path(result.out))
            lines = [f"{result.kind} written to {out}"] + [f"note: {note}" for note in result.notes]
            if result.gguf:
                lines.append(gguf_tools.adapter_summary(result.gguf, out) if result.kind == "gguf adapter"
                             else gguf_tools.gguf_summary(result.gguf, out, self.run_dir.name))
            message.status.show("\n".join(lines), ok=True)

    @on(Button.Pressed, "#save-preset")
    def _save_preset(self) -> None:
        from fttui.atomic import write_text

        destination = Path(self.query_one("#preset-dest", Input).value.strip() or "preset.yaml").expanduser()
        try:
            body = RunFolder(self.run_dir).config_file.read_text(encoding="utf-8")
            write_text(destination, f"# Saved from run {self.run_dir.name}. Run it headless:\n"
                                    f"#   fttui --preset {destination}\n{body}")
            self._result("save-preset", True, f"preset saved to {destination}")
        except OSError as error:
            self._result("save-preset", False, f"cannot save: {error.strerror or error}")

    # ------------------------------------------------------------------ try it

    @on(Input.Submitted, "#try-input")
    @on(Button.Pressed, "#try-ask")
    def _ask(self) -> None:
        field = self.query_one("#try-input", Input)
        text = field.value.strip()
        if not text:
            self._try_status("type a sentence first" if self.model_task == "seq-cls" else "type a prompt first", "red")
            return
        if self.session is None:
            try:
                self.session = self.app.services.start_try(self.run_dir)
            except FttuiError as error:
                self._try_status(error.message, "red")
                return
            except OSError as error:
                self._try_status(f"cannot start the try worker: {error}", "red")
                return
            self._try_status("loading the base and the fine-tuned model in a worker process…", "cyan")
            self.follow_try(self.session)
        if not self.session.ask(text):
            self._try_status("the try worker has ended: see try.log in the run folder", "red")
            return
        self.waiting += 1
        field.value = ""
        if self.answers or self.waiting > 1:
            self._try_status(f"thinking… ({self.waiting} waiting)", "cyan")

    @work(thread=True, exclusive=True, group="try", exit_on_error=False)
    def follow_try(self, session) -> None:
        forward_events(session, lambda event: self.post_message(self.TryEvent(event)), timeout=0.2)

    def after_worker_error(self, worker) -> None:
        if worker.group == "try":  # the session's answers stop here: the next prompt starts a fresh one
            self._try_status("the try worker failed (see the error)", "red")
            if self.session is not None:
                self.session.close()
            self.session, self.waiting, self.try_failed = None, 0, False

    @on(TryEvent)
    def _try_event(self, message: TryEvent) -> None:
        event = message.event
        if isinstance(event, Logged) and event.topic == "ready":
            self._try_status(event.message + (f"; thinking… ({self.waiting} waiting)" if self.waiting else ""),
                             "green")
        elif isinstance(event, TryAnswered):
            self.waiting = max(self.waiting - 1, 0)
            self.answers.insert(0, event)
            answers = self.query_one("#try-answers", Static)
            answers.update(answers_table(self.answers))
            self.call_after_refresh(answers.scroll_visible, animate=False)  # below the fold at 80x24: bring it up
            self._try_status(f"thinking… ({self.waiting} waiting)" if self.waiting else
                             "ready: ask again, or Escape to go back", "cyan" if self.waiting else "green")
        elif isinstance(event, Failed):
            self.try_failed = True
            self._try_status(f"failed: {event.message}" + (f" ({event.hint})" if event.hint else ""), "red")
        elif event is None:
            if not self.try_failed:
                self._try_status("the try worker ended: see try.log in the run folder", "red")
            self.session, self.waiting, self.try_failed = None, 0, False

    def _try_status(self, text: str, style: str) -> None:
        self.query_one("#try-status", Static).update(Text(text, style=style))

    def on_unmount(self) -> None:
        if self.session is not None:
            self.session.close()  # the models stay resident only while this screen is open

    def action_close(self) -> None:
        self.app.pop_screen()
