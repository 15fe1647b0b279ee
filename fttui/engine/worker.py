"""The training child process: ``python -m fttui.engine.worker --config C [--run-dir D] [--mode M]``.

Modes: ``train`` (default), ``resume`` (from the run's last checkpoint), ``dry-run`` (plan only),
``preview`` (the data as the model sees it), ``fit`` (the measured fit check alone, one ``fit`` event; its
scratch folder is the config's), and three that read a finished run (the folder of ``--config``):
``export`` (``--out``, ``--merge``, ``--dtype``, ``--gguf``, ``--gguf-adapter``; progress as ``log`` events, then
``exported``), ``eval`` (``--data``, ``--no-baseline``; one ``scored`` event) and ``try`` (loads the base and the
fine-tuned model once, then answers each JSON line on stdin with a ``try`` event).

Events go to stdout as JSON lines (and to ``D/events.jsonl``); everything else (library warnings,
stray prints, tracebacks) goes to stderr, which the runner saves as the run's text log.
SIGINT asks for a graceful stop at the next step boundary; a second SIGINT exits at once.

Started by torchrun (``fttui --nproc N``), every rank runs this same entry; only global rank 0 emits
events and writes the run folder, the other ranks train with a null sink and log to stderr.
"""
from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
import traceback
from pathlib import Path

from fttui.errors import ExitCode, FttuiError


def _events_stream():
    """Keep the real stdout for events; point fd 1 at stderr so nothing else can corrupt the stream."""
    events = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return events


def open_events_log(path: Path):
    """Append to a run's events; a line torn by a killed worker is ended first, else the next event joins it."""
    handle = open(path, "a", encoding="utf-8")
    if handle.tell() > 0:
        with open(path, "rb") as tail:
            tail.seek(-1, os.SEEK_END)
            torn = tail.read(1) != b"\n"
        if torn:
            handle.write("\n")
            handle.flush()
    return handle


def _install_stop_handler(stop: threading.Event) -> None:
    def handle(signum, frame):
        if stop.is_set():
            os._exit(int(ExitCode.INTERRUPTED))
        stop.set()
        logging.getLogger("fttui").warning("stop requested: finishing the current step and saving a checkpoint")

    signal.signal(signal.SIGINT, handle)
    signal.signal(signal.SIGTERM, handle)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="fttui-worker")
    parser.add_argument("--config", required=True)
    parser.add_argument("--run-dir")
    parser.add_argument("--mode", choices=("train", "resume", "dry-run", "preview", "fit", "export", "eval", "try"), default="train")
    parser.add_argument("--out", help="export: the folder to write")
    parser.add_argument("--merge", action="store_true", help="export: merge the adapter into the base model")
    parser.add_argument("--dtype", default="float32", help="export: dtype of a merged or full model")
    parser.add_argument("--gguf", help="export: also a verified GGUF file of this type, with a Modelfile")
    parser.add_argument("--gguf-adapter", action="store_true", help="export: the LoRA adapter as a GGUF LoRA file")
    parser.add_argument("--data", help="eval: the dataset to score the run on")
    parser.add_argument("--no-baseline", action="store_true", help="eval: skip the base model")
    args = parser.parse_args(argv)

    stop = threading.Event()
    _install_stop_handler(stop)
    events_out = _events_stream()
    rank, world_size = int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))
    who = f"rank {rank}/{world_size} " if world_size > 1 else ""
    logging.basicConfig(stream=sys.stderr, level=logging.INFO,
                        format=f"%(asctime)s {who}%(levelname)s %(name)s: %(message)s")

    from fttui.engine.sink import NullSink, StreamSink, TeeSink
    from fttui.events import Failed

    run_dir = Path(args.run_dir) if args.run_dir else None
    where = (Path(args.out) if args.mode == "export" and args.out else
             Path(args.config).parent if args.mode == "eval" else run_dir)  # eval writes the run's evals/
    if rank == 0:
        sinks = [StreamSink(events_out, "stdout")]
        if run_dir is not None:
            try:
                sinks.append(StreamSink(open_events_log(run_dir / "events.jsonl"), "events.jsonl"))
            except OSError as error:  # a full disk or a read-only folder before anything ran: say so on stdout
                return _report(TeeSink(*sinks), error, where, args.mode in ("train", "resume"))
        sink = TeeSink(*sinks)
    else:
        sink = NullSink()
    config = None
    try:
        from fttui.config import validate_config
        from fttui.config.presets import read_yaml

        config = validate_config(read_yaml(Path(args.config)), args.config)
        from fttui.engine.quiet import quiet_libraries

        quiet_libraries()
        if args.mode == "preview":
            from fttui.engine.data.preview import preview

            sink.emit(preview(config))
            return int(ExitCode.OK)
        if args.mode in ("export", "eval", "try"):
            return _finished_run_mode(args, sink, stop)
        from fttui.engine.training.recipe import run

        if args.mode == "fit":  # the trainer needs an output folder: the scratch folder its config is in
            run(config, run_dir or Path(args.config).parent, sink, stop, fit_only=True)
            return int(ExitCode.OK)
        outcome = run(config, run_dir, sink, stop, dry_run=args.mode == "dry-run", resume=args.mode == "resume")
        # Rank 0 reports the stop; the other ranks stopped as agreed, which is a clean end for them.
        return int(ExitCode.INTERRUPTED if outcome.status == "stopped" and rank == 0 else ExitCode.OK)
    except FttuiError as error:
        sink.emit(Failed(kind=type(error).__name__, message=error.message, hint=error.hint, exit_code=int(error.exit_code)))
        return int(error.exit_code)
    except RecursionError:  # a data file nested 100k deep, read past the readers' own checks: a data error
        from fttui.errors import DataError

        files = ([args.data] if args.mode == "eval" else [] if config is None
                 else [config.data.train] + ([config.data.eval] if isinstance(config.data.eval, str) else []))
        error = DataError(f"{' or '.join(files) or 'a data file'}: JSON nested too deeply to read",
                          "each row must be a flat JSON object (or a list of chat messages)")
        sink.emit(Failed(kind="DataError", message=error.message, hint=error.hint, exit_code=int(error.exit_code)))
        return int(error.exit_code)
    except Exception as error:  # the last line of defence: report, never hang the front end
        return _report(sink, error, where, args.mode in ("train", "resume"))


def _report(sink, error: BaseException, where: Path | None, mode_trains: bool = False) -> int:
    """Emit the Failed event first: the traceback goes to train.log, which a full disk may refuse."""
    from fttui.disk import write_failure
    from fttui.events import Failed

    known = write_failure(error, where, _full_disk_hint(where) if where is not None and mode_trains else None)
    if known is not None:
        message, hint, code = known.message, known.hint, int(known.exit_code)
    else:
        message = str(error).splitlines()[0][:300] if str(error) else type(error).__name__
        hint, code = None, int(ExitCode.TRAINING)
    if type(error).__name__ == "OutOfMemoryError":
        message = "out of memory"
        hint = "lower training.batch_size or max_length, enable gradient checkpointing, or use qlora"
    sink.emit(Failed(kind=type(known or error).__name__, message=message, hint=hint, exit_code=code))
    try:
        traceback.print_exc()
    except OSError:
        pass
    return code


def _full_disk_hint(run_dir: Path) -> str | None:
    """Which checkpoint survived, and how to go on from it once there is room."""
    from fttui.runner.checkpoints import last_intact_checkpoint

    try:
        checkpoint, _ = last_intact_checkpoint(run_dir)
    except OSError:
        return None
    if checkpoint is None:
        return None
    return f"{checkpoint.name} is intact: free some space, then continue from it with fttui --resume {run_dir}"


def _finished_run_mode(args, sink, stop: threading.Event) -> int:
    """Export, score or try the run whose ``config.yaml`` was given; errors travel as Failed events like training's."""
    from fttui.events import Exported, Logged, Scored

    source = Path(args.config).parent
    if args.mode == "try":
        from fttui.engine.trained.inference import serve

        serve(source, sys.stdin, sink, stop)
        return int(ExitCode.OK)
    if args.mode == "eval":
        from fttui.engine.trained.evaluate import evaluate_run

        if not args.data:
            raise FttuiError("eval needs --data PATH")
        sink.emit(Scored(result=evaluate_run(source, args.data, baseline=not args.no_baseline)))
        return int(ExitCode.OK)
    from fttui.engine.trained.export import export_run

    if not args.out:
        raise FttuiError("export needs --out DIR")
    result = export_run(source, Path(args.out), merge=args.merge, dtype=args.dtype, gguf=args.gguf,
                        gguf_adapter=args.gguf_adapter, progress=lambda message: sink.emit(Logged(message)))
    sink.emit(Exported(out=result["out"], kind=result["kind"], dtype=result["dtype"], notes=result["notes"],
                       gguf=result.get("gguf") or result.get("gguf_adapter"), method=result["method"]))
    return int(ExitCode.OK)


if __name__ == "__main__":
    sys.exit(main())
