"""The Train screen: live loss plot (and a preference run's margin/accuracy plot), progress, throughput, memory, the log, Stop, and the end summary.

A thread worker drains the event source (a real supervisor, a tailed run folder or recorded events) and
posts one message per event; the handlers here own all state. The plot redraws on its own timer, so a
burst of steps costs one redraw, and no point is dropped. An overfitting warning from the engine gets a
line of its own (and a notification); the end summary reads before -> after when a baseline was measured.
"""
from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.screen import Screen
from textual.widgets import ProgressBar, RichLog, Static

from fttui.events import (CheckpointSaved, Evaluated, Event, Failed, Finished, Logged, Planned, Started, StepLogged,
                          sample_line)
from fttui.runner.run_folder import shown_path
from fttui.runner.summary import HEADLINE, RunSummary
from fttui.tui.keys import either
from fttui.tui.resources import PriorityWatch, memory_text
from fttui.tui.widgets.footer import Footer
from fttui.tui.widgets.loss_plot import LossPlot
from fttui.tui.widgets.preference_plot import PreferencePlot
from fttui.tui.widgets.modals import ConfirmModal
from fttui.tui.worker_errors import ReportsWorkerErrors

BATCH_EVENTS = 5000  # events per message at most: a long run read back does not flood the message queue
MEMORY_EVERY_S = 1.0
PRIORITY_EVERY_S = 5.0  # whether a lowered priority slows training (a few /proc counters) is sampled this often


def clock(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = int(max(seconds, 0))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def _metrics_text(metrics: dict, prefix: str = "") -> str:
    parts = []
    for key in HEADLINE:
        for name in (f"{prefix}{key}", key):
            value = metrics.get(name)
            if isinstance(value, (int, float)):
                parts.append(f"{name.removeprefix('eval_')} {value:.4f}")
                break
    return "  ".join(parts)


class TrainScreen(ReportsWorkerErrors, Screen):
    BINDINGS = [
        Binding("s", "stop", "Stop"),
        Binding("e", "export", "Export & try"),
        Binding("n", "app.new_run", "New run"),
        Binding(either("ctrl+r"), "app.runs", "Runs"),
        Binding("escape", "app.runs", "Runs", show=False),
    ]

    class EventsArrived(Message):
        """Every event that was waiting, in order: a long run read back arrives in a few messages, not 100k."""

        def __init__(self, events: list[Event]):
            super().__init__()
            self.events = events

    class MemorySampled(Message):
        def __init__(self, text: str):
            super().__init__()
            self.text = text

    class PrioritySampled(Message):
        def __init__(self, text: str):
            super().__init__()
            self.text = text

    class StreamEnded(Message):
        pass

    def __init__(self, run_dir: Path | None, supervisor, attached: bool = False, history: list[Event] | None = None):
        super().__init__()
        self.run_dir = Path(run_dir) if run_dir else None
        self.supervisor = supervisor
        self.attached = attached
        self.history = history or []  # a resumed run's earlier events: its curve up to the checkpoint
        self.warnings: list[str] = []
        self.status = "starting"
        self.result: Event | None = None
        self.checkpoints: list[str] = []
        self.last_step: StepLogged | None = None
        self.last_eval: dict = {}
        self.memory = "-"
        self.events_seen = 0

    def compose(self) -> ComposeResult:
        name = self.run_dir.name if self.run_dir else "run"
        yield Static(Text.assemble((" fttui ", "bold reverse"), "  Train  ", (name, "bold")), classes="step-header",
                     id="train-header")
        with Horizontal(id="plots"):
            yield LossPlot(id="loss-plot", title="loss")
            yield PreferencePlot(id="preference-plot")  # hidden until an evaluation reports a reward margin
        with Horizontal(id="progress-row"):
            yield ProgressBar(total=None, show_eta=False, show_percentage=True, id="progress")
            yield Static("", id="progress-text")
        yield Static("", id="stats")
        yield Static("", id="warning")
        yield Static("", id="priority")
        yield Static("", id="summary")
        yield RichLog(id="train-log", max_lines=1000, wrap=True, markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.set_status("attached: following events.jsonl" if self.attached else "starting the worker…")
        self.follow()

    def after_worker_error(self, worker) -> None:
        """Reading the events failed, not necessarily the run: say so, and where to follow it again."""
        self.set_status("not following")
        self.query_one(RichLog).write("stopped following the run's events (see the error); the run may still be "
                                      "going: open it again from Runs (ctrl+r)")

    # ------------------------------------------------------------------ the worker: events in, messages out

    @work(thread=True, exclusive=True, group="training", exit_on_error=False)
    def follow(self) -> None:
        from textual.worker import get_current_worker

        worker = get_current_worker()
        pid = self.supervisor.pid
        next_sample = next_priority = 0.0
        priority = PriorityWatch(pid) if pid else None
        while not worker.is_cancelled:
            batch, ended = [], False
            while len(batch) < BATCH_EVENTS:
                event = self.supervisor.next_event(0.1 if not batch else 0.0)
                if event is None:
                    ended = True
                    break
                if event is False:
                    break
                batch.append(event)
            if batch:
                self.post_message(self.EventsArrived(batch))
            if ended:
                self.post_message(self.StreamEnded())
                return
            now = time.monotonic()
            if pid and now >= next_sample:
                next_sample = now + MEMORY_EVERY_S
                self.post_message(self.MemorySampled(memory_text(pid)))
            if priority is not None and now >= next_priority:
                next_priority = now + PRIORITY_EVERY_S
                self.post_message(self.PrioritySampled(priority.note()))

    # ------------------------------------------------------------------ handlers own the state

    @on(EventsArrived)
    def _events(self, message: EventsArrived) -> None:
        log, plot, bar = self.query_one(RichLog), self.query_one(LossPlot), self.query_one(ProgressBar)
        for event in message.events:
            self._apply(event, log, plot)
        if self.last_step is not None and self.result is None:
            bar.update(total=self.last_step.max_steps, progress=self.last_step.step)
        self.update_stats()

    def _apply(self, event: Event, log: RichLog, plot: LossPlot) -> None:
        self.events_seen += 1
        if isinstance(event, Planned):
            log.write(f"plan: {event.method} on {event.model} ({event.task}), {event.train_rows} train / "
                      f"{event.eval_rows} eval rows, {event.max_steps} steps, {event.device} {event.precision}")
        elif isinstance(event, Started):
            self.set_status("training")
            self._replay_history(event.resumed_from_step)
            plot.max_steps = self.query_one(PreferencePlot).max_steps = event.max_steps
            self.query_one(ProgressBar).update(total=event.max_steps, progress=event.resumed_from_step)
            log.write(f"started: {event.max_steps} steps, {event.trainable_params:,} of {event.total_params:,} "
                      f"parameters train, {event.device} {event.precision}"
                      + (f", resumed from step {event.resumed_from_step}" if event.resumed_from_step else ""))
        elif isinstance(event, StepLogged):
            self.last_step = event
            plot.max_steps = event.max_steps
            plot.add_train(event.step, event.loss)
            if event.rewards:  # a preference run's train margin and accuracy
                self.query_one(PreferencePlot).add_train(event.step, event.rewards)
            if self.status in ("starting", "attached"):
                self.set_status("training")
        elif isinstance(event, Evaluated):
            plot.add_eval(event.step, event.metrics.get("loss"))
            self.query_one(PreferencePlot).add_eval(event.step, event.metrics)
            if event.baseline:
                log.write(f"base model, before training: {_metrics_text(event.metrics)}")
            else:
                self.last_eval = event.metrics
                log.write(f"eval at step {event.step}: {_metrics_text(event.metrics)}")
            for sample in event.details.get("samples", [])[:2]:
                log.write(Text(f"  {sample_line(sample)}", style="dim"))
        elif isinstance(event, CheckpointSaved):
            self.checkpoints.append(event.path)
            log.write(f"checkpoint at step {event.step}: {shown_path(event.path)}")
        elif isinstance(event, Logged):
            log.write(Text(event.message, style="yellow" if event.level == "warning" else ""))
            if event.topic == "overfitting":
                self.warn(event.message)
        elif isinstance(event, Finished):
            self.result = event
            self.set_status(event.status)
            final = event.summary.get("global_step")
            if isinstance(final, int) and self.last_step is not None:  # steps after the last logged one count
                self.last_step = replace(self.last_step, step=final, eta_s=0.0)
                bar = self.query_one(ProgressBar)
                bar.update(total=final if event.status == "completed" else bar.total, progress=final)
            self.show_summary()
        elif isinstance(event, Failed):
            self.result = event
            self.set_status("failed")
            log.write(Text(f"failed: {event.message}", style="red"))
            self.show_summary()

    @on(MemorySampled)
    def _memory(self, message: MemorySampled) -> None:
        self.memory = message.text
        self.update_stats()

    @on(PrioritySampled)
    def _priority(self, message: PrioritySampled) -> None:
        """Training is being slowed for the UI: say so, and how to turn it off (hidden again when it is not)."""
        line = self.query_one("#priority", Static)
        line.update(message.text)
        line.set_class(bool(message.text) and self.result is None, "visible")

    @on(StreamEnded)
    def _ended(self) -> None:
        self.query_one("#priority").remove_class("visible")
        self.query_one(LossPlot).flush()
        self.query_one(PreferencePlot).flush()
        if self.result is None:
            where = f" (see {shown_path(self.run_dir / 'train.log')})" if self.run_dir else ""
            self.set_status("ended")
            self.query_one("#summary", Static).update(
                Text(f"The worker ended without reporting a result{where}.", style="red"))
            self.query_one("#summary").add_class("visible")
        self.memory = "-"
        self.update_stats()
        self.app.run_ended(self.supervisor)

    # ------------------------------------------------------------------ rendering

    def _replay_history(self, resumed_from_step: int) -> None:
        """Put a resumed run's earlier points on the plots, up to the checkpoint it resumes from."""
        plot, preference = self.query_one(LossPlot), self.query_one(PreferencePlot)
        for event in self.history:
            if isinstance(event, StepLogged) and event.step <= resumed_from_step:
                plot.add_train(event.step, event.loss)
                preference.add_train(event.step, event.rewards)
            elif isinstance(event, Evaluated) and event.step <= resumed_from_step:
                plot.add_eval(event.step, event.metrics.get("loss"))
                preference.add_eval(event.step, event.metrics)
        self.history = []

    def warn(self, message: str) -> None:
        """A warning that must not scroll away with the log: its own line, and a notification."""
        self.warnings.append(message)
        line = self.query_one("#warning", Static)
        line.update(Text.assemble(("⚠ ", "bold"), message))
        line.add_class("visible")
        self.notify(message, title="Overfitting", severity="warning", timeout=12)

    def set_status(self, status: str) -> None:
        self.status = status
        header = self.query_one("#train-header", Static)
        name = self.run_dir.name if self.run_dir else "run"
        style = {"completed": "bold green", "failed": "bold red", "stopped": "bold yellow"}.get(status, "bold cyan")
        header.update(Text.assemble((" fttui ", "bold reverse"), "  Train  ", (name, "bold"), "  ", (status, style)))

    def update_stats(self) -> None:
        step = self.last_step
        progress = Text()
        if step is not None:
            progress.append(f"step {step.step}/{step.max_steps}", style="bold")
            progress.append(f"  epoch {step.epoch:.2f}  elapsed {clock(step.elapsed_s)}  ETA {clock(step.eta_s)}")
        else:
            progress.append("waiting for the first step…", style="dim")
        self.query_one("#progress-text", Static).update(progress)
        stats = Text()
        if step is not None and step.loss is not None:
            stats.append("loss ", style="bold")
            stats.append(f"{step.loss:.4f}  ")
        if self.last_eval:
            stats.append("eval ", style="bold")
            stats.append(_metrics_text(self.last_eval) + "  ")
        if step is not None and step.samples_per_second:
            stats.append(f"{step.samples_per_second:.1f} samples/s  ")
        if step is not None and step.learning_rate is not None:
            stats.append(f"lr {step.learning_rate:.2e}  ")
        if self.memory != "-" or self.result is None:
            stats.append("memory ", style="bold")
            stats.append(self.memory)
        self.query_one("#stats", Static).update(stats)

    def show_summary(self) -> None:
        plot, preference = self.query_one(LossPlot), self.query_one(PreferencePlot)
        if plot.train_steps:  # the steps the run ended at, on both plots, so their axes line up
            plot.max_steps = preference.max_steps = max(plot.train_steps + plot.eval_steps)
            plot.dirty = preference.dirty = True
        summary = self.query_one("#summary", Static)
        event = self.result
        text = Text()
        if isinstance(event, Finished):
            s = RunSummary.from_dict(event.summary)
            text.append(f"{event.status} ", style="bold green" if event.status == "completed" else "bold yellow")
            text.append(f"after {s.global_step} steps in {s.train_runtime_s or 0:.1f} s")
            if s.train_samples_per_second:
                text.append(f" ({s.train_samples_per_second:.1f} samples/s)")
            metrics = "  ".join(f"{name} {pair.text('→')}" for name, pair in s.headline().items())
            if metrics:
                text.append("\nbase → fine-tuned: " if s.has_baseline else "\n", style="bold")
                text.append(metrics)
            if s.peak_memory_mb:
                text.append(f"  peak memory {s.peak_memory_mb:.0f} MB")
            output = event.output_path or s.output_path
            text.append(f"\n{s.output_kind}: ", style="bold")
            text.append(shown_path(output) if output else "-")
            if self.checkpoints:
                text.append("\nlast checkpoint: ", style="bold")
                text.append(shown_path(self.checkpoints[-1]))
        elif isinstance(event, Failed):
            text.append(f"failed ({event.kind}): {event.message}", style="bold red")
            if event.hint:
                text.append(f"\nhint: {event.hint}")
            if self.run_dir:
                text.append(f"\nlog: {shown_path(self.run_dir / 'train.log')}", style="dim")
        summary.update(text)
        summary.add_class("visible")
        self.add_class("ended")

    # ------------------------------------------------------------------ actions

    @property
    def running(self) -> bool:
        return self.result is None and bool(self.supervisor.running)

    def action_stop(self) -> None:
        if not self.running:
            self.notify("the run is not going", severity="warning")
            return
        if self.status == "stopping":
            question, yes = "The run is still stopping. Kill it now? No checkpoint will be saved.", "Kill it"
        else:
            question = ("Stop training? The current step finishes, a checkpoint is saved and the adapter is "
                        "written.")
            yes = "Stop"

        def answered(confirmed: bool | None) -> None:
            if not confirmed or not self.running:
                return
            killed = self.supervisor.request_stop()
            self.set_status("killed" if killed else "stopping")
            self.query_one(RichLog).write(Text("kill requested" if killed else
                                               "stop requested: finishing the step, saving a checkpoint",
                                               style="yellow"))

        self.app.push_screen(ConfirmModal(question, yes, "Keep training", title="Stop", danger=True), answered)

    def action_export(self) -> None:
        if self.running or self.run_dir is None:
            self.notify("export is available once the run has ended", severity="warning")
            return
        self.app.open_export(self.run_dir)
