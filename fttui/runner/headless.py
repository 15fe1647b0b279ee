"""``fttui --preset``: resolve the config, create the run folder, run the worker, render, exit with a code."""
from __future__ import annotations

import shutil
import signal
import sys
from pathlib import Path

from fttui.config import dump_config, load_config
from fttui.errors import ExitCode, FttuiError, render_error
from fttui.events import Failed, Finished, Planned, Started
from fttui.runner.console import ConsoleRenderer, JsonRenderer
from fttui.runner.launch import resume_run, start_run, start_scratch
from fttui.runner.run_dir import LOG_FILE
from fttui.runner.supervisor import Supervisor


def run_headless(args) -> int:
    renderer = JsonRenderer() if args.json else ConsoleRenderer()
    if getattr(args, "resume", None):
        run_dir = Path(args.resume)
        return _supervise(resume_run(run_dir, args.overrides), renderer, run_dir, keep_dir=True)
    config = load_config(args.preset, args.overrides)
    if args.dry_run:
        code = _supervise(start_scratch(config, "dry-run"), renderer, None, expect=Planned)
        if code == ExitCode.OK and not args.json:
            renderer.console.print("\nresolved config:\n" + dump_config(config), highlight=False, markup=False)
        return code
    run_dir, supervisor = start_run(config, args.output_dir)
    return _supervise(supervisor, renderer, run_dir)


def _supervise(supervisor: Supervisor, renderer, run_dir: Path | None, expect: type = Finished,
               keep_dir: bool = False) -> int:
    """Run the worker to the end; ``expect`` is the event that marks success (Finished, or Planned for a dry run)."""
    stops = []

    def on_sigint(signum, frame):
        stops.append(signum)
        killed = supervisor.request_stop()
        print("\nkilled the worker" if killed else
              "\nstopping at the next step and saving a checkpoint (Ctrl-C again to kill)", file=sys.stderr)

    previous = signal.signal(signal.SIGINT, on_sigint)
    started = failed = succeeded = None
    try:
        while True:
            event = supervisor.next_event()
            if event is False:
                continue
            if event is None:
                break
            started = started or isinstance(event, Started)
            if isinstance(event, Failed):
                failed = event
            if isinstance(event, expect):
                succeeded = event
            renderer.handle(event)
        code = supervisor.wait()
    finally:
        signal.signal(signal.SIGINT, previous)
        renderer.close()
    if failed is not None:
        print(render_error(FttuiError(failed.message, failed.hint)), file=sys.stderr)
        if run_dir is not None and not keep_dir and not started and failed.exit_code in (ExitCode.USAGE, ExitCode.DATA):
            shutil.rmtree(run_dir, ignore_errors=True)  # bad input: leave nothing behind
        elif run_dir is not None:
            print(f"log: {run_dir / LOG_FILE}", file=sys.stderr)
        return failed.exit_code
    if stops or supervisor.killed:
        return int(ExitCode.INTERRUPTED)
    if succeeded is None or code != 0:
        where = f"; see {run_dir / LOG_FILE}" if run_dir is not None else ""
        print(f"error: the training worker ended unexpectedly (exit code {code}){where}", file=sys.stderr)
        return int(ExitCode.TRAINING)
    return int(ExitCode.OK)
