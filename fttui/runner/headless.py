"""``fttui --preset``: resolve the config, create the run folder, run the worker, render, exit with a code.

``fttui runs --follow`` draws a run another process trains the same way (``follow_headless``).
"""
from __future__ import annotations

import signal
import sys
from contextlib import contextmanager
from pathlib import Path

from fttui.config import dump_config, load_config
from fttui.errors import ExitCode, FttuiError, render_error
from fttui.events import CheckpointSaved, Evaluated, Failed, Finished, Planned, Started, StepLogged
from fttui.runner.console import ConsoleRenderer, JsonRenderer
from fttui.runner.distributed import launch_from_args
from fttui.runner.launch import resume_run, start_run, start_scratch
from fttui.runner.run_dir import discard_run_dir
from fttui.runner.run_folder import LOG_FILE, RunFolder, shown_path
from fttui.runner.supervisor import TailSupervisor, WorkerSupervisor


def run_headless(args) -> int:
    launch = launch_from_args(args)
    renderer = JsonRenderer() if args.json else ConsoleRenderer()
    # Only machine 0 runs rank 0, which reports; another machine's ranks train silently until the end.
    expect = Finished if launch.reports else None
    if not launch.reports:
        print(f"machine {launch.node_rank} of {launch.nnodes}: {launch.nproc} training processes; progress, "
              f"checkpoints and the result are on machine 0", file=sys.stderr)
    if getattr(args, "resume", None):
        run_dir = Path(args.resume)
        summary = RunFolder(run_dir).summary()
        if summary is not None and summary.status == "completed" and not args.overrides:  # nothing left to train
            print(f"{run_dir} already completed {summary.global_step} steps; nothing to resume.\n"
                  f"To train it further: fttui --resume {run_dir} --set training.epochs=N", file=sys.stderr)
            return int(ExitCode.OK)
        return _supervise(resume_run(run_dir, args.overrides, launch), renderer, run_dir, expect, keep_dir=True)
    config = load_config(args.preset, args.overrides)
    if args.dry_run:
        if launch.distributed:
            print(f"note: the dry run plans one process; with {launch.world_size} processes each step takes "
                  f"{launch.world_size} x training.batch_size examples", file=sys.stderr)
        code = _supervise(start_scratch(config, "dry-run", launch, args.output_dir), renderer, None, expect=Planned)
        if code == ExitCode.OK and not args.json:
            renderer.console.print("\nresolved config:\n" + dump_config(config), highlight=False, markup=False)
        return code
    explicit = args.output_dir or config.output.dir
    user_folder = bool(explicit) and Path(explicit).expanduser().is_dir()  # an empty folder the user made
    run_dir, supervisor = start_run(config, args.output_dir, launch)
    return _supervise(supervisor, renderer, run_dir, expect, keep_empty_dir=user_folder)


def _say(text: str) -> None:
    """A line on stderr that a closed terminal (after SIGHUP) cannot turn into a crash."""
    try:
        print(text, file=sys.stderr)
    except OSError:
        pass


@contextmanager
def _signals_to(handler, renderer):
    """Ctrl-C, SIGTERM and SIGHUP go to ``handler`` meanwhile; then the old handlers are back, the renderer closed."""
    handled = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    previous = {sig: signal.signal(sig, handler) for sig in handled}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
        try:
            renderer.close()
        except OSError:
            pass


def _supervise(supervisor: WorkerSupervisor, renderer, run_dir: Path | None, expect: type | None = Finished,
               keep_dir: bool = False, keep_empty_dir: bool = False) -> int:
    """Run the worker to the end; ``expect`` is the event that marks success (Finished, or Planned for a dry run).

    ``expect=None`` (a machine without rank 0) counts a clean exit of the launcher as success.
    """
    stops: list[int] = []

    def on_signal(signum, frame):
        """Ctrl-C, a scheduler's SIGTERM or a closed terminal's SIGHUP: stop gracefully; a second one kills."""
        stops.append(signum)
        killed = supervisor.request_stop()
        name = signal.Signals(signum).name
        if killed:
            _say(f"\n{name} again: killed the worker without a new checkpoint; --resume starts from the last "
                 "checkpoint it saved, if any")
        elif supervisor.running:
            _say(f"\n{name}: stopping at the next step and saving a checkpoint ({name} again to kill)")

    for note in supervisor.notes:
        _say(f"note: {note}")
    started = failed = succeeded = trained = None
    drawing = True
    with _signals_to(on_signal, renderer):
        while True:
            event = supervisor.next_event()
            if event is False:
                continue
            if event is None:
                break
            started = started or isinstance(event, Started)
            trained = trained or isinstance(event, (StepLogged, CheckpointSaved)) or (
                isinstance(event, Evaluated) and not event.baseline)
            if isinstance(event, Failed):
                failed = event
            if expect is not None and isinstance(event, expect):
                succeeded = event
            if drawing:
                try:
                    renderer.handle(event)
                except OSError:  # a closed terminal or pipe: the run goes on, its events.jsonl has everything
                    drawing = False
        code = supervisor.wait()
    if failed is not None:
        _say(render_error(FttuiError(failed.message, failed.hint)))
        if run_dir is not None and not keep_dir and not trained and not stops:  # nothing to resume or read back
            _discarded(run_dir, keep_empty_dir, failed.exit_code not in (ExitCode.USAGE, ExitCode.DATA))
        elif run_dir is not None:
            _say(f"log: {run_dir / LOG_FILE}")
        return failed.exit_code
    if stops:
        return int(ExitCode.for_signal(stops[0]))  # 130 for Ctrl-C, 143 for SIGTERM, 129 for SIGHUP
    if supervisor.killed or getattr(succeeded, "status", None) == "stopped":
        return int(ExitCode.INTERRUPTED)  # also a stop asked elsewhere (another machine's ranks, a kill -INT)
    if (expect is not None and succeeded is None) or code != 0:
        where = f"; see {run_dir / LOG_FILE}" if run_dir is not None else ""
        _say(f"error: the training worker ended unexpectedly (exit code {code}){where if trained or keep_dir else ''}")
        if run_dir is not None and not keep_dir and not trained:
            _discarded(run_dir, keep_empty_dir, True)
        return int(ExitCode.TRAINING)
    return int(ExitCode.OK)


def _discarded(run_dir: Path, keep_empty_dir: bool, keep_log: bool) -> None:
    """A run that failed before its first step leaves no folder; a training failure's log goes to the temp folder."""
    log = discard_run_dir(run_dir, keep_empty_dir, keep_log)
    if log is not None:
        gone = "" if log.parent == run_dir else f" ({run_dir} was removed: the run failed before its first step)"
        _say(f"log: {log}{gone}")


def follow_headless(run_dir: str, as_json: bool = False) -> int:
    """``fttui runs --follow RUN_DIR``: draw a run another process trains, as its own ``fttui --preset`` would.

    Its events are tailed from ``events.jsonl`` (from the start, so the plan and the curve so far are shown),
    until the run ends or the user detaches. Ctrl-C (also SIGTERM, SIGHUP) detaches: this process only reads,
    the run trains on. The exit code is the run's own (0, 4, 130, ...) or, after detaching, the signal's.
    """
    folder = RunFolder.existing(run_dir)
    renderer = JsonRenderer() if as_json else ConsoleRenderer()
    pid = folder.trainer_pid()
    if pid:
        _say(f"following {shown_path(folder.path)} (worker pid {pid}): Ctrl-C detaches, the run goes on")
    else:
        _say(f"{shown_path(folder.path)} is not training now ({folder.status}): its events")
    signals: list[int] = []
    supervisor, ended = TailSupervisor(folder), None
    with _signals_to(lambda signum, frame: signals.append(signum), renderer):
        while not signals:
            event = supervisor.next_event()
            if event is False:
                continue
            if event is None:
                break
            if isinstance(event, (Finished, Failed)):
                ended = event
            elif isinstance(event, Started):
                ended = None  # a resumed run: a new worker began after the last one ended
            try:
                renderer.handle(event)
            except OSError:  # a closed pipe or terminal: nothing left to show it on
                break
    if signals:
        _say(f"\ndetached from {shown_path(folder.path)}: the run goes on. Follow it again with "
             f"fttui runs --follow {shown_path(folder.path)}; stop it from the Runs screen (s)")
        return int(ExitCode.for_signal(signals[0]))
    if isinstance(ended, Failed):
        _say(render_error(FttuiError(ended.message, ended.hint)))
        return ended.exit_code
    if isinstance(ended, Finished):
        return int(ExitCode.OK if ended.status == "completed" else ExitCode.INTERRUPTED)
    _say(f"error: the run's worker ended without reporting a result; see {shown_path(folder.log_file)}; "
         f"fttui --resume {shown_path(folder.path)} goes on from its last checkpoint")
    return int(ExitCode.TRAINING)
