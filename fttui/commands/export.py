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
    parser.add_argument("--out", metavar="DIR", help="folder to write: new, empty, or an earlier fttui export "
                        "holding only the files it wrote (a symlink: its target); "
                        "with --push-to-hub the default is RUN_DIR/hub-export")
    parser.add_argument("--merge", action="store_true", help="merge the adapter into the base model's weights")
    parser.add_argument("--dtype", choices=("float32", "float16", "bfloat16"), default="float32",
                        help="dtype of the merged or full model's weights (default float32)")
    parser.add_argument("--push-to-hub", metavar="ORG/NAME", help="also upload the export to this Hub repository "
                        "(token from HF_TOKEN or `hf auth login`; it is never written anywhere)")
    parser.add_argument("--private", action="store_true", help="with --push-to-hub: create the repository as private")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def run(args) -> int:
    from fttui.errors import ConfigError

    run_dir = Path(args.run_dir)
    if not run_dir.is_dir():
        raise ConfigError(f"no run folder at {run_dir}", "list runs with: ls runs/")
    if args.out is None and not args.push_to_hub:
        raise ConfigError("export needs --out DIR (or --push-to-hub ORG/NAME)", f"e.g. fttui export {run_dir} --out exports/mine")
    if args.push_to_hub:
        from fttui.hub import check_repo_id, hub_token

        check_repo_id(args.push_to_hub)
        hub_token()  # fail before the (possibly long) export when there is no token
    out = Path(args.out) if args.out else run_dir / "hub-export"
    from fttui.runner.exports import check_target
    from fttui.runner.lock import claim

    check_target(out)  # a folder with the user's files in it is refused before anything loads

    lock = claim(run_dir, "export")  # refused while a worker trains there: its adapter is not final yet
    try:
        from fttui.engine.export import export_run
        from fttui.engine.quiet import quiet_libraries

        quiet_libraries()
        result = export_run(run_dir, out, merge=args.merge, dtype=args.dtype)
    finally:
        lock.release()
    if args.push_to_hub:
        from fttui.hub import push_folder

        result["hub_url"] = push_folder(out, args.push_to_hub, private=args.private)
    if args.json:
        print(json.dumps(result))
    else:
        print(f"wrote {result['kind']} to {result['out']}", file=sys.stderr)
        for note in result["notes"]:
            print(f"note: {note}", file=sys.stderr)
        if "hub_url" in result:
            print(f"pushed to {result['hub_url']}", file=sys.stderr)
    return 0
