"""Entry point: no arguments opens the wizard; ``--preset`` runs headless; subcommands do the rest.

Imports are lazy so ``fttui --help`` answers at once (torch loads only in the training worker).
"""
from __future__ import annotations

import argparse
import importlib
import sys

from fttui import __version__
from fttui.errors import ExitCode, FttuiError, render_error

DESCRIPTION = "Fine-tune language models: a wizard (no arguments) or a headless run (--preset)."
EPILOG = """examples:
  fttui                                        open the wizard
  fttui --preset quickstart                    fine-tune the built-in model on the bundled data
  fttui --preset my.yaml --set training.epochs=1 --dry-run
  fttui hardware                               what this machine has
exit codes: 0 ok, 2 config or usage error, 3 data error, 4 training failed, 130 interrupted"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fttui", description=DESCRIPTION, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"fttui {__version__}")
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
        if args.preset or args.resume:
            from fttui.runner.headless import run_headless

            return int(run_headless(args))
        if args.overrides or args.dry_run or args.output_dir:
            raise FttuiError("--set, --dry-run and --output-dir need --preset", "e.g. fttui --preset quickstart --dry-run")
        return _open_wizard()
    except FttuiError as error:
        print(render_error(error), file=sys.stderr)
        return int(error.exit_code)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return int(ExitCode.INTERRUPTED)


def _open_wizard() -> int:
    try:
        from fttui.tui.app import run_app
    except ImportError:
        raise FttuiError(
            "the wizard is not part of this build yet",
            "run headless instead: fttui --preset quickstart",
        ) from None
    return int(run_app())
