"""`fttui hardware` and `fttui recommend` through the real CLI entry point: output shape and exit codes."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

import fttui.planning as planning
from fttui.cli import main
from fttui.planning.memory import METHODS


@pytest.fixture
def llama_config(tmp_path, llama8b_config) -> Path:
    path = tmp_path / "llama-3-8b" / "config.json"
    path.parent.mkdir()
    path.write_text(json.dumps(llama8b_config))
    return path


def run_json(capsys, *argv) -> dict:
    assert main(list(argv)) == 0
    return json.loads(capsys.readouterr().out)


def test_hardware_json(capsys):
    data = run_json(capsys, "hardware", "--json")
    assert {"gpus", "cpu", "ram_total_gb", "disk_free_gb"} <= set(data)


def test_hardware_table(capsys):
    assert main(["hardware"]) == 0
    out = capsys.readouterr().out
    assert "CPU" in out and "RAM" in out


def test_recommend_json_shape_for_the_builtin_model(capsys, tmp_path):
    data = run_json(capsys, "recommend", "--json", "--seq-len", "128", "--runs-dir", str(tmp_path))
    assert data["model"]["total_params"] == 22_713_216
    assert data["recommended"] in {m["method"] for m in data["methods"]}
    assert len(data["methods"]) == len(METHODS)
    for method in data["methods"]:
        required = {"method", "estimated_gb", "fits", "reason", "breakdown", "trainable_params", "batch_size"}
        assert required <= set(method)
        assert set(method["breakdown"]) >= {"weights", "gradients", "optimizer", "activations", "logits"}
        assert isinstance(method["fits"], bool) and method["batch_size"] >= 1


def test_recommend_with_gpu_memory_override(capsys, llama_config):
    data = run_json(capsys, "recommend", "--model", str(llama_config.parent), "--gpu-memory", "24", "--json")
    by = {m["method"]: m for m in data["methods"]}
    assert data["recommended"] == "lora" and data["budget"]["device"] == "cuda"
    assert not by["full"]["fits"] and by["qlora"]["fits"]
    assert data["settings"]["task"] == "causal-lm" and data["settings"]["seq_len"] == 512


def test_recommend_flags_reach_the_estimate(capsys, llama_config):
    data = run_json(capsys, "recommend", "--model", str(llama_config), "--gpu-memory", "80", "--gpus", "8",
                    "--lora-r", "64", "--lora-targets", "q_proj,k_proj", "--batch-size", "2",
                    "--no-gradient-checkpointing", "--json")
    lora = next(m for m in data["methods"] if m["method"] == "lora")
    assert lora["trainable_params"] == 32 * 64 * ((4096 + 4096) + (4096 + 1024))
    assert lora["batch_size"] == 2 and lora["gradient_checkpointing"] is False
    assert data["budget"]["count"] == 8 and "DDP" in lora["multi_gpu"]


def test_recommend_table(capsys, llama_config):
    assert main(["recommend", "--model", str(llama_config), "--gpu-memory", "12"]) == 0
    out = capsys.readouterr().out
    assert "QLoRA" in out and "recommended" in out


@pytest.mark.parametrize("argv,message", [
    (["--seq-len", "0"], "--seq-len must be greater than 0"),
    (["--batch-size", "-2"], "--batch-size must be greater than 0"),
    (["--gpu-memory", "0"], "--gpu-memory must be greater than 0"),
    (["--gpus", "0"], "--gpus must be greater than 0"),
    (["--lora-targets", "q_proj"], "not a linear layer"),
    (["--seq-len", "4096"], "longer than"),
    (["--task", "causal-lm"], "encoder"),
    (["--lora-r", "0"], "--lora-r must be greater than 0"),
])
def test_bad_flags_exit_2_without_traceback(capsys, argv, message):
    assert main(["recommend", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and "Traceback" not in err


def test_gpus_without_gpus_or_gpu_memory_is_a_usage_error(capsys, monkeypatch):
    from fttui import hardware

    monkeypatch.setattr(hardware, "detect_gpus", lambda: ([], None, None, "no NVML"))
    assert main(["recommend", "--gpus", "2"]) == 2
    assert "--gpu-memory" in capsys.readouterr().err


def test_bad_model_references_exit_2(capsys, tmp_path, monkeypatch):
    import huggingface_hub

    (tmp_path / "empty").mkdir()
    (tmp_path / "partial.json").write_text(json.dumps({"model_type": "llama", "hidden_size": 64}))
    monkeypatch.setattr(huggingface_hub, "try_to_load_from_cache", lambda *a, **k: None)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # the hub unreachable, known at once
    cases = [(str(tmp_path / "nope"), "no such file"), (str(tmp_path / "empty"), "no config.json"),
             (str(tmp_path / "partial.json"), "missing"), ("org/unknown-model", "can't be reached")]
    for model, message in cases:
        assert main(["recommend", "--model", model, "--json"]) == 2
        captured = capsys.readouterr()
        assert message in captured.err and "hint: " in captured.err
        (line,) = captured.out.splitlines()  # --json: the failure is one event on stdout, nothing else
        assert json.loads(line)["event"] == "failed" and message in json.loads(line)["message"]
