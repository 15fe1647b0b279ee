"""``--nproc`` and the other torchrun flags: the launcher command, and bad values as exit code 2 without a
traceback or a run folder (all caught before any process starts, so no torch is loaded)."""
from __future__ import annotations

import os
import subprocess
import sys
from types import SimpleNamespace

import pytest

from fttui.config import validate_config
from fttui.errors import ConfigError
from fttui.runner.distributed import (RankLayout, check_deepspeed_config, check_launch, cpu_count, launch_from_args,
                                      launcher_command)

ROWS = [{"text": "good fun", "label": "a"}, {"text": "bad day", "label": "b"}]


@pytest.fixture
def preset(tmp_preset):
    return tmp_preset({"model": {"name": "builtin", "task": "seq-cls"}, "data": {"train": "train.jsonl", "eval": None},
                       "training": {"max_steps": 1, "batch_size": 2}}, files={"train.jsonl": ROWS})


def run_cli(tmp_path, *args):
    env = dict(os.environ, HF_HUB_OFFLINE="1", NO_COLOR="1")
    return subprocess.run([sys.executable, "-m", "fttui", *args], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=60)


@pytest.mark.parametrize("flags, needle", [
    (["--nproc", "0"], "--nproc must be 1 or more, got 0"),
    (["--nproc", "-2"], "--nproc must be 1 or more, got -2"),
    (["--nproc", "4096"], "is more than the"),
    (["--nproc", "2", "--nnodes", "2"], "--nnodes 2 needs --master-addr"),
    (["--nproc", "1", "--nnodes", "2", "--node-rank", "2", "--master-addr", "h"], "--node-rank must be between 0 and 1"),
    (["--nproc", "2", "--master-port", "70000"], "--master-port must be a TCP port"),
    (["--master-addr", "10.0.0.1"], "need --nproc N or --nnodes N"),
    (["--nproc", "2", "--set", "training.distributed=fsdp"], "needs GPUs"),
    (["--nproc", "2", "--set", "training.distributed=deepspeed"], "training.deepspeed_config is not set"),
    (["--set", "training.distributed=fsdp", "--set", "method.name=qlora"], "cannot shard QLoRA"),
])
def test_bad_launch_flags_are_usage_errors(tmp_path, preset, flags, needle):
    result = run_cli(tmp_path, "--preset", str(preset), *flags)
    context = f"exit {result.returncode}\n{result.stderr}"
    assert result.returncode == 2, context
    assert needle in result.stderr and "hint:" in result.stderr, context
    assert "Traceback" not in result.stderr, context
    assert not (tmp_path / "runs").exists(), "a run folder was created for a bad flag"


def test_launch_flags_need_a_preset(tmp_path):
    result = run_cli(tmp_path, "--nproc", "2")
    assert result.returncode == 2 and "need --preset or --resume" in result.stderr and "Traceback" not in result.stderr


def test_one_machine_lets_torchrun_pick_a_free_port():
    command = launcher_command(RankLayout(nproc=2), "fttui.engine.worker", ["--config", "c.yaml"])
    assert command[:3] == [sys.executable, "-m", "torch.distributed.run"]
    assert command[3:] == ["--nproc-per-node", "2", "--standalone", "-m", "fttui.engine.worker", "--config", "c.yaml"]


def test_two_machines_pass_rendezvous_flags_through():
    launch = launch_from_args(SimpleNamespace(nproc=8, nnodes=2, node_rank=1, master_addr="10.0.0.1", master_port=29400))
    assert (launch.world_size, launch.reports) == (16, False)
    command = launcher_command(launch, "w", [])
    assert command[3:] == ["--nproc-per-node", "8", "--nnodes", "2", "--node-rank", "1", "--master-addr", "10.0.0.1",
                           "--master-port", "29400", "-m", "w"]


def test_fixed_port_on_one_machine():
    command = launcher_command(RankLayout(nproc=2, master_port=29600), "w", [])
    assert "--standalone" not in command and command[-6:] == ["--master-addr", "127.0.0.1", "--master-port", "29600", "-m", "w"]


def test_nproc_is_checked_against_visible_gpus(monkeypatch):
    config = validate_config({"data": {"train": "x.jsonl"}})
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1")
    check_launch(RankLayout(nproc=2), config)
    with pytest.raises(ConfigError, match="--nproc 3 is more than the 2 GPUs"):
        check_launch(RankLayout(nproc=3), config)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")  # no GPU visible: the CPU cores are the limit
    with pytest.raises(ConfigError, match="CPU cores"):
        check_launch(RankLayout(nproc=cpu_count() + 1), config)
    check_launch(RankLayout(nproc=1), config)  # one process: nothing to check


@pytest.mark.parametrize("training, needle", [
    ({"deepspeed_config": "ds.json"}, "training.distributed is not deepspeed"),
    ({"fsdp_cpu_offload": True}, "apply only with training.distributed=fsdp"),
    ({"distributed": "fsdp", "device": "cpu"}, "needs GPUs"),
])
def test_distributed_settings_that_cannot_work_are_config_errors(training, needle):
    with pytest.raises(ConfigError, match=needle):
        validate_config({"data": {"train": "x.jsonl"}, "training": training})


@pytest.mark.skipif(__import__("importlib").util.find_spec("deepspeed") is not None, reason="DeepSpeed is installed")
def test_deepspeed_must_be_installed(monkeypatch, tmp_path):
    (tmp_path / "ds.json").write_text("{}")
    config = validate_config({"data": {"train": "x.jsonl"},
                              "training": {"distributed": "deepspeed", "deepspeed_config": str(tmp_path / "ds.json")}})
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1")
    with pytest.raises(ConfigError, match="DeepSpeed is not installed"):
        check_launch(RankLayout(nproc=2), config)


def test_zero3_config_must_gather_weights_for_saving(tmp_path):
    path = tmp_path / "ds.json"
    path.write_text('{"zero_optimization": {"stage": 3}}')
    with pytest.raises(ConfigError, match="stage3_gather_16bit_weights_on_model_save"):
        check_deepspeed_config(str(path))
    path.write_text('{"zero_optimization": {"stage": 3, "stage3_gather_16bit_weights_on_model_save": true}}')
    check_deepspeed_config(str(path))
    path.write_text("{not json")
    with pytest.raises(ConfigError, match="cannot read"):
        check_deepspeed_config(str(path))
