"""Graceful stop through the real CLI, and response-only loss for instruction and chat data."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import yaml

from fttui.config import validate_config
from fttui.engine.data.dataset import prepare_data
from fttui.engine.models.loading import load_tokenizer, resolve_model


def test_sigint_saves_checkpoint_and_exits_130(tmp_path, tiny_bert, sentiment_file):
    preset = tmp_path / "long.yaml"
    preset.write_text(yaml.safe_dump({
        "model": {"name": tiny_bert, "task": "seq-cls"},
        "data": {"train": sentiment_file, "eval": None},
        "method": {"name": "lora"},
        "training": {"max_steps": 5000, "batch_size": 4, "logging_steps": 1, "save_steps": 100000},
    }))
    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "fttui", "--preset", str(preset), "--output-dir", str(out), "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    events = []
    deadline = time.monotonic() + 120
    for line in proc.stdout:
        events.append(json.loads(line))
        if events[-1]["event"] == "step" and events[-1]["step"] >= 3:
            proc.send_signal(signal.SIGINT)
            break
        assert time.monotonic() < deadline, "no training steps within 120 s"
    events += [json.loads(line) for line in proc.stdout]
    code = proc.wait(timeout=120)
    stderr = proc.stderr.read()
    assert code == 130, stderr
    assert "Traceback" not in stderr
    finished = [e for e in events if e["event"] == "finished"]
    assert finished and finished[0]["status"] == "stopped"
    checkpoints = [e for e in events if e["event"] == "checkpoint"]
    assert checkpoints, "a stop must save a checkpoint"
    step = checkpoints[-1]["step"]
    assert 3 <= step < 5000
    ckpt = out / "checkpoints" / f"checkpoint-{step}"
    assert (ckpt / "adapter_model.safetensors").is_file() and (ckpt / "trainer_state.json").is_file()
    assert json.loads((out / "summary.json").read_text())["status"] == "stopped"
    assert (out / "adapter" / "adapter_model.safetensors").is_file()


def _prepared(model_path, train_file, fmt="auto"):
    config = validate_config({"model": {"name": model_path, "task": "causal-lm"},
                              "data": {"train": train_file, "eval": None, "format": fmt},
                              "training": {"max_length": 128}})
    tokenizer = load_tokenizer(resolve_model(model_path), config)
    return prepare_data(config, "causal-lm", tokenizer), tokenizer


def test_alpaca_prompt_tokens_carry_no_loss(tiny_llama, alpaca_file):
    data, tokenizer = _prepared(tiny_llama, alpaca_file)
    assert data.layout.format == "alpaca"
    for example in data.train:
        trained = [t for t, label in zip(example["input_ids"], example["labels"]) if label != -100]
        assert all(label in (-100, token) for token, label in zip(example["input_ids"], example["labels"]))
        text = tokenizer.decode(trained)
        assert "colour" not in text and "say" not in text  # nothing of the instruction is learned
        assert text.split()[0] in ("red", "green", "blue", "black") and trained[-1] == tokenizer.eos_token_id
        first_trained = example["labels"].index(trained[0])
        assert all(label == -100 for label in example["labels"][:first_trained])


def test_chat_trains_every_assistant_turn_only(tiny_llama, chat_file):
    data, tokenizer = _prepared(tiny_llama, chat_file)
    assert data.layout.format == "chat"
    example = data.train[0]
    trained = tokenizer.decode([t for t, label in zip(example["input_ids"], example["labels"]) if label != -100])
    assert trained.split() == ["one", "[SEP]", "done", "[SEP]"]
    prompt = tokenizer.decode([t for t, label in zip(example["input_ids"], example["labels"]) if label == -100])
    assert "hello" in prompt and "again" in prompt
