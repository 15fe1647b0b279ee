"""Offline, planning answers at once from the bundled configs, and a dry run names every problem in one go."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fttui import offline
from fttui.config import load_config
from fttui.errors import ConfigError, DataError, FttuiError, NetworkError
from fttui.runner.checks import check_before_start
from fttui.runner.distributed import RankLayout, cpu_count

PRESETS = Path(__file__).parents[2] / "fttui" / "presets"
HUB_PRESETS = ["full-bert-classifier", "lora-1b-chat", "qlora-8b-instruct-24gb", "fsdp-8gpu"]
BOUND_S = 10  # measured: 1.4-2.0 s each on 2 shared cores; the bound only catches a return of the 30 s waits


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again when we return: connecting is refused at once


@pytest.fixture
def no_hub(monkeypatch, tmp_path):
    """The hub unreachable (a closed localhost port) and an empty hub cache; the verdict forgotten around."""
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{closed_port()}")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    for name in ("HTTPS_PROXY", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    offline.forget()
    yield dict(os.environ, NO_COLOR="1", HF_HUB_CACHE=str(tmp_path / "hf-home" / "hub"))
    offline.forget()


def run_cli(args, env, cwd):
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "fttui", *args], capture_output=True, text=True, env=env,
                            cwd=cwd, timeout=120)
    return result, time.monotonic() - started


def test_offline_is_detected_once_quickly_and_remembered(no_hub, monkeypatch):
    started = time.monotonic()
    reason = offline.hub_offline()
    assert reason and "127.0.0.1" in reason and time.monotonic() - started < 2.5
    monkeypatch.setattr(offline, "_probe", lambda timeout: pytest.fail("probed twice"))
    assert offline.hub_offline() == reason
    assert offline.child_env() == {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert offline.hub_offline() == "HF_HUB_OFFLINE=1"


def test_recommend_plans_a_real_model_offline_from_the_bundled_config(no_hub, tmp_path):
    result, took = run_cli(["recommend", "--model", "meta-llama/Meta-Llama-3-8B", "--gpu-memory", "24"], no_hub,
                           tmp_path)
    assert result.returncode == 0, result.stderr
    assert took < BOUND_S
    assert "8,030.3M parameters" in result.stdout
    assert "planned from the bundled config of meta-llama/Meta-Llama-3-8B, taken 20" in result.stdout
    unknown, _ = run_cli(["recommend", "--model", "nobody/nothing"], no_hub, tmp_path)
    assert unknown.returncode == 2 and "neither cached nor bundled" in unknown.stderr
    assert "Qwen/Qwen2.5-7B" in unknown.stderr  # the hint lists what is bundled


@pytest.mark.parametrize("preset", HUB_PRESETS)
def test_dry_run_of_a_hub_preset_fails_fast_naming_every_problem(no_hub, tmp_path, preset):
    result, took = run_cli(["--preset", preset, "--dry-run"], no_hub, tmp_path)
    assert took < BOUND_S, f"{preset}: {took:.1f} s"
    assert result.returncode == 5, result.stderr  # NETWORK: nothing local is wrong
    config = load_config(preset, [])
    assert f"model.name: {config.model.name} is not in the local hub cache" in result.stderr
    assert f"data.train: hub dataset {config.data.train} is not in the local cache" in result.stderr
    assert f"planned from the bundled config of {config.model.name}, taken 20" in result.stderr


def test_local_problems_are_reported_together_without_touching_the_network(tmp_path, tmp_preset, monkeypatch):
    monkeypatch.setattr(offline, "_probe", lambda timeout: pytest.fail("touched the network"))
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")  # no GPU, wherever the test runs
    rows = [{"instruction": "say hi", "output": "hi"}] * 4
    preset = tmp_preset({"model": {"name": "builtin", "task": "causal-lm"},
                         "data": {"train": "train.jsonl", "eval": "test_sft"},
                         "training": {"distributed": "fsdp"}}, files={"train.jsonl": rows})
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "old.txt").write_text("x")
    with pytest.raises(FttuiError) as info:
        check_before_start(load_config(str(preset), []), RankLayout(nproc=cpu_count() + 1), str(tmp_path / "out"))
    message = info.value.message
    assert type(info.value) is ConfigError and message.startswith("4 problems")
    for part in (f"--nproc {cpu_count() + 1} is more than", "training.distributed=fsdp needs GPUs",
                 "is not empty", "'test_sft' is a split name, which needs a hub dataset in data.train"):
        assert part in message
    assert "give an eval file" in message and "data.eval=0.1" in message


def test_an_eval_file_in_another_format_is_named(tmp_preset):
    preset = tmp_preset({"model": {"name": "builtin", "task": "causal-lm"},
                         "data": {"train": "train.jsonl", "eval": "eval.jsonl"}},
                        files={"train.jsonl": [{"instruction": "a", "output": "b"}],
                               "eval.jsonl": [{"messages": [{"role": "user", "content": "a"}]}]})
    with pytest.raises(DataError, match="holds chat rows, but data.train .* holds alpaca rows"):
        check_before_start(load_config(str(preset), []))


def test_a_classifier_eval_file_without_the_label_column_is_named(tmp_preset):
    preset = tmp_preset({"model": {"name": "builtin"}, "data": {"train": "train.csv", "eval": "eval.csv"}},
                        files={"train.csv": "text,label\ngood,1\n", "eval.csv": "text,stars\nbad,0\n"})
    with pytest.raises(DataError, match="has no label column"):
        check_before_start(load_config(str(preset), []))


def test_a_hub_model_that_is_cached_is_no_problem_offline(monkeypatch, tmp_preset):
    import huggingface_hub

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub, "try_to_load_from_cache", lambda repo, name, revision=None: f"/c/{name}")
    preset = tmp_preset({"model": {"name": "Qwen/Qwen2.5-0.5B"}, "data": {"train": "t.jsonl"}},
                        files={"t.jsonl": [{"text": "hello"}]})
    check_before_start(load_config(str(preset), []))  # nothing raised


def test_one_network_problem_keeps_its_kind_and_gains_the_plan(monkeypatch, tmp_preset):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", "/nonexistent-hub-cache")
    import huggingface_hub

    monkeypatch.setattr(huggingface_hub, "try_to_load_from_cache", lambda *a, **k: None)
    preset = tmp_preset({"model": {"name": "Qwen/Qwen2.5-0.5B", "task": "causal-lm"},
                         "data": {"train": "t.jsonl"}}, files={"t.jsonl": [{"text": "hello"}]})
    with pytest.raises(NetworkError) as info:
        check_before_start(load_config(str(preset), []))
    assert "HF_HUB_OFFLINE=1" in info.value.message
    assert "planned from the bundled config of Qwen/Qwen2.5-0.5B" in info.value.hint
