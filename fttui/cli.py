"""Entry point: no arguments opens the wizard; ``--preset`` runs headless; subcommands do the rest.

Imports are lazy so ``fttui --help`` answers at once (torch loads only in the training worker).
"""
from __future__ import annotations

import argparse
import importlib
import sys

from fttui import __version__
from fttui.errors import DataError, ExitCode, FttuiError, render_error

DESCRIPTION = "Fine-tune language models: a wizard (no arguments) or a headless run (--preset)."
EPILOG = """examples:
  fttui                                        open the wizard
  fttui --web                                  serve the wizard at http://localhost:8000
  fttui --preset quickstart                    fine-tune the built-in model on the bundled data
  fttui --preset my.yaml --set training.epochs=1 --dry-run
  fttui --preset fsdp-8gpu --nproc 8                one process per GPU (torchrun, DDP or FSDP)
  fttui hardware                               what this machine has
  fttui runs [--follow RUN_DIR]                list the runs, or re-attach to one (Ctrl-C detaches)
exit codes: 0 ok, 2 config or usage error, 3 data error, 4 training failed, 5 hub unreachable,
  129 / 130 / 143 stopped by SIGHUP / SIGINT / SIGTERM (a checkpoint saved)"""


LAUNCH_FLAGS = ("nproc", "nnodes", "node_rank", "master_addr", "master_port")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fttui", description=DESCRIPTION, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"fttui {__version__}")
    parser.add_argument("--web", action="store_true", help="serve the wizard in a browser on localhost (textual-serve)")
    parser.add_argument("--port", type=int, metavar="N", help="port for --web (default 8000)")
    parser.add_argument("--token", metavar="TOKEN", help="--web: the secret the URL must carry (default: a random one)")
    parser.add_argument("--no-token", action="store_true", help="--web: no token (only on a machine nobody else uses)")
    parser.add_argument("--max-sessions", type=int, metavar="N", help="--web: browser tabs served at once (default 2)")
    run = parser.add_argument_group("headless run")
    run.add_argument("--preset", metavar="PATH", help="run this preset headless (a YAML path or a shipped name)")
    run.add_argument(
        "--set", dest="overrides", metavar="KEY=VALUE", action="append", default=[],
        help="override a config value, e.g. training.epochs=2 (repeatable)",
    )
    run.add_argument("--resume", metavar="RUN_DIR", help="continue a stopped or failed run from its last checkpoint; "
                     "with --set training.epochs=N, extend a finished one")
    run.add_argument("--output-dir", metavar="DIR", help="write the run here (a new or empty folder)")
    run.add_argument("--dry-run", action="store_true", help="validate config, data and model; print the plan")
    run.add_argument("--json", action="store_true", help="print events as JSON lines on stdout")
    ranks = parser.add_argument_group("several processes (started by torchrun; see training.distributed)")
    ranks.add_argument("--nproc", type=int, metavar="N", help="training processes on this machine, one per GPU (default 1)")
    ranks.add_argument("--nnodes", type=int, metavar="N", help="machines taking part (default 1); run fttui on each")
    ranks.add_argument("--node-rank", type=int, metavar="R", help="this machine's number, 0 to nnodes-1 (0 writes the run)")
    ranks.add_argument("--master-addr", metavar="HOST", help="address of machine 0, reachable from the others")
    ranks.add_argument("--master-port", type=int, metavar="PORT", help="free TCP port on machine 0 (default 29500)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _command_names():
        _command_module(name).register(commands)
    return parser


def _command_names() -> tuple[str, ...]:
    import importlib.util

    from fttui.commands import COMMAND_MODULES

    return tuple(name for name in COMMAND_MODULES if importlib.util.find_spec(f"fttui.commands.{name}"))


def _command_module(name: str):
    return importlib.import_module(f"fttui.commands.{name}")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command:
            return int(_command_module(args.command).run(args))
        if args.preset and args.resume:
            raise FttuiError("--preset and --resume do not go together", "a resumed run uses the config in its folder")
        web_flags = [flag for flag, given in (("--port", args.port is not None), ("--token", args.token is not None),
                     ("--no-token", args.no_token), ("--max-sessions", args.max_sessions is not None)) if given]
        if web_flags and not args.web:
            raise FttuiError(f"{web_flags[0]} goes with --web", "e.g. fttui --web --port 8123")
        if args.web and (args.preset or args.resume):
            raise FttuiError("--web serves the wizard; it does not go with --preset or --resume",
                             "run headless without --web, or open the wizard with: fttui --web")
        if args.preset or args.resume:
            from fttui.runner.headless import run_headless

            return int(run_headless(args))
        if any(not item.startswith("ui.") for item in args.overrides) or args.dry_run or args.output_dir:
            raise FttuiError("--set, --dry-run and --output-dir need --preset (the wizard takes --set ui.* keys only)",
                             "e.g. fttui --preset quickstart --dry-run, or fttui --set ui.worker_niceness=0")
        if any(getattr(args, flag) is not None for flag in LAUNCH_FLAGS):
            raise FttuiError("--nproc, --nnodes, --node-rank and --master-* need --preset or --resume",
                             "e.g. fttui --preset my.yaml --nproc 2")
        return _open_wizard(web=args.web, port=args.port or 8000, token=args.token, use_token=not args.no_token,
                            max_sessions=2 if args.max_sessions is None else args.max_sessions, overrides=args.overrides)
    except FttuiError as error:
        return _fail(args, error)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return int(ExitCode.INTERRUPTED)
    except RecursionError:  # a JSON file nested 100k deep, read in this process (eval, export)
        data = getattr(args, "data", None)
        return _fail(args, DataError(f"{data or 'an input file'} is nested too deeply to read",
                                     "each row must be a flat JSON object (or a list of chat messages)"))
    except Exception as error:  # a full disk or a read-only folder under a command that writes in this process
        from fttui.disk import write_failure

        places = ("out", "output_dir", "resume", "run_dir")
        known = write_failure(error, next((getattr(args, key) for key in places if getattr(args, key, None)), None))
        if known is None and isinstance(error, OSError):
            shown = f"{error.strerror or error}" + (f": {error.filename}" if error.filename else "")
            known = FttuiError(shown, "check the path and try again")
        if known is None:
            raise  # a bug, not the user's input: its traceback is what a report needs
        return _fail(args, known)


def _fail(args, error: FttuiError) -> int:
    """Every failure reads the same: ``error:``/``hint:`` on stderr, and with --json one ``failed`` event on stdout."""
    print(render_error(error), file=sys.stderr)
    if getattr(args, "json", False):
        from fttui.events import Failed

        try:
            print(Failed(kind=type(error).__name__, message=error.message, hint=error.hint,
                         exit_code=int(error.exit_code)).to_json(), flush=True)
        except OSError:  # stdout closed: stderr said it already
            pass
    return int(error.exit_code)


def _open_wizard(web: bool = False, port: int = 8000, **web_options) -> int:
    try:
        from fttui.tui.app import run_app
    except ImportError:
        raise FttuiError(
            "the wizard is not part of this build yet",
            "run headless instead: fttui --preset quickstart",
        ) from None
    return int(run_app(web=web, port=port, **web_options))
