"""``fttui runs [RUNS_DIR] [--json]``: the runs in a runs folder; ``fttui runs --follow RUN_DIR``: re-attach to one.

The listing shows what ``runner.run_folder`` reads (status, progress, base -> fine-tuned metrics, output);
following draws a run's events with the console renderer of ``fttui --preset`` (``runner.headless``).
"""
from __future__ import annotations

import json
import time


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "runs", help="list the runs (status, progress, metrics), or follow one that trains (--follow)",
        description="List the run folders under RUNS_DIR, newest first: status (completed, stopped, failed, running, "
                    "interrupted), progress, metrics base model -> fine-tuned, and where the result is. With "
                    "--follow, show a run's progress as its own fttui --preset would, until it ends; Ctrl-C "
                    "detaches and the run goes on.")
    parser.add_argument("runs_dir", nargs="?", metavar="RUNS_DIR", help="a runs folder (default: runs)")
    parser.add_argument("--follow", metavar="RUN_DIR", help="re-attach to this run until it ends (Ctrl-C detaches: "
                        "the run goes on; stop it from the wizard's Runs screen)")
    parser.add_argument("--json", action="store_true", help="the list as one JSON array on stdout; with --follow, "
                        "the run's events as JSON lines")


def run(args) -> int:
    from fttui.errors import FttuiError

    if args.follow:
        if args.runs_dir:
            raise FttuiError("RUNS_DIR does not go with --follow", f"fttui runs --follow {args.follow}")
        from fttui.runner.headless import follow_headless

        return follow_headless(args.follow, args.json)
    from pathlib import Path

    from fttui.errors import ConfigError
    from fttui.runner.run_folder import CONFIG_FILE, RunFolder, list_runs

    runs_dir = Path(args.runs_dir or "runs").expanduser()
    if not runs_dir.is_dir():
        raise ConfigError(f"no runs folder at {runs_dir}",
                          "train a run first (fttui --preset quickstart), or name the folder: fttui runs DIR")
    runs = [RunFolder(runs_dir).read()] if (runs_dir / CONFIG_FILE).is_file() else list_runs(runs_dir)  # one run
    if args.json:
        print(json.dumps([as_json(run) for run in runs], indent=1))
    else:
        _table(runs, runs_dir)
    return 0


def as_json(run) -> dict:
    """One run for ``--json``: what the table shows, with every metric as ``{"base": ..., "tuned": ...}``."""
    from fttui.runner.run_folder import shown_path

    summary = run.summary
    return {
        "name": run.name, "path": shown_path(run.path), "status": run.status,
        "step": run.step, "max_steps": run.max_steps, "method": run.method, "model": run.model,
        "started": run.started, "pid": run.pid,
        "metrics": {name: {"base": pair.base, "tuned": pair.tuned} for name, pair in summary.metrics.items()}
        if summary is not None else {},
        "train_loss": summary.train_loss if summary is not None else None,
        "output": shown_path(run.output) if run.output is not None else None,
        "output_kind": run.output_kind if run.output is not None else None,
        "error": run.error,
    }


def _table(runs, runs_dir) -> None:
    from rich.table import Table

    from fttui.runner.console import STATUS_STYLE, make_console
    from fttui.runner.run_folder import shown_path

    console = make_console()  # the listing is the command's output: stdout
    if not runs:
        console.print(f"no runs in {runs_dir} yet: fttui --preset quickstart trains one")
        return
    table = Table(title=f"runs in {runs_dir}", title_justify="left")
    for column in ("run", "status", "steps", "method", "model", "result (base -> fine-tuned)", "output", "started"):
        table.add_column(column, justify="right" if column == "steps" else "left", overflow="fold")
    for run in runs:
        result = run.summary.result_text() if run.summary is not None else ""
        status = run.status + (f" (pid {run.pid})" if run.pid else "")
        table.add_row(run.name, f"[{STATUS_STYLE.get(run.status, 'dim')}]{status}[/]",
                      f"{run.step}/{run.max_steps}" if run.max_steps else "-", run.method, run.model,
                      result or (run.error or "")[:60], shown_path(run.output) if run.output else "-",
                      time.strftime("%Y-%m-%d %H:%M", time.localtime(run.started)) if run.started else "-")
    console.print(table)
