"""``fttui export RUN_DIR --out DIR [--merge] [--dtype ...]``: the adapter, or a merged standalone model."""
from __future__ import annotations

import json
import sys
from pathlib import Path


def register(subparsers) -> None:
    parser = subparsers.add_parser("export", help="export a run's adapter, or merge it into its base model",
                                   description="Export a run: the PEFT adapter (default) or, with --merge, a "
                                   "standalone model that transformers' from_pretrained loads.")
    parser.add_argument("run_dir", metavar="RUN_DIR", help="a run folder (runs/<name>-<time>)")
    parser.add_argument("--out", required=True, metavar="DIR", help="folder to write (new, empty, or an earlier export)")
    parser.add_argument("--merge", action="store_true", help="merge the adapter into the base model's weights")
    parser.add_argument("--dtype", choices=("float32", "float16", "bfloat16"), default="float32",
                        help="dtype of the merged or full model's weights (default float32)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def run(args) -> int:
    from fttui.errors import ConfigError

    run_dir = Path(args.run_dir)
    if not run_dir.is_dir():
        raise ConfigError(f"no run folder at {run_dir}", "list runs with: ls runs/")
    from fttui.engine.export import export_run
    from fttui.engine.quiet import quiet_libraries

    quiet_libraries()

    result = export_run(run_dir, Path(args.out), merge=args.merge, dtype=args.dtype)
    if args.json:
        print(json.dumps(result))
    else:
        print(f"wrote {result['kind']} to {result['out']}", file=sys.stderr)
        for note in result["notes"]:
            print(f"note: {note}", file=sys.stderr)
    return 0
