"""Workers on a finished run: an export that reports its progress, an evaluation, and a resident "try it" session.

All load torch, so all run in the worker process (``fttui.engine.worker --mode export|eval|try``); this
module only starts them and talks to them, like the WorkerSupervisor does for training. No torch here.
The TUI follows them with its own widgets; the CLI (``fttui export``, ``fttui eval``) with ``run_to_end``.
"""
from __future__ import annotations

import json
import signal
import subprocess
import threading
from pathlib import Path

from fttui.errors import ExitCode, FttuiError, TrainingError, reported
from fttui.events import Event, Failed, Logged
from fttui.runner.exports import check_target
from fttui.runner.lock import claim
from fttui.runner.run_folder import RunFolder
from fttui.runner.supervisor import WorkerSupervisor

EXPORT_LOG = "export.log"
TRY_LOG = "try.log"
EVAL_LOG = "eval.log"
CLOSE_GRACE_S = 10.0


def start_export(run_dir: Path, out: Path, merge: bool = False, dtype: str = "float32", gguf: str | None = None,
                 gguf_adapter: bool = False, log_path: Path | None = None) -> WorkerSupervisor:
    """Export in a worker: ``log`` events while it works, then ``exported`` (or ``failed``).

    ``gguf`` and ``gguf_adapter`` are ``fttui export``'s ``--gguf TYPE`` and ``--gguf-adapter``: what the machine
    lacks for them (the extra, a quantizer, a LoRA) is refused here, before a worker starts.
    """
    check_target(out)  # refused at once, in the dialog; the worker checks again before it writes
    folder = RunFolder.existing(run_dir)
    more = []
    if gguf is not None:
        from fttui.gguf_tools import check_gguf_request, intermediate_dtype

        check_gguf_request(gguf)
        dtype, more = intermediate_dtype(gguf), ["--gguf", gguf]
    args = ["--out", str(Path(out).expanduser().resolve()), "--dtype", dtype] + (["--merge"] if merge else []) + more
    if gguf_adapter:
        from fttui.gguf_tools import check_adapter_request

        check_adapter_request(folder.config().method.name, folder.output)
        args.append("--gguf-adapter")
    config = folder.config_file
    supervisor = WorkerSupervisor(config, None, mode="export", log_path=log_path or Path(run_dir) / EXPORT_LOG,
                            extra_args=args, lock=claim(Path(run_dir), "export"))
    supervisor.start()
    return supervisor


def start_eval(run_dir: Path, data: str, baseline: bool = True) -> WorkerSupervisor:
    """``fttui eval`` in a worker: one ``scored`` event with ``evaluate_run``'s result (or ``failed``)."""
    folder = RunFolder.existing(run_dir)
    supervisor = WorkerSupervisor(folder.config_file, None, mode="eval", log_path=Path(run_dir) / EVAL_LOG,
                                  extra_args=["--data", data] + ([] if baseline else ["--no-baseline"]),
                                  lock=claim(Path(run_dir), "eval"))
    supervisor.start()
    return supervisor


def run_to_end(supervisor: WorkerSupervisor, done: type[Event], what: str, progress=None) -> Event:
    """Follow a one-shot worker from the command line to its ``done`` event; ``progress(message)`` hears its stages.

    A ``failed`` event is raised again as the error it reports (message, hint, exit code), so the CLI shows it as
    it shows a failed run's, never as a traceback (a crash's hint names the worker's log, its traceback in it); a
    worker that ends without a result is a TrainingError naming that log. SIGINT, SIGTERM and SIGHUP kill the worker (an export writes atomically: nothing half-written stays)
    and end with the signal's exit code.
    """
    stops: list[int] = []

    def on_signal(signum, frame):
        stops.append(signum)
        supervisor.kill()

    main = threading.current_thread() is threading.main_thread()  # only the main thread may set handlers
    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP) if main}
    result = failed = None
    try:
        while (event := supervisor.next_event()) is not None:
            if isinstance(event, Logged) and progress is not None:
                progress(event.message)
            elif isinstance(event, done):
                result = event
            elif isinstance(event, Failed):
                failed = event
        code = supervisor.wait()
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
        if supervisor.running:  # left early (a closed stderr): no worker goes on unwatched
            supervisor.kill()
    if stops:
        error = FttuiError(f"{signal.Signals(stops[0]).name}: the {what} was stopped before it finished")
        error.exit_code = ExitCode.for_signal(stops[0])
        raise error
    log = f"see {supervisor.log_path}" if supervisor.log_path else None  # the worker's log, its traceback in it
    if failed is not None:
        raise reported(failed.kind, failed.message, failed.hint or log, failed.exit_code)
    if result is None:
        raise TrainingError(f"the {what} worker ended without a result (exit code {code})", log)
    return result


class TrySession(WorkerSupervisor):
    """The "try it" worker: ask it prompts; each answer arrives as a TryAnswered event from ``next_event``."""

    STDIN = subprocess.PIPE

    def __init__(self, run_dir: Path):
        config = RunFolder.existing(run_dir).config_file
        super().__init__(config, None, mode="try", log_path=Path(run_dir) / TRY_LOG, lock=claim(Path(run_dir), "try"))

    def ask(self, text: str) -> bool:
        """Queue one prompt; False when the worker is gone (its last event says why)."""
        if not self.running or self.process is None or self.process.stdin is None:
            return False
        try:
            self.process.stdin.write(json.dumps({"prompt": text}) + "\n")
            self.process.stdin.flush()
        except (OSError, ValueError):
            return False
        return True

    def close(self) -> None:
        """End of input: the worker answers what it has and exits; killed if it lingers."""
        if self.process is None:
            return
        try:
            if self.process.stdin is not None:
                self.process.stdin.close()
        except (OSError, ValueError):
            pass
        if self.running:
            timer = threading.Timer(CLOSE_GRACE_S, lambda: self.running and self.kill())
            timer.daemon = True
            timer.start()


def start_try(run_dir: Path) -> TrySession:
    session = TrySession(Path(run_dir))
    session.start()
    return session
