"""Workers on a finished run: an export that reports its progress, and a resident "try it" session.

Both load torch, so both run in the worker process (``fttui.engine.worker --mode export|try``); this
module only starts them and talks to them, like the WorkerSupervisor does for training. No torch here.
"""
from __future__ import annotations

import json
import subprocess
import threading
from pathlib import Path

from fttui.runner.exports import check_target
from fttui.runner.lock import claim
from fttui.runner.run_folder import RunFolder
from fttui.runner.supervisor import WorkerSupervisor

EXPORT_LOG = "export.log"
TRY_LOG = "try.log"
CLOSE_GRACE_S = 10.0


def start_export(run_dir: Path, out: Path, merge: bool = False, dtype: str = "float32", gguf: str | None = None,
                 gguf_adapter: bool = False) -> WorkerSupervisor:
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
    supervisor = WorkerSupervisor(config, None, mode="export", log_path=Path(run_dir) / EXPORT_LOG,
                            extra_args=args, lock=claim(Path(run_dir), "export"))
    supervisor.start()
    return supervisor


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
