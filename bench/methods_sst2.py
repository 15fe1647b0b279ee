"""Benchmark: every fine-tuning method on the same SST-2 budget, one table of dev accuracy, speed and size.

Workload (issue 5): the built-in MiniLM, the first 800 rows of ../shared/data/sst2/train.jsonl, 1 epoch at
batch 16 (50 optimizer steps), max length 128, fp32, seed 42, each method at its default settings; evaluated
once on the full dev split (872 rows). Skips cleanly when the data folder is absent.

Speed: samples/s is the Trainer's wall-clock figure; on a shared machine other processes lower it, so the
table also gives samples per CPU-second of this process (from the start of training to its last step), which
they hardly move: the fairer comparison between methods.

Learning rates: the method defaults suit runs of several epochs; at 50 steps every method stays at the
majority class with them (``--lr default`` shows it). ``--lr short`` (the default here) gives every method
5x its default rate, one rule for all, so no method is tuned more than another.
Run from the repository root (about 12 minutes on 2 CPU cores):
    nice python bench/methods_sst2.py [--rows 800] [--methods lora,ia3] [--lr short|default]
"""
from __future__ import annotations

import argparse
import contextlib
import gc
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SST2 = ROOT.parent / "shared" / "data" / "sst2"
sys.path.insert(0, str(ROOT))

SHORT_RUN_SCALE = 5  # learning rate = 5 x the method's default for the 50-step budget (see the docstring)

# (row label, method settings): every method at its defaults, plus the variants worth a line of their own
RUNS = [
    ("full", {"name": "full"}),
    ("full + layer lr 0.8", {"name": "full", "layer_lr_decay": 0.8}),
    ("lora", {"name": "lora"}),
    ("dora", {"name": "dora"}),
    ("qlora (4-bit)", {"name": "qlora"}),
    ("adapter (pfeiffer)", {"name": "adapter"}),
    ("adapter (houlsby)", {"name": "adapter", "adapter_placement": "houlsby"}),
    ("freeze (top 2)", {"name": "freeze"}),
    ("ia3", {"name": "ia3"}),
    ("prefix", {"name": "prefix"}),
    ("ptuning", {"name": "ptuning"}),
    ("prompt", {"name": "prompt"}),
    ("bitfit", {"name": "bitfit"}),
]


def timing_sink():
    """A sink that notes the CPU time when training starts and when each step is logged (the last one wins)."""
    from fttui.engine.sink import ListSink
    from fttui.events import Started, StepLogged

    class TimingSink(ListSink):
        def __init__(self):
            super().__init__()
            self.marks = {}

        def emit(self, event):
            super().emit(event)
            if isinstance(event, (Started, StepLogged)):
                self.marks["start" if isinstance(event, Started) else "end"] = time.process_time()

    return TimingSink()


def run_one(method: dict, rows: int, work: Path, lr: float | None) -> dict:
    from fttui.config import effective_learning_rate, validate_config
    from fttui.engine.training.recipe import run

    config = validate_config({
        "model": {"name": "builtin", "task": "seq-cls"},
        "data": {"train": str(SST2 / "train.jsonl"), "eval": str(SST2 / "dev.jsonl"), "max_train_rows": rows},
        "method": method,
        "training": {"epochs": 1, "batch_size": 16, "learning_rate": lr, "eval_batch_size": 64, "max_length": 128,
                     "precision": "fp32", "logging_steps": 1, "save_steps": 100000, "seed": 42,
                     "baseline_eval": False,
                     "eval_steps": 100000},  # evaluate once, after training, so samples/s is training alone
        "output": {"dir": str(work)},
    })
    sink = timing_sink()
    summary = run(config, work, sink).summary
    cpu_seconds = sink.marks["end"] - sink.marks["start"]
    return {"accuracy": summary["eval_accuracy"], "wall_samples_per_second": summary["train_samples_per_second"],
            "samples_per_cpu_second": rows / cpu_seconds,
            "trainable": summary["trainable_params"], "total": summary["total_params"],
            "lr": effective_learning_rate(config)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=800)
    parser.add_argument("--methods", default="", help="comma-separated method names to run (default: all rows)")
    parser.add_argument("--lr", choices=("short", "default"), default="short",
                        help="short: rates for a 50-step budget (default); default: each method's own default")
    args = parser.parse_args()
    if not (SST2 / "train.jsonl").is_file() or not (SST2 / "dev.jsonl").is_file():
        print(f"skipped: {SST2} not found (the shared data folder sits next to the repository)")
        return 0
    from fttui.config.schema import DEFAULT_LEARNING_RATES

    wanted = {m.strip() for m in args.methods.split(",") if m.strip()}
    runs = [(label, method) for label, method in RUNS if not wanted or method["name"] in wanted]
    results = []
    with tempfile.TemporaryDirectory(prefix="fttui-methods-") as tmp:
        for index, (label, method) in enumerate(runs):
            print(f"[{index + 1}/{len(runs)}] {label} ...", file=sys.stderr, flush=True)
            with contextlib.redirect_stdout(sys.stderr):  # the Trainer prints its logs; stdout is the table
                lr = SHORT_RUN_SCALE * DEFAULT_LEARNING_RATES[method["name"]] if args.lr == "short" else None
                results.append((label, run_one(method, args.rows, Path(tmp) / f"run-{index}", lr)))
            gc.collect()
    print(f"workload: built-in MiniLM, {args.rows} SST-2 train rows, 1 epoch, batch 16, fp32, CPU; "
          f"dev = 872 rows; learning rates: {'for a short run' if args.lr == 'short' else 'method defaults'}")
    print("| method | lr | dev accuracy | samples/s | samples per CPU-s | trainable params | % of model |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for label, r in results:
        print(f"| {label} | {r['lr']:g} | {r['accuracy']:.4f} | {r['wall_samples_per_second']:.1f} | "
              f"{r['samples_per_cpu_second']:.1f} | {r['trainable']:,} | {100 * r['trainable'] / r['total']:.2f}% |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
