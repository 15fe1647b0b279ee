"""The Runs screen: every run folder with its status, final metrics and loss curve, and what to do with it.

Enter re-attaches to a live run (or shows an ended one); ``r`` resumes a stopped, interrupted or failed run
from its last checkpoint and ``c`` continues a finished one for more epochs (both like ``fttui --resume``,
then the Train screen follows the new worker); ``x`` and ``e`` open Export & try; ``a`` aligns a finished
causal-LM run: the wizard again, starting from its tuned model (``model.name=RUN_DIR``) with DPO.
"""
from __future__ import annotations

import time
from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Static

from fttui.events import Evaluated, Started, StepLogged
from fttui.runner.console import STATUS_STYLE
from fttui.runner.continued import FINISHED
from fttui.runner.run_folder import RunFolder, RunInfo, list_runs, shown_path
from fttui.tui.keys import either
from fttui.tui.screens.run_actions import EpochsModal
from fttui.tui.widgets.footer import Footer
from fttui.tui.widgets.loss_plot import LossPlot
from fttui.tui.worker_errors import ReportsWorkerErrors

RESUMABLE = ("stopped", "interrupted", "failed")


class RunsScreen(ReportsWorkerErrors, Screen):
    BINDINGS = [
        Binding("enter", "open", "Open / attach", show=True),
        Binding("r", "resume", "Resume"),
        Binding("c", "continue_run", "Continue"),
        Binding("x", "export", "Export"),
        Binding("e", "export", "Export & try"),
        Binding("a", "align", "Align"),
        Binding(either("f5"), "reload", "Reload"),
        Binding("escape", "close", "Back"),
    ]

    class Loaded(Message):
        def __init__(self, runs: list[RunInfo]):
            super().__init__()
            self.runs = runs

    class CurveRead(Message):
        def __init__(self, path: Path, train: list, evals: list, offset: int):
            super().__init__()
            self.path, self.train, self.evals, self.offset = path, train, evals, offset

    def __init__(self, runs_dir: Path):
        super().__init__()
        self.runs_dir = Path(runs_dir)
        self.runs: dict[str, RunInfo] = {}
        self.visits = 0  # the first visit loads in on_mount
        self.curves: dict[Path, tuple[int, list, list]] = {}  # per run: bytes read, train and eval points
        self.rows: dict[str, tuple] = {}  # the table's cells per run, as shown
        self.columns: list = []
        self.plotted: tuple[Path, int] | None = None  # the run on the plot, and how far into its events

    def compose(self) -> ComposeResult:
        yield Static(Text.assemble((" fttui ", "bold reverse"), "  Runs  ", (str(self.runs_dir), "dim")),
                     classes="step-header")
        yield DataTable(id="runs-table", cursor_type="row", zebra_stripes=True)
        yield Static("", id="run-detail", classes="info-panel")
        yield LossPlot(id="run-plot", title="loss")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        self.columns = table.add_columns("run", "status", "method", "model", "steps", "result", "when")
        table.focus()
        self.action_reload()

    def on_screen_resume(self) -> None:
        self.visits += 1
        if self.visits > 1:  # back from a run or a dialog: statuses may have changed; show the screen first
            self.call_after_refresh(self.load)

    def on_screen_suspend(self) -> None:
        """Kept while hidden: drop reads still in flight, so their results cost the visible screen nothing."""
        self.workers.cancel_group(self, "runs")
        self.workers.cancel_group(self, "run-curve")

    def action_reload(self) -> None:
        self.query_one("#run-detail", Static).update(Text(f"reading {self.runs_dir}…", style="dim"))
        self.load()

    @work(thread=True, exclusive=True, group="runs", exit_on_error=False)
    def load(self) -> None:
        self.post_message(self.Loaded(list_runs(self.runs_dir)))

    def after_worker_error(self, worker) -> None:
        if worker.group == "runs":  # not "reading…" forever: r reads again
            self.query_one("#run-detail", Static).update(Text(f"reading {self.runs_dir} failed (see the error)",
                                                              style="red"))

    @on(Loaded)
    def _loaded(self, message: Loaded) -> None:
        if not self.is_current:  # hidden by now (or under a dialog): the next visit reloads
            return
        table = self.query_one(DataTable)
        self.runs = {str(run.path): run for run in message.runs}
        rows = {str(run.path): self._cells(run) for run in message.runs}
        if list(rows) == list(self.rows):  # the same runs: change only the cells that changed (a live run's step)
            for key, cells in rows.items():
                for column, new, old in zip(self.columns, cells, self.rows[key]):
                    if new != old:
                        table.update_cell(key, column, new, update_width=True)
        else:  # rebuilding the table costs a full re-render: only when runs came or went
            selected = self.current()
            table.clear()
            for key, cells in rows.items():
                table.add_row(*cells, key=key)
            if selected is not None and str(selected.path) in self.runs:  # keep the cursor on the same run
                table.move_cursor(row=table.get_row_index(str(selected.path)), animate=False)
        self.rows = rows
        if not message.runs:
            self.query_one("#run-detail", Static).update(
                Text(f"No runs in {self.runs_dir} yet: finish the wizard to start one.", style="dim"))
            self.query_one(LossPlot).clear()
            self.query_one(LossPlot).flush()
            self.plotted = None
        else:
            self.show_run(self.current())

    @staticmethod
    def _cells(run: RunInfo) -> tuple:
        steps = f"{run.step}/{run.max_steps}" if run.max_steps else "-"
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(run.started)) if run.started else "-"
        return (run.name, Text(run.status, style=STATUS_STYLE.get(run.status, "")), run.method,
                run.model if len(run.model) < 24 else "…" + run.model[-23:], steps, run.headline_metric(), when)

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
        summary = run.summary
        metrics = "  ".join(f"{name} {pair.tuned:.4g}" for name, pair in summary.headline().items()) if summary else ""
        if summary is not None and isinstance(summary.train_loss, (int, float)):
            metrics += f"  train_loss {summary.train_loss:.4g}"
        if metrics:
            detail.append(f"   {metrics.strip()}")
        if run.error:
            detail.append(f"   {run.error}", style="red")
        if run.output:
            detail.append(f"\n{run.output_kind}: {shown_path(run.output)}", style="dim")
        detail.append_text(self._actions_hint(run))
        self.query_one("#run-detail", Static).update(detail)
        self.shown = run.path
        self.read_curve(run.path)

    @staticmethod
    def _actions_hint(run: RunInfo) -> Text:
        """What the keys do for this run, so the footer's Resume/Continue need no guessing."""
        lead = "   " if run.output else "\n"
        if run.status in RESUMABLE:
            checkpoint = last_checkpoint_name(run.path)
            return Text(f"{lead}r resumes from {checkpoint}" if checkpoint else f"{lead}no checkpoint to resume from",
                        style="" if checkpoint else "dim")
        if run.status == "completed":
            return Text(f"{lead}c: more epochs · x: export" + (" · a: align (DPO)" if _task(run) == "causal-lm" else ""),
                        style="dim")
        return Text()

    @work(thread=True, exclusive=True, group="run-curve", exit_on_error=False)
    def read_curve(self, path: Path) -> None:
        """Off the UI thread, and only what was appended since this run was last read (kept per run)."""
        offset, train, evals = self.curves.get(path, (0, [], []))
        records, read_to = RunFolder(path).records(offset)  # plain JSON, not Events: a 100k-step run in half the time
        if read_to < offset:  # not the file read before: start over
            train, evals = [], []
        train, evals = list(train), list(evals)
        for data in records:
            kind = data["event"]
            if not isinstance(data.get("step"), int) and kind != Started.name:
                continue
            if kind == StepLogged.name:
                train.append((data["step"], data.get("loss")))
            elif kind == Evaluated.name:
                evals.append((data["step"], (data.get("metrics") or {}).get("loss")))
            elif kind == Started.name and data.get("resumed_from_step"):  # resumed: later points were redone
                resumed = data["resumed_from_step"]
                train = [point for point in train if point[0] <= resumed]
                evals = [point for point in evals if point[0] <= resumed]
        self.post_message(self.CurveRead(path, train, evals, read_to))

    @on(CurveRead)
    def _curve_read(self, message: CurveRead) -> None:
        if message.path != getattr(self, "shown", None) or not self.is_current:
            return
        self.curves[message.path] = (message.offset, message.train, message.evals)
        if self.plotted == (message.path, message.offset):
            return  # already drawn, and nothing was appended since
        self.plotted = (message.path, message.offset)
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

    def action_resume(self) -> None:
        run = self.current()
        if run is None:
            return
        if run.status not in RESUMABLE:
            self.notify("resume is for stopped, interrupted or failed runs" + (
                "; c continues a finished one" if run.status == "completed" else ""), severity="warning")
            return
        if last_checkpoint_name(run.path) is None:
            self.notify("this run saved no checkpoint: start it again from its config.yaml", severity="warning")
            return
        self.app.resume(run.path)

    def action_continue_run(self) -> None:
        run = self.current()
        if run is None:
            return
        if run.status != "completed":
            self.notify("continue is for finished runs" + (
                "; r resumes this one" if run.status in RESUMABLE else ""), severity="warning")
            return
        done = run.summary.epochs_done if run.summary is not None else None
        max_steps = _configured_max_steps(run.path)

        def answered(epochs: float | None) -> None:
            if epochs is not None:
                overrides = [f"training.epochs={epochs:g}"] + (["training.max_steps=null"] if max_steps else [])
                self.app.resume(run.path, overrides)

        self.app.push_screen(EpochsModal(run.name, float(done) if isinstance(done, (int, float)) else 0.0,
                                         max_steps), answered)

    def action_export(self) -> None:
        run = self.current()
        if run is None:
            return
        if run.status == "running":
            self.notify("this run is still going: export it once it has ended", severity="warning")
            return
        self.app.open_export(run.path)

    def action_align(self) -> None:
        """Preference-tune a finished causal-LM run: the app reopens the wizard from it (``FttuiApp.align``)."""
        run = self.current()
        if run is None:
            return
        if run.status not in FINISHED or run.output is None:
            self.notify("align is for finished runs: it starts from the model a run saved" + (
                "; r resumes this one" if run.status in RESUMABLE else ""), severity="warning")
            return
        task = _task(run)
        if task != "causal-lm":
            trained = "a classifier" if task == "seq-cls" else task or "an unknown task"
            self.notify(f"align is for language models; this run trained {trained} (preference pairs need "
                        "replies to compare)", severity="warning")
            return
        self.app.align(run.path)

    def action_close(self) -> None:
        self.app.pop_screen()


def last_checkpoint_name(run_dir: Path) -> str | None:
    """The newest intact checkpoint: the one ``--resume`` would use (damaged newer ones are skipped)."""
    return getattr(RunFolder(run_dir).last_checkpoint(), "name", None)


def _task(run: RunInfo) -> str | None:
    """seq-cls or causal-lm, as the finished run's summary says."""
    return run.summary.task if run.summary is not None else None


def _configured_max_steps(run_dir: Path) -> int | None:
    try:
        value = RunFolder(run_dir).section("training").get("max_steps")
        return int(value) if value else None
    except (TypeError, ValueError):
        return None
