"""Preparing data costs a batch of memory, not the file: the peak RSS of a process that prepares a 4x bigger
file hardly grows (rows used to be held as Python lists: about 50 bytes of memory per byte of data)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

PREPARE = """
import json, resource, sys
from fttui.config import validate_config
from fttui.engine.data.dataset import prepare_data
from fttui.engine.models.loading import load_tokenizer, resolve_model
model, train, task = sys.argv[1:4]
config = validate_config({"model": {"name": model, "task": task}, "data": {"train": train, "eval": 0.05},
                          "training": {"max_length": 128, "sample_prompts": 0}})
data = prepare_data(config, task, load_tokenizer(resolve_model(model), config))
print(json.dumps({"rows": len(data.train) + len(data.eval),
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def peak_mb(model: str, path, task: str, cache) -> dict:
    result = subprocess.run([sys.executable, "-c", PREPARE, model, str(path), task], capture_output=True, text=True,
                            env={**os.environ, "FTTUI_CACHE": str(cache), "TOKENIZERS_PARALLELISM": "false"},
                            timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def write_rows(path, make, megabytes: float) -> int:
    size, count = 0, 0
    with path.open("w", encoding="utf-8") as handle:
        while size < megabytes * 1_000_000:
            line = json.dumps(make(count)) + "\n"
            handle.write(line)
            size, count = size + len(line), count + 1
    return count


def review(i: int) -> dict:
    words = " ".join(f"word{(i * 7 + k) % 997}" for k in range(120))
    return {"text": f"review {i}: {words}", "label": ["neg", "pos"][i % 2]}


def conversation(i: int) -> dict:
    return {"messages": [{"role": "user", "content": f"question {i}: " + "tell me more " * 40},
                         {"role": "assistant", "content": f"answer {i}: " + "here is more " * 20}]}


def _assert_flat(small: dict, big: dict, rows_small: int, rows_big: int) -> None:
    """4x the file: lists of rows would add hundreds of MB (about 50x the added bytes); batches add nothing
    that scales with the file, so the peak may grow by a few percent at most."""
    print(f"peak RSS: {small} vs {big}")
    assert (small["rows"], big["rows"]) == (rows_small, rows_big)
    assert big["peak_mb"] - small["peak_mb"] < 0.1 * small["peak_mb"], (small, big)


@pytest.mark.slow
def test_classification_memory_does_not_grow_with_the_file(tmp_path, tiny_bert):
    rows_small = write_rows(tmp_path / "small.jsonl", review, 4)
    rows_big = write_rows(tmp_path / "big.jsonl", review, 16)
    small = peak_mb(tiny_bert, tmp_path / "small.jsonl", "seq-cls", tmp_path / "cache")
    big = peak_mb(tiny_bert, tmp_path / "big.jsonl", "seq-cls", tmp_path / "cache")
    _assert_flat(small, big, rows_small, rows_big)


@pytest.mark.slow
def test_chat_memory_does_not_grow_with_the_file(tmp_path, tiny_llama):
    rows_small = write_rows(tmp_path / "small.jsonl", conversation, 2)
    rows_big = write_rows(tmp_path / "big.jsonl", conversation, 8)
    small = peak_mb(tiny_llama, tmp_path / "small.jsonl", "causal-lm", tmp_path / "cache")
    big = peak_mb(tiny_llama, tmp_path / "big.jsonl", "causal-lm", tmp_path / "cache")
    _assert_flat(small, big, rows_small, rows_big)
