"""The Runs screen: every run folder with its status, final metrics and loss curve; re-attach to a live one."""
from __future__ import annotations

import time
from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from fttui.events import Evaluated, StepLogged, read_events
from fttui.runner.run_dir import EVENTS_FILE
from fttui.tui.runs import RunInfo, list_runs, shown_path
from fttui.tui.widgets.loss_plot import LossPlot

SHOWN_METRICS = ("eval_accuracy", "eval_f1_macro", "eval_loss", "perplexity", "train_loss")
STATUS_STYLE = {"completed": "green", "running": "bold cyan", "stopped": "yellow", "failed": "red",
                "interrupted": "red", "new": "dim"}


class RunsScreen(Screen):
    BINDINGS = [
        Binding("enter", "open", "Open / attach", show=True),
        Binding("e", "export", "Export & try"),
        Binding("f5", "reload", "Reload"),
        Binding("escape", "close", "Back"),
    ]

    class Loaded(Message):
        def __init__(self, runs: list[RunInfo]):
            super().__init__()
            self.runs = runs

    class CurveRead(Message):
        def __init__(self, path: Path, train: list, evals: list):
            super().__init__()
            self.path, self.train, self.evals = path, train, evals

    def __init__(self, runs_dir: Path):
        super().__init__()
        self.runs_dir = Path(runs_dir)
        self.runs: dict[str, RunInfo] = {}

    def compose(self) -> ComposeResult:
        yield Static(Text.assemble((" fttui ", "bold reverse"), "  Runs  ", (str(self.runs_dir), "dim")),
                     classes="step-header")
        yield DataTable(id="runs-table", cursor_type="row", zebra_stripes=True)
        yield Static("", id="run-detail", classes="info-panel")
        yield LossPlot(id="run-plot", title="loss")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("run", "status", "method", "model", "steps", "result", "when")
        table.focus()
        self.action_reload()

    def action_reload(self) -> None:
        self.query_one("#run-detail", Static).update(Text(f"reading {self.runs_dir}…", style="dim"))
        self.load()

    @work(thread=True, exclusive=True, group="runs", exit_on_error=False)
    def load(self) -> None:
        self.post_message(self.Loaded(list_runs(self.runs_dir)))

    @on(Loaded)
    def _loaded(self, message: Loaded) -> None:
        table = self.query_one(DataTable)
        table.clear()
        self.runs = {str(run.path): run for run in message.runs}
        for run in message.runs:
            steps = f"{run.step}/{run.max_steps}" if run.max_steps else "-"
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(run.started)) if run.started else "-"
            table.add_row(run.name, Text(run.status, style=STATUS_STYLE.get(run.status, "")), run.method,
                          run.model if len(run.model) < 24 else "…" + run.model[-23:], steps,
                          run.headline_metric(), when, key=str(run.path))
        if not message.runs:
            self.query_one("#run-detail", Static).update(
                Text(f"No runs in {self.runs_dir} yet: finish the wizard to start one.", style="dim"))
            self.query_one(LossPlot).clear()
            self.query_one(LossPlot).flush()
        else:
            self.show_run(self.current())

    def current(self) -> RunInfo | None:
        table = self.query_one(DataTable)
        if table.row_count == 0:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return self.runs.get(key)

    @on(DataTable.RowHighlighted)
    def _highlighted(self) -> None:
        self.show_run(self.current())

    @on(DataTable.RowSelected)
    def _selected(self) -> None:
        self.action_open()

    def show_run(self, run: RunInfo | None) -> None:
        if run is None:
            return
        detail = Text()
        detail.append(shown_path(run.path), style="bold")
        detail.append(f"\n{run.status}", style=STATUS_STYLE.get(run.status, ""))
        if run.status == "running":
            detail.append(f" (worker pid {run.pid}): Enter re-attaches")
        metrics = "  ".join(f"{k.removeprefix('eval_')} {run.metrics[k]:.4g}" for k in SHOWN_METRICS
                            if isinstance(run.metrics.get(k), (int, float)))
        if metrics:
            detail.append(f"   {metrics}")
        if "error" in run.metrics:
            detail.append(f"   {run.metrics['error']}", style="red")
        if run.adapter:
            detail.append(f"\nadapter: {shown_path(run.adapter)}", style="dim")
        self.query_one("#run-detail", Static).update(detail)
        self.shown = run.path
        self.read_curve(run.path)

    @work(thread=True, exclusive=True, group="run-curve", exit_on_error=False)
    def read_curve(self, path: Path) -> None:
        """A long run's events.jsonl is read off the UI thread, so moving through the list stays instant."""
        train, evals = [], []
        events_path = path / EVENTS_FILE
        if events_path.is_file():
            for event in read_events(events_path):
                if isinstance(event, StepLogged):
                    train.append((event.step, event.loss))
                elif isinstance(event, Evaluated):
                    evals.append((event.step, event.metrics.get("loss")))
        self.post_message(self.CurveRead(path, train, evals))

    @on(CurveRead)
    def _curve_read(self, message: CurveRead) -> None:
        if message.path != getattr(self, "shown", None):
            return
        run = self.runs.get(str(message.path))
        plot = self.query_one(LossPlot)
        plot.clear()
        plot.max_steps = (run.max_steps if run else 0) or None
        for step, loss in message.train:
            plot.add_train(step, loss)
        for step, loss in message.evals:
            plot.add_eval(step, loss)
        plot.flush()

    def action_open(self) -> None:
        run = self.current()
        if run is not None:
            self.app.open_run(run)

    def action_export(self) -> None:
        run = self.current()
        if run is None:
            return
        if run.status == "running":
            self.notify("this run is still going: export it once it has ended", severity="warning")
            return
        self.app.open_export(run.path)

    def action_close(self) -> None:
        self.app.pop_screen()
