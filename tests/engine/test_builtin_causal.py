"""The built-in MiniLM as a causal LM with QLoRA: its BERT LM head shares the embeddings' weight and must stay
unquantized (it crashed with "'Parameter' object has no attribute 'compress_statistics'", issue 19)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest


@pytest.mark.parametrize("bits", [4, 8])
def test_qlora_on_the_builtin_model_as_a_causal_lm_plans(tmp_path, alpaca_file, bits):
    result = subprocess.run(
        [sys.executable, "-m", "fttui", "--preset", "quickstart", "--set", "model.task=causal-lm",
         "--set", "method.name=qlora", "--set", f"method.quant_bits={bits}", "--set", f"data.train={alpaca_file}",
         "--set", "data.eval=0.25", "--dry-run", "--json"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path, env=dict(os.environ, HF_HUB_OFFLINE="1"))
    assert result.returncode == 0, result.stderr
    plan = next(e for e in map(json.loads, result.stdout.splitlines()) if e["event"] == "plan")
    assert plan["task"] == "causal-lm" and plan["method"] == "qlora" and plan["trainable_params"] > 0
