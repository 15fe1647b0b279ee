"""Memory estimate against the measured peak on this CPU, per method and batch size.

    python bench/calibrate_cpu.py [--methods lora,freeze,full] [--batch-sizes 16,64] [--steps 40]

Each run is the quickstart preset (built-in MiniLM, bundled data, bf16 autocast where the CPU has it) in a
fresh process through the real CLI, without evaluation, so the peak is training's. The measured figure is
``memory_measured_mb`` from the run's summary.json: anonymous memory above the level before the model was
loaded, plus the resident pages of the memory-mapped weight files (frozen weights stay mapped). Prints
the estimate's breakdown beside it and the error (estimate - measured) / measured. 40 steps by default: glibc's
heap grows over a run's first steps and levels off by then (120 steps measure within a few percent of 40), and the
estimate is of that level; a 6-step run measures the early, lower peak.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path


def measure(method: str, batch_size: int, steps: int, work: Path) -> dict:
    out = work / f"{method}-{batch_size}"
    command = [sys.executable, "-m", "fttui", "--preset", "quickstart", "--output-dir", str(out),
               "--set", f"method.name={method}", "--set", f"training.batch_size={batch_size}",
               "--set", f"training.max_steps={steps}", "--set", "training.baseline_eval=false",
               "--set", "data.eval=null"]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{method} at batch {batch_size} failed:\n{done.stderr[-2000:]}")
    return json.loads((out / "summary.json").read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", default="lora,freeze,full")
    parser.add_argument("--batch-sizes", default="16,64")
    parser.add_argument("--steps", type=int, default=40)
    args = parser.parse_args()
    errors = []
    print(f"{'method':<8} {'batch':>5} {'estimate':>9} {'measured':>9} {'error':>7}   "
          "breakdown (MB): weights, gradients, optimizer, activations, allocator")
    with tempfile.TemporaryDirectory(prefix="fttui-calibrate-") as work:
        for method in args.methods.split(","):
            for batch_size in map(int, args.batch_sizes.split(",")):
                s = measure(method, batch_size, args.steps, Path(work))
                b = s["memory_estimate_breakdown_mb"]
                errors.append(abs(s["estimate_error"]))
                parts = ", ".join(f"{b[k]:.0f}" for k in ("weights", "gradients", "optimizer", "activations",
                                                          "allocator_overhead"))
                print(f"{method:<8} {batch_size:>5} {s['memory_estimate_mb']:>7.1f}MB {s['memory_measured_mb']:>7.1f}MB "
                      f"{s['estimate_error']:>+7.1%}   {parts}", flush=True)
    print(f"median |error| {statistics.median(errors):.1%}, worst {max(errors):.1%} over {len(errors)} runs")


if __name__ == "__main__":
    main()
