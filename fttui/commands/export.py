"""``fttui export RUN_DIR --out DIR [--merge] [--dtype ...] [--gguf TYPE | --gguf-adapter]``: the adapter, a merged
standalone model, a verified GGUF file with an Ollama Modelfile, or the LoRA adapter as a GGUF LoRA file."""
from __future__ import annotations

import json
import sys
from pathlib import Path

# torch-free, like everything this module imports before run()
from fttui.gguf_tools import GGUF_TYPES, adapter_summary, gguf_summary


def register(subparsers) -> None:
    parser = subparsers.add_parser("export", help="export a run's adapter, or merge it into its base model",
                                   description="Export a run: the PEFT adapter (default) or, with --merge, a "
                                   "standalone model that transformers' from_pretrained loads.")
    parser.add_argument("run_dir", metavar="RUN_DIR", help="a run folder (runs/<name>-<time>)")
    parser.add_argument("--out", metavar="DIR", help="folder to write: new, empty, or an earlier fttui export "
                        "holding only the files it wrote (a symlink: its target); "
                        "with --push-to-hub the default is RUN_DIR/hub-export")
    parser.add_argument("--merge", action="store_true", help="merge the adapter into the base model's weights")
    parser.add_argument("--dtype", choices=("float32", "float16", "bfloat16"),
                        help="dtype of the merged or full model's weights (default float32; with --gguf the "
                        "16-bit dtype the GGUF is made from)")
    parser.add_argument("--gguf", choices=GGUF_TYPES, metavar="TYPE",
                        help=f"also write the merged model as GGUF ({', '.join(GGUF_TYPES)}) with an Ollama "
                        "Modelfile, read back and checked against the merged model; without --merge only the GGUF "
                        "is kept (needs pip install \"fttui[gguf]\"; the K-quants also llama.cpp's llama-quantize)")
    parser.add_argument("--gguf-adapter", action="store_true",
                        help="write a LoRA adapter as one GGUF LoRA file for llama.cpp (llama-cli -m BASE.gguf --lora "
                        "FILE) instead of the peft folder, read back and checked; LoRA and QLoRA runs only")
    parser.add_argument("--push-to-hub", metavar="ORG/NAME", help="also upload the export to this Hub repository "
                        "(token from HF_TOKEN or `hf auth login`; it is never written anywhere)")
    parser.add_argument("--private", action="store_true", help="with --push-to-hub: create the repository as private")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def run(args) -> int:
    from fttui.errors import ConfigError
    from fttui.runner.run_folder import RunFolder

    run_dir = RunFolder.existing(args.run_dir).path
    if args.out is None and not args.push_to_hub:
        raise ConfigError("export needs --out DIR (or --push-to-hub ORG/NAME)", f"e.g. fttui export {run_dir} --out exports/mine")
    if args.push_to_hub:
        from fttui.hub import check_repo_id, hub_token

        check_repo_id(args.push_to_hub)
        hub_token()  # fail before the (possibly long) export when there is no token
    out = Path(args.out) if args.out else run_dir / "hub-export"
    dtype = args.dtype or "float32"
    if args.gguf:
        from fttui.gguf_tools import intermediate_dtype

        dtype = intermediate_dtype(args.gguf)
        if args.dtype not in (None, dtype):
            raise ConfigError(f"--gguf {args.gguf} is made from the model merged in {dtype}, not {args.dtype}",
                              f"leave out --dtype (the merged model kept with --merge is {dtype} too)")
    if args.gguf_adapter and (args.merge or args.gguf or args.dtype):
        raise ConfigError("--gguf-adapter writes the adapter alone, in float32",
                          "leave out --merge, --gguf and --dtype (export a merged model to another folder)")
    from fttui.events import Exported
    from fttui.runner.jobs import run_to_end, start_export

    # The TUI's path: what the folder, the machine or the run lack (a folder of the user's files, the gguf extra,
    # a LoRA for --gguf-adapter, a worker training there) is refused before the worker starts; a crash in it is
    # reported like a failed run's.
    supervisor = start_export(run_dir, out, merge=args.merge, dtype=dtype, gguf=args.gguf,
                              gguf_adapter=args.gguf_adapter)
    done = run_to_end(supervisor, Exported, "export", progress=lambda message: print(message, file=sys.stderr))
    gguf = {("gguf_adapter" if done.kind == "gguf adapter" else "gguf"): done.gguf} if done.gguf else {}
    result = {"run_dir": str(run_dir), "kind": done.kind, "method": done.method, "dtype": done.dtype,
              "notes": done.notes, **gguf, "out": str(out)}  # what export_run returned, as before
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
        if "gguf" in result:
            print(gguf_summary(result["gguf"], Path(result["out"]), run_dir.name), file=sys.stderr)
        if "gguf_adapter" in result:
            print(adapter_summary(result["gguf_adapter"], Path(result["out"])), file=sys.stderr)
    return 0
