"""Benchmark (issue 13): the same chat SFT through ``fttui --preset`` and through a plain TRL script.

The plain side is bench/plain_trl.py, written the way TRL's docs show: a conversational dataset,
``SFTConfig(assistant_only_loss=True, max_length=512, per_device_train_batch_size=8, learning_rate=2e-4,
num_train_epochs=1)`` and ``LoraConfig(r=16, lora_alpha=32, lora_dropout=0.05, target_modules="all-linear")``,
everything else SFTConfig's defaults (which turn on bf16 autocast and gradient checkpointing; no packing).
The fttui side gets the same files, LoRA, batch, max length, lr and epoch, ``training.baseline_eval: false``,
``training.sample_prompts: 0`` and a large save_steps; everything else (precision, packing, length grouping)
is fttui's default and part of what is measured.

Model: a random Llama of about 20M parameters (hidden 384, 8 layers, 6 heads, MLP 1024) with a byte-level BPE
tokenizer of 8,192 tokens trained here on the two data files, and a ChatML template whose assistant turns
(reply + ``<|im_end|>\\n``) sit in ``{% generation %}`` markers; built into a temporary folder both sides load.
Nothing is downloaded. Workloads (real data from ../shared/data):
  chat    preference/kto_en_demo.jsonl: 300 multi-turn conversations (``label`` ignored), half over 512 tokens
  alpaca  alpaca/sample.jsonl as conversations (user: instruction + blank line + input; assistant: output)
Eval rows are held out (10% of the file, at most 200, chosen with a fixed seed among rows that fit in 512
tokens, so both sides score exactly the same tokens whatever their truncation); train rows are the first
``--rows`` of the rest (default: chat 160, alpaca 400).

Measured on each side, training steps only (HF ``train_runtime``; fttui's ``train_runtime_s``, which leaves
out its evaluations and saves): samples/s = train rows / runtime; trained tokens/s = tokens with a label
!= -100 in the data that side actually trained (plain: the dataset SFTTrainer prepared, truncated keep_start,
which drops a row whose first 512 tokens hold no reply; fttui: its prepared train split, read from the data
cache the run writes, truncated from the prompt side so the last reply stays) / runtime; and eval loss on
the held-out rows after the epoch. A target counts as met when both the samples/s and the tokens/s ratios
reach it, and the eval loss is at most 1% above plain TRL's.
Targets: >= 2x on chat rows, >= 3x on Alpaca rows. Each side runs in its own subprocess, one after the
other, with torch's default thread count. Run from the repository root (about 15 min on 2 idle cores):
    python bench/compare_plain_trl.py [--workload {chat,alpaca,both}] [--rows N]
"""
from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from hardware_figures import torch_build  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
FILES = {"chat": SHARED / "preference" / "kto_en_demo.jsonl", "alpaca": SHARED / "alpaca" / "sample.jsonl"}
DEFAULT_ROWS = {"chat": 160, "alpaca": 400}  # chat: --rows 270 takes all 300 rows (with 30 eval)
TARGETS = {"chat": 2.0, "alpaca": 3.0}
MAX_LENGTH, BATCH, LR, LORA = 512, 8, 2e-4, {"r": 16, "alpha": 32, "dropout": 0.05}
VOCAB = 8192
TEMPLATE = (
    "{%- for message in messages %}"
    "{%- if message['role'] == 'assistant' %}"
    "{{- '<|im_start|>assistant\\n' }}{% generation %}{{- message['content'] + '<|im_end|>\\n' }}{% endgeneration %}"
    "{%- else %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)


def read_rows(workload: str) -> list[list[dict]]:
    """Every row of the workload's file as an OpenAI ``messages`` list (role and content only)."""
    lines = [json.loads(line) for line in FILES[workload].read_text(encoding="utf-8").splitlines() if line.strip()]
    if workload == "chat":
        return [[{"role": m["role"], "content": m["content"]} for m in row["messages"]] for row in lines]
    return [[{"role": "user", "content": row["instruction"] + (f"\n\n{row['input']}" if row["input"] else "")},
             {"role": "assistant", "content": row["output"]}] for row in lines]


def build_model(folder: Path, texts: list[str] | None = None, model_max_length: int = MAX_LENGTH * 2
                ) -> tuple[object, int]:
    """The random Llama and its tokenizer (BPE trained on ``texts``, by default the two workloads' messages), saved
    in ``folder``; returns the tokenizer and the parameter count. bench/compare_plain_dpo.py builds the same one."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast
    from transformers.utils import logging

    logging.set_verbosity_error()  # the overlong rows are measured here, on purpose
    logging.disable_progress_bar()

    if texts is None:
        texts = [m["content"] for name in FILES for row in read_rows(name) for m in row]
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    bpe.train_from_iterator(texts, trainers.BpeTrainer(
        vocab_size=VOCAB, special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"], show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                                        model_max_length=model_max_length)
    tokenizer.chat_template = TEMPLATE
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=384, intermediate_size=1024, num_hidden_layers=8,
                         num_attention_heads=6, num_key_value_heads=6, max_position_embeddings=MAX_LENGTH * 2,
                         bos_token_id=None, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
    model = LlamaForCausalLM(config)
    model.generation_config = GenerationConfig(eos_token_id=tokenizer.eos_token_id,
                                               pad_token_id=tokenizer.pad_token_id)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return tokenizer, sum(p.numel() for p in model.parameters())


def split(workload: str, tokenizer, rows: int | None, folder: Path) -> dict:
    """Train and eval JSONL files of the workload in ``folder``; eval rows all fit in MAX_LENGTH tokens."""
    conversations = read_rows(workload)
    lengths = [len(tokenizer.apply_chat_template(c, tokenize=True, return_dict=True)["input_ids"])
               for c in conversations]
    rows = rows or DEFAULT_ROWS[workload]
    eval_count = min(len(conversations) // 10, 200)  # chat 30, alpaca 200
    order = list(range(len(conversations)))
    random.Random(0).shuffle(order)
    held_out = set([i for i in order if lengths[i] <= MAX_LENGTH][:eval_count])
    train = [i for i in range(len(conversations)) if i not in held_out][:rows]
    folder.mkdir(parents=True)
    for name, indices in (("train", train), ("eval", sorted(held_out))):
        with open(folder / f"{name}.jsonl", "w", encoding="utf-8") as out:
            for i in indices:
                out.write(json.dumps({"messages": conversations[i]}, ensure_ascii=False) + "\n")
    return {"train": folder / "train.jsonl", "eval": folder / "eval.jsonl", "train_rows": len(train),
            "eval_rows": len(held_out), "overlong": sum(lengths[i] > MAX_LENGTH for i in train)}


def run(command: list[str], env: dict) -> str | None:
    """Runs one side's subprocess; its stdout, or None after printing the end of its output."""
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        tail = "\n".join((result.stderr or result.stdout).strip().splitlines()[-15:])
        name = "fttui" if command[1] == "-m" else Path(command[1]).name
        print(f"  {name} failed (exit {result.returncode}):\n{tail}")
        return None
    return result.stdout


def run_plain(model: Path, files: dict, work: Path, env: dict) -> dict | None:
    out = run([sys.executable, str(ROOT / "bench" / "plain_trl.py"), str(model), str(files["train"]),
               str(files["eval"]), str(work / "plain-run")], env)
    return None if out is None else json.loads(out.strip().splitlines()[-1])


def trained_tokens_from_cache(cache: Path) -> int | None:
    """Tokens with a label in the train split fttui prepared (the only entry of this run's data cache)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    entries = sorted(cache.glob("datasets/*/train.arrow"))
    if len(entries) != 1:
        return None
    try:
        with pa.OSFile(str(entries[0])) as source:
            table = pa.ipc.open_stream(source).read_all()
        labels = pc.list_flatten(table.column("labels"))
        return int(pc.sum(pc.not_equal(labels, -100)).as_py() or 0)
    except (OSError, KeyError, pa.ArrowException):
        return None


def run_fttui(model: Path, files: dict, work: Path, env: dict) -> dict | None:
    preset = {
        "model": {"name": str(model), "task": "causal-lm"},
        "data": {"train": str(files["train"]), "eval": str(files["eval"]), "format": "chat"},
        "method": {"name": "lora", "lora_r": LORA["r"], "lora_alpha": LORA["alpha"], "lora_dropout": LORA["dropout"]},
        "training": {"epochs": 1, "batch_size": BATCH, "learning_rate": LR, "max_length": MAX_LENGTH,
                     "baseline_eval": False, "sample_prompts": 0, "save_steps": 100000},
    }
    path, out, cache = work / "fttui.yaml", work / "fttui-run", work / "fttui-cache"
    path.write_text(yaml.safe_dump(preset, sort_keys=False), encoding="utf-8")
    command = [sys.executable, "-m", "fttui", "--preset", str(path), "--output-dir", str(out), "--json"]
    if run(command, {**env, "FTTUI_CACHE": str(cache)}) is None:
        return None
    try:
        summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        print(f"  fttui wrote no readable summary.json ({error})")
        return None
    return {"train_runtime_s": summary["train_runtime_s"], "train_rows": summary["train_rows"],
            "trained_tokens": trained_tokens_from_cache(cache), "eval_loss": summary.get("eval_loss"),
            "global_step": summary.get("global_step"), "truncated_rows": summary.get("truncated_rows"),
            "packing": summary.get("packing", "(not in summary)"),
            "precision": f"{summary.get('precision')} (fttui default)"}


def rates(result: dict) -> tuple[float, float | None]:
    runtime = max(result["train_runtime_s"], 1e-9)
    tokens = result["trained_tokens"]
    return result["train_rows"] / runtime, (tokens / runtime if tokens is not None else None)


def report(workload: str, files: dict, plain: dict, ours: dict) -> bool:
    print(f"{'':11}{'rows':>6}{'steps':>6}{'runtime s':>11}{'samples/s':>11}{'trained tok':>13}{'tokens/s':>10}"
          f"{'eval loss':>11}  precision")
    for name, result in (("plain TRL", plain), ("fttui", ours)):
        samples, tokens = rates(result)
        print(f"{name:11}{result['train_rows']:>6}{result['global_step']:>6}{result['train_runtime_s']:>11.1f}"
              f"{samples:>11.2f}{result['trained_tokens'] if result['trained_tokens'] is not None else 'n/a':>13}"
              f"{f'{tokens:.0f}' if tokens is not None else 'n/a':>10}"
              f"{result['eval_loss'] if result['eval_loss'] is not None else float('nan'):>11.4f}"
              f"  {result['precision']}")
    print(f"fttui packing: {ours['packing']}; rows fttui truncated: {ours['truncated_rows']}")
    (plain_samples, plain_tokens), (our_samples, our_tokens) = rates(plain), rates(ours)
    sample_ratio = our_samples / plain_samples
    token_ratio = our_tokens / plain_tokens if our_tokens is not None and plain_tokens else None
    loss_change = (100 * (ours["eval_loss"] / plain["eval_loss"] - 1)
                   if ours["eval_loss"] is not None and plain["eval_loss"] else None)
    target = TARGETS[workload]
    speed_met = sample_ratio >= target and (token_ratio is None or token_ratio >= target)
    loss_met = loss_change is not None and loss_change <= 1.0
    print(f"ratio fttui/plain: samples/s {sample_ratio:.2f}x, tokens/s "
          f"{f'{token_ratio:.2f}x' if token_ratio is not None else 'n/a'} (target >= {target:g}x: "
          f"{'met' if speed_met else 'NOT met'}); eval loss "
          f"{f'{loss_change:+.2f}%' if loss_change is not None else 'n/a'} (target <= +1%: "
          f"{'met' if loss_met else 'NOT met'})")
    return speed_met and loss_met


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workload", choices=("chat", "alpaca", "both"), default="both")
    parser.add_argument("--rows", type=int, default=None,
                        help=f"train rows per workload (default: chat {DEFAULT_ROWS['chat']}, "
                             f"alpaca {DEFAULT_ROWS['alpaca']})")
    args = parser.parse_args()
    if args.rows is not None and args.rows < 8:
        parser.error("--rows must be at least 8 (one batch)")
    if not all(path.is_file() for path in FILES.values()):
        print(f"skipped: {SHARED} (preference/kto_en_demo.jsonl, alpaca/sample.jsonl) not found "
              "(the shared data folder sits next to the repository)")
        return 0
    import torch

    workloads = ("chat", "alpaca") if args.workload == "both" else (args.workload,)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    verdicts = {}
    with tempfile.TemporaryDirectory(prefix="fttui-bench-trl-") as tmp:
        work = Path(tmp)
        tokenizer, params = build_model(work / "model")
        env["HF_DATASETS_CACHE"] = str(work / "hf-datasets")
        print(torch_build())
        print(f"model: random Llama, {params / 1e6:.1f}M parameters (hidden 384, 8 layers, MLP 1024, vocab "
              f"{len(tokenizer)}), ChatML template with generation markers; LoRA r={LORA['r']} "
              f"alpha={LORA['alpha']} dropout {LORA['dropout']} on all linear layers; batch {BATCH}, max length "
              f"{MAX_LENGTH}, lr {LR:g}, 1 epoch; torch threads {torch.get_num_threads()}")
        for workload in workloads:
            files = split(workload, tokenizer, args.rows, work / workload)
            print(f"\nworkload {workload}: {FILES[workload].relative_to(SHARED.parent.parent)}, "
                  f"{files['train_rows']} train / {files['eval_rows']} eval conversations, "
                  f"{files['overlong']} train rows over {MAX_LENGTH} tokens", flush=True)
            plain = run_plain(work / "model", files, work / workload, env)
            ours = run_fttui(work / "model", files, work / workload, env) if plain is not None else None
            if plain is None or ours is None:
                verdicts[workload] = False
                continue
            verdicts[workload] = report(workload, files, plain, ours)
    print("\n" + "; ".join(f"{name}: {'all targets met' if ok else 'targets NOT met'}"
                           for name, ok in verdicts.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
