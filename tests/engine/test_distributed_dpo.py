"""DPO on two training processes (torchrun, DDP over gloo on CPU) through the real CLI, as SFT and classification run.

DPO's loss is a mean over the batch's pairs, and its reference is the same model with the adapter off on every
rank, so with LoRA dropout off, a fixed seed and the per-device batch halved, two ranks must log the losses of
one process over the same global batches (the DistributedSampler deals batch 2k to rank 0 and 2k+1 to rank 1).
It would not if a rank scored its pairs against another reference, or if rank 0 alone set the loss.
"""
from __future__ import annotations

import json

import pytest
import yaml
from test_distributed import TOLERANCE, _cli, _losses
from test_preference import pair_rows, write

from fttui.config import validate_config
from fttui.engine.sink import ListSink
from fttui.engine.training.recipe import run
from fttui.events import Evaluated, StepLogged

STEPS = 6


def _raw(model, train, eval_, batch_size):
    return {
        "model": {"name": model, "task": "causal-lm"},
        "data": {"train": train, "eval": eval_},
        "method": {"name": "lora", "lora_dropout": 0.0},
        "training": {"objective": "dpo", "max_steps": STEPS, "batch_size": batch_size, "learning_rate": 1e-2,
                     "max_length": 48, "logging_steps": 1, "eval_steps": STEPS, "save_steps": 1000,
                     "precision": "fp32", "seed": 3, "sample_prompts": 0, "beta": 0.1, "baseline_eval": False,
                     "group_by_length": False},
    }


@pytest.mark.slow
def test_dpo_on_two_ranks_matches_one_process(tmp_path, tiny_llama):
    train = write(tmp_path / "pairs.jsonl", pair_rows(48, seed=1))
    held_out = write(tmp_path / "held-out.jsonl", pair_rows(16, seed=2))
    single_dir = tmp_path / "single"
    single_dir.mkdir()
    sink = ListSink()
    run(validate_config(_raw(tiny_llama, train, held_out, 4)), single_dir, sink)
    expected = {e.step: e.loss for e in sink.events if isinstance(e, StepLogged)}
    single_eval = [e.metrics for e in sink.events if isinstance(e, Evaluated)][-1]

    out = tmp_path / "ddp"
    proc = _cli(tmp_path, _raw(tiny_llama, train, held_out, 2), out, "--nproc", "2")
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr + (out / "train.log").read_text()
    events = [json.loads(line) for line in stdout.splitlines()]
    summary = json.loads((out / "summary.json").read_text())
    assert (summary["world_size"], summary["distributed"], summary["global_step"]) == (2, "ddp", STEPS)
    assert (out / "adapter" / "adapter_model.safetensors").is_file()
    assert f"trained {STEPS} steps on rank 1 of 2 (completed)" in (out / "train.log").read_text()

    got = _losses(events)
    assert sorted(got) == sorted(expected) == list(range(1, STEPS + 1))
    worst = max(abs(got[step] - expected[step]) for step in expected)
    print(f"largest DPO loss difference, 2 ranks vs 1 process, over {STEPS} steps: {worst:.2e}")  # shown with -s
    assert worst <= TOLERANCE, f"ddp {got} vs single {expected}"
    assert got[STEPS] < got[1]  # it learned the preference: DPO's loss starts at log 2 and falls
    final = [e["metrics"] for e in events if e["event"] == "eval"][-1]
    assert final["rewards/margins"] == pytest.approx(single_eval["rewards/margins"], rel=1e-3, abs=1e-5)
    assert yaml.safe_load((out / "config.yaml").read_text())["training"]["objective"] == "dpo"
