"""Render worker events on a terminal: a Rich progress bar while training, then the result."""
from __future__ import annotations

import sys

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from fttui.events import (CheckpointSaved, Evaluated, Event, Failed, Finished, Logged, Planned, Started, StepLogged,
                          is_model_metric, sample_line)
from fttui.runner.summary import RunSummary


STATUS_STYLE = {"completed": "green", "running": "bold cyan", "stopped": "yellow", "failed": "red",
                "interrupted": "red", "new": "dim"}  # how a run's status is coloured wherever runs are listed
REDIRECTED_WIDTH = 200  # a file or a pipe has no width: lines keep whole rather than wrap at rich's 80


def make_console(stderr: bool = False) -> Console:
    """A console for a command's output; redirected to a file, it does not wrap metric lines at 80 columns."""
    stream = sys.stderr if stderr else sys.stdout
    tty = hasattr(stream, "isatty") and stream.isatty()
    return Console(stderr=stderr, width=None if tty else REDIRECTED_WIDTH, soft_wrap=not tty)


def _fmt(value, spec=".4f", missing="-"):
    return missing if value is None else format(value, spec)


def _eta(seconds):
    if seconds is None:
        return "-"
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


class ConsoleRenderer:
    """Human output: progress on stderr's terminal, plan and results as text."""

    def __init__(self, console: Console | None = None):
        self.console = console or make_console(stderr=True)
        self.progress: Progress | None = None
        self.task = None

    def _start_progress(self, total: int, done: int = 0) -> None:
        self.progress = Progress(
            TextColumn("[bold]training"), BarColumn(), TaskProgressColumn(),
            TextColumn("step {task.completed}/{task.total}"), TextColumn("{task.fields[stats]}"),
            TimeElapsedColumn(), TextColumn("ETA {task.fields[eta]}"),
            console=self.console, transient=False,
        )
        self.task = self.progress.add_task("train", total=total, completed=done, stats="", eta="-")
        self.progress.start()

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None

    def handle(self, event: Event) -> None:
        if isinstance(event, Planned):
            self._plan(event)
        elif isinstance(event, Started):
            self.close()  # a resumed run read back (``fttui runs --follow``): each worker has its own bar
            self.console.print(f"run folder: {event.run_dir}")
            self._start_progress(event.max_steps, event.resumed_from_step)
        elif isinstance(event, StepLogged) and self.progress is not None:
            stats = f"epoch {event.epoch:.2f}  loss {_fmt(event.loss)}  {_fmt(event.samples_per_second, '.1f')} samples/s"
            self.progress.update(self.task, completed=event.step, total=event.max_steps, stats=stats, eta=_eta(event.eta_s))
        elif isinstance(event, Evaluated):
            shown = "  ".join(f"{k} {v:.4f}" for k, v in event.metrics.items() if is_model_metric(k, v))
            where = "base model, before training" if event.baseline else f"eval at step {event.step}"
            self.console.print(f"{where}: {shown}")
            for sample in event.details.get("samples", [])[:2]:  # what the causal LM writes, as the wizard shows
                self.console.print(f"  {sample_line(sample)}", style="dim", markup=False, highlight=False)
        elif isinstance(event, CheckpointSaved):
            self.console.print(f"checkpoint saved: {event.path}", style="dim")
        elif isinstance(event, Logged):
            self.console.print(event.message, style="yellow" if event.level == "warning" else "dim")
        elif isinstance(event, Finished):
            final = event.summary.get("global_step")
            if self.progress is not None and event.status == "completed" and isinstance(final, int):
                self.progress.update(self.task, completed=final, eta=_eta(0))  # steps after the last logged one count
            self.close()
            self._finished(event)
        elif isinstance(event, Failed):
            self.close()

    def _plan(self, event: Planned) -> None:
        table = Table(title="plan", show_header=False, box=None)
        rows = [
            ("model", event.model), ("task", event.task), ("method", event.method), ("data format", event.data_format),
            ("rows", f"{event.train_rows} train, {event.eval_rows} eval ({event.truncated_rows} truncated"
                     + (f", {event.dropped_rows} dropped as too long" if event.dropped_rows else "")
                     + (f", {event.bad_rows} unreadable and skipped" if event.bad_rows else "") + ")"),
            ("parameters", f"{event.trainable_params:,} trainable of {event.total_params:,} "
                           f"({100 * event.trainable_params / max(event.total_params, 1):.2f}%)"),
            ("steps", f"{event.max_steps} ({event.epochs:g} epochs)"),
            *([("max length", f"{event.max_length} tokens")] if event.max_length else []),
            ("device", f"{event.device} ({event.precision})"),
        ]
        if event.labels:
            rows.append(("labels", ", ".join(event.labels)))
        for key, value in rows:
            table.add_row(f"[bold]{key}", str(value))
        self.console.print(table)

    def _finished(self, event: Finished) -> None:
        s = RunSummary.from_dict(event.summary)
        status = "[green]completed" if event.status == "completed" else "[yellow]stopped (checkpoint saved)"
        self.console.print(f"\n{status}[/] after {s.global_step} steps in {_fmt(s.train_runtime_s, '.1f')} s "
                           f"({_fmt(s.train_samples_per_second, '.1f')} samples/s)")
        for name, pair in s.headline().items():
            self.console.print(f"  {'perplexity' if name == 'perplexity' else 'eval_' + name}: {pair.text()}")
        if s.best_step is not None or (s.stop_reason or "").startswith("early"):
            self.console.print(f"  best step: {s.best_step}; {s.stop_reason}")
        self.console.print(f"  {s.output_kind}: {event.output_path}")


class JsonRenderer:
    """``--json``: stdout carries only the events, one JSON object per line."""

    def handle(self, event: Event) -> None:
        sys.stdout.write(event.to_json() + "\n")
        sys.stdout.flush()

    def close(self) -> None:
        pass
