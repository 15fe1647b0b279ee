"""Export: the adapter as is, a merged model that plain transformers loads with the same outputs, atomic writes."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest
import torch

from fttui.config import validate_config
from fttui.engine.models.loading import load_base
from fttui.engine.trained.export import export_run
from fttui.engine.training.recipe import run
from fttui.engine.sink import ListSink
from fttui.errors import ConfigError
from fttui.runner.run_dir import create_run_dir

BATCH = {"input_ids": torch.tensor([[101, 1996, 2518, 2001, 2204, 102]]), "attention_mask": torch.ones(1, 6, dtype=torch.long)}


def _train(tmp_path, model, task, method, train, name="run", **method_settings):
    run_dir = tmp_path / name
    config = validate_config({
        "model": {"name": model, "task": task}, "data": {"train": train, "eval": None},
        "method": {"name": method, **method_settings},
        "training": {"max_steps": 6, "batch_size": 8, "learning_rate": 3e-2, "precision": "fp32", "save_steps": 100},
        "output": {"dir": str(run_dir)},
    })
    create_run_dir(config)
    run(config, run_dir, ListSink())
    return run_dir, config


def _adapter_on_base(run_dir, config, task, dtype=torch.float32):
    from peft import PeftModel

    labels = json.loads((run_dir / "adapter" / "labels.json").read_text()) if task == "seq-cls" else None
    return PeftModel.from_pretrained(load_base(config, task, labels, dtype), run_dir / "adapter").eval()


@pytest.mark.parametrize("task,method", [("seq-cls", "lora"), ("causal-lm", "qlora")])
def test_merged_model_matches_adapter_on_base(tmp_path, tiny_bert, tiny_llama, sentiment_file, alpaca_file, task, method):
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification

    model, train = (tiny_bert, sentiment_file) if task == "seq-cls" else (tiny_llama, alpaca_file)
    run_dir, config = _train(tmp_path, model, task, method, train)
    result = export_run(run_dir, tmp_path / "merged", merge=True, dtype="float32")
    assert result["kind"] == "merged model"
    if method == "qlora":
        assert "not into its quantized weights" in result["notes"][0]
    auto = AutoModelForSequenceClassification if task == "seq-cls" else AutoModelForCausalLM
    merged = auto.from_pretrained(tmp_path / "merged").eval()  # plain transformers, no peft
    assert list((tmp_path / "merged").glob("*.safetensors"))
    with torch.no_grad():
        expected = _adapter_on_base(run_dir, config, task)(**BATCH).logits
        actual = merged(**BATCH).logits
    assert torch.allclose(expected, actual, atol=1e-4), (expected - actual).abs().max()

    export_run(run_dir, tmp_path / "merged-bf16", merge=True, dtype="bfloat16")
    half = auto.from_pretrained(tmp_path / "merged-bf16", dtype=torch.bfloat16).eval()
    assert next(half.parameters()).dtype == torch.bfloat16
    with torch.no_grad():
        assert torch.allclose(half(**BATCH).logits.float(), expected, atol=5e-2)


def test_adapter_export_and_refusals(tmp_path, tiny_bert, sentiment_file):
    run_dir, _ = _train(tmp_path, tiny_bert, "seq-cls", "prompt", sentiment_file, num_virtual_tokens=4)
    result = export_run(run_dir, tmp_path / "adapter-out")
    assert result["kind"] == "adapter"
    assert (tmp_path / "adapter-out" / "adapter_model.safetensors").is_file()
    assert (tmp_path / "adapter-out" / "README.md").is_file()
    with pytest.raises(ConfigError, match="cannot be merged"):
        export_run(run_dir, tmp_path / "x", merge=True)
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep me")
    with pytest.raises(ConfigError, match="holds files fttui did not write: notes.txt"):
        export_run(run_dir, precious)
    assert (precious / "notes.txt").read_text() == "keep me"


KILL_SCRIPT = """
import sys, time
from pathlib import Path
from transformers import PreTrainedTokenizerBase
original = PreTrainedTokenizerBase.save_pretrained
def slow(self, path, *a, **k):
    result = original(self, path, *a, **k)
    Path(path, "WRITING").write_text("")
    time.sleep(60)
    return result
PreTrainedTokenizerBase.save_pretrained = slow
from fttui.engine.trained.export import export_run
export_run(Path(sys.argv[1]), Path(sys.argv[2]), merge=True)
"""


def test_killed_export_leaves_previous_export_intact(tmp_path, tiny_bert, sentiment_file):
    run_dir, _ = _train(tmp_path, tiny_bert, "seq-cls", "lora", sentiment_file)
    out = tmp_path / "export"
    export_run(run_dir, out, merge=True)
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    proc = subprocess.Popen([sys.executable, "-c", KILL_SCRIPT, str(run_dir), str(out)])
    deadline = time.monotonic() + 120
    while not list(tmp_path.glob(".export.*.tmp/WRITING")):
        assert proc.poll() is None and time.monotonic() < deadline, "the export never reached its write"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    after = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    assert after == before
