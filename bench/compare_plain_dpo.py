"""Benchmark (issue 16): DPO with LoRA through ``fttui --preset`` and through a plain TRL ``DPOTrainer`` script.

The plain side is bench/plain_dpo.py, written the way TRL 1.16's docs show: conversational pairs (``prompt``
messages, ``chosen`` and ``rejected`` one assistant turn each), ``DPOConfig(beta=0.1, learning_rate=5e-4,
per_device_train_batch_size=8, max_length=512, num_train_epochs=1)`` and ``LoraConfig(r=16, lora_alpha=32,
lora_dropout=0.05, target_modules="all-linear")``, everything else DPOConfig's defaults (bf16 autocast,
gradient checkpointing, the reference = the base with the adapter off, eval batch 8). The fttui side gets the
same files, LoRA, beta, batch, lr, max length and epoch, ``training.objective: dpo``, ``eval_batch_size: 8``,
``baseline_eval: false``, ``sample_prompts: 0`` and a large save_steps; everything else (precision,
checkpointing, truncation) is fttui's default and part of what is measured.

Model: the random ~20M Llama of compare_plain_trl.py (hidden 384, 8 layers, 6 heads, MLP 1024) with a byte-level
BPE tokenizer of 8,192 tokens trained here on the pair file, and its ChatML template; built into a temporary
folder both sides load. Nothing is downloaded. Data (real, public): ../shared/data/preference/dpo_en_demo.jsonl,
300 LLaMA-Factory ranking rows (1-7 prompt turns, one chosen and one rejected reply). Eval: 64 pairs held out
with a fixed seed among pairs whose prompt + longer reply fit in 512 tokens, so both sides score the same tokens
whatever their truncation; 64 is a multiple of the eval batch, so TRL's mean of batch means is the share of
pairs, and one pair is 1.6 points, finer than the 2-point target. Train: the first ``--rows`` of the rest
whose prompt alone is under 512 tokens (TRL drops the others, fttui trims them: both sides train the same pairs,
each truncating the over-long ones its own way; 112 of the 300 prompts are that long).

Measured on each side: samples/s = train pairs / runtime of the training steps only (HF ``train_runtime``;
fttui's ``train_runtime_s``, which leaves out its evaluations and saves); eval preference accuracy = TRL's eval
``rewards/accuracies`` after the epoch (fttui's ``eval_rewards/accuracies`` in summary.json: the same DPOTrainer
metric), and the eval DPO loss. Targets: fttui's samples/s >= the plain script's, and its eval preference
accuracy within 2 points of it. Each side runs in its own subprocess, one after the other, with torch's
default thread count. Run from the repository root (about 10 min on 2 idle cores with the default 80 rows):
    python bench/compare_plain_dpo.py [--rows N]
"""
from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from compare_plain_trl import build_model as build_trl_model, run  # noqa: E402  the same model and runner
from hardware_figures import torch_build  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
FILE = SHARED / "preference" / "dpo_en_demo.jsonl"
DEFAULT_ROWS, EVAL_PAIRS = 80, 64  # --rows 124 trains on every pair left
# lr as the dpo-quickstart preset: DPOConfig's 1e-6 default would leave a random model where it started
MAX_LENGTH, BATCH, LR, BETA, LORA = 512, 8, 5e-4, 0.1, {"r": 16, "alpha": 32, "dropout": 0.05}
ROLES = {"human": "user", "gpt": "assistant", "system": "system"}


def read_pairs() -> list[dict]:
    """The file's ranking rows as TRL's conversational pairs: prompt messages, chosen and rejected one turn each."""
    pairs = []
    for line in FILE.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            pairs.append({"prompt": [{"role": ROLES[t["from"]], "content": t["value"]} for t in row["conversations"]],
                          **{side: [{"role": "assistant", "content": row[side]["value"]}]
                             for side in ("chosen", "rejected")}})
    return pairs


def build_model(folder: Path, pairs: list[dict]) -> tuple[object, int]:
    """The random Llama and its tokenizer, saved in ``folder``; returns the tokenizer and the parameter count."""
    texts = [m["content"] for pair in pairs for side in ("prompt", "chosen", "rejected") for m in pair[side]]
    return build_trl_model(folder, texts, model_max_length=MAX_LENGTH * 8)


def split(pairs: list[dict], tokenizer, rows: int, folder: Path) -> dict:
    """Train and eval JSONL files in ``folder``; every eval pair's prompt + longer reply fits in MAX_LENGTH."""
    def length(pair: dict) -> int:
        return max(len(tokenizer.apply_chat_template(pair["prompt"] + pair[side], tokenize=True,
                                                     return_dict=True)["input_ids"]) for side in ("chosen", "rejected"))

    def prompt_length(pair: dict) -> int:
        return len(tokenizer.apply_chat_template(pair["prompt"], tokenize=True, add_generation_prompt=True,
                                                 return_dict=True)["input_ids"])

    lengths, prompts = [length(pair) for pair in pairs], [prompt_length(pair) for pair in pairs]
    order = list(range(len(pairs)))
    random.Random(0).shuffle(order)
    held_out = set([i for i in order if lengths[i] <= MAX_LENGTH][:EVAL_PAIRS])
    rest = [i for i in range(len(pairs)) if i not in held_out]
    train = [i for i in rest if prompts[i] < MAX_LENGTH][:rows]  # TRL drops the others: both train the same pairs
    folder.mkdir(parents=True)
    for name, indices in (("train", train), ("eval", sorted(held_out))):
        with open(folder / f"{name}.jsonl", "w", encoding="utf-8") as out:
            for i in indices:
                out.write(json.dumps(pairs[i], ensure_ascii=False) + "\n")
    return {"train": folder / "train.jsonl", "eval": folder / "eval.jsonl", "train_rows": len(train),
            "eval_rows": len(held_out), "overlong": sum(lengths[i] > MAX_LENGTH for i in train),
            "long_prompts": sum(prompts[i] >= MAX_LENGTH for i in rest)}


def run_plain(model: Path, files: dict, work: Path, env: dict) -> dict | None:
    out = run([sys.executable, str(ROOT / "bench" / "plain_dpo.py"), str(model), str(files["train"]),
               str(files["eval"]), str(work / "plain-run"), str(BETA), str(LR), str(BATCH), str(MAX_LENGTH)], env)
    return None if out is None else json.loads(out.strip().splitlines()[-1])


def run_fttui(model: Path, files: dict, work: Path, env: dict) -> dict | None:
    preset = {
        "model": {"name": str(model), "task": "causal-lm"},
        "data": {"train": str(files["train"]), "eval": str(files["eval"]), "format": "preference"},
        "method": {"name": "lora", "lora_r": LORA["r"], "lora_alpha": LORA["alpha"], "lora_dropout": LORA["dropout"]},
        "training": {"objective": "dpo", "beta": BETA, "epochs": 1, "batch_size": BATCH, "eval_batch_size": BATCH,
                     "learning_rate": LR, "max_length": MAX_LENGTH, "baseline_eval": False, "sample_prompts": 0,
                     "save_steps": 100000},
    }
    path, out = work / "fttui.yaml", work / "fttui-run"
    path.write_text(yaml.safe_dump(preset, sort_keys=False), encoding="utf-8")
    command = [sys.executable, "-m", "fttui", "--preset", str(path), "--output-dir", str(out), "--json"]
    if run(command, {**env, "FTTUI_CACHE": str(work / "fttui-cache")}) is None:
        return None
    try:
        summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
        return {"train_runtime_s": summary["train_runtime_s"], "train_rows": summary["train_rows"],
                "global_step": summary.get("global_step"), "eval_accuracy": summary["eval_rewards/accuracies"],
                "eval_margin": summary.get("eval_rewards/margins"), "eval_loss": summary.get("eval_loss"),
                "prefers_chosen": summary.get("eval_prefers_chosen"),
                "truncated_rows": summary.get("truncated_rows"),
                "precision": f"{summary.get('precision')} (fttui default)"}
    except (OSError, ValueError, KeyError) as error:
        print(f"  fttui wrote no readable summary.json with the DPO metrics ({error!r})")
        return None


def report(plain: dict, ours: dict) -> bool:
    print(f"{'':11}{'rows':>6}{'steps':>6}{'runtime s':>11}{'samples/s':>11}{'eval pref acc':>15}{'margin':>9}"
          f"{'eval loss':>11}  precision")
    for name, result in (("plain TRL", plain), ("fttui", ours)):
        margin = result["eval_margin"] if result["eval_margin"] is not None else float("nan")
        loss = result["eval_loss"] if result["eval_loss"] is not None else float("nan")
        print(f"{name:11}{result['train_rows']:>6}{result['global_step']:>6}{result['train_runtime_s']:>11.1f}"
              f"{result['train_rows'] / max(result['train_runtime_s'], 1e-9):>11.2f}"
              f"{100 * result['eval_accuracy']:>14.1f}%{margin:>9.4f}{loss:>11.4f}  {result['precision']}")
    print(f"fttui: rows truncated {ours['truncated_rows']}; prefers_chosen (no reference) {ours['prefers_chosen']}")
    ratio = ((ours["train_rows"] / ours["train_runtime_s"]) / (plain["train_rows"] / plain["train_runtime_s"]))
    points = 100 * (ours["eval_accuracy"] - plain["eval_accuracy"])
    speed_met, accuracy_met = ratio >= 1.0, abs(points) <= 2.0
    print(f"samples/s fttui/plain: {ratio:.2f}x (target >= 1x: {'met' if speed_met else 'NOT met'}); eval "
          f"preference accuracy fttui - plain: {points:+.1f} points (target within 2: "
          f"{'met' if accuracy_met else 'NOT met'})")
    return speed_met and accuracy_met


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS, help=f"train pairs (default {DEFAULT_ROWS})")
    args = parser.parse_args()
    if args.rows < BATCH:
        parser.error(f"--rows must be at least {BATCH} (one batch)")
    if not FILE.is_file():
        print(f"skipped: {FILE} not found (the shared data folder sits next to the repository)")
        return 0
    import torch

    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    with tempfile.TemporaryDirectory(prefix="fttui-bench-dpo-") as tmp:
        work = Path(tmp)
        pairs = read_pairs()
        tokenizer, params = build_model(work / "model", pairs)
        env["HF_DATASETS_CACHE"] = str(work / "hf-datasets")
        files = split(pairs, tokenizer, args.rows, work / "data")
        print(torch_build())
        print(f"model: random Llama, {params / 1e6:.1f}M parameters (hidden 384, 8 layers, MLP 1024, vocab "
              f"{len(tokenizer)}), ChatML template; DPO beta {BETA} with LoRA r={LORA['r']} alpha={LORA['alpha']} "
              f"dropout {LORA['dropout']} on all linear layers; batch {BATCH}, max length {MAX_LENGTH}, lr {LR:g}, "
              f"1 epoch; torch threads {torch.get_num_threads()}")
        print(f"data: {FILE.relative_to(SHARED.parent.parent)}, {files['train_rows']} train / {files['eval_rows']} "
              f"eval pairs, {files['overlong']} train pairs over {MAX_LENGTH} tokens (truncated by each side its own "
              f"way); {files['long_prompts']} pairs whose prompt alone fills {MAX_LENGTH} tokens left out", flush=True)
        plain = run_plain(work / "model", files, work, env)
        ours = run_fttui(work / "model", files, work, env) if plain is not None else None
        ok = plain is not None and ours is not None and report(plain, ours)
    print("\nall targets met" if ok else "\ntargets NOT met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
