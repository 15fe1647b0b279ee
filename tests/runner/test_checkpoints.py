"""Checkpoints are verified before a resume trusts them, and a config changed since is refused by name.

The checkpoint folders here are written by hand, byte for byte as the Trainer writes them (a safetensors
header, a zip for torch.save files, JSON), so these tests load no torch. The faults are real: files cut short
with ``truncate``, the way a kill or a full disk leaves them.
"""
from __future__ import annotations

import json
import os
import struct
import zipfile

import pytest
import yaml

from fttui.cli import main
from fttui.runner.checkpoints import CONFIG_COPY, config_changes, damage, last_intact_checkpoint

CONFIG = {
    "model": {"name": "builtin", "task": "seq-cls"},
    "data": {"train": "TRAIN", "eval": None},
    "method": {"name": "lora", "lora_r": 8},
    "training": {"max_steps": 4, "save_steps": 2},
}


def safetensors_bytes(tensors: dict[str, int]) -> bytes:
    """A valid file: float32 tensors of the given lengths, laid out one after another."""
    header, offset = {"__metadata__": {"format": "pt"}}, 0
    for name, length in tensors.items():
        header[name] = {"dtype": "F32", "shape": [length], "data_offsets": [offset, offset + 4 * length]}
        offset += 4 * length
    blob = json.dumps(header).encode()
    return struct.pack("<Q", len(blob)) + blob + b"\0" * offset


def torch_zip(path, payload: bytes = b"x" * 4096) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("archive/data.pkl", b"\x80\x02}q\x00.")
        archive.writestr("archive/data/0", payload)


def make_checkpoint(run_dir, step: int, config: dict | None = None):
    path = run_dir / "checkpoints" / f"checkpoint-{step}"
    path.mkdir(parents=True)
    (path / "trainer_state.json").write_text(json.dumps({"global_step": step, "log_history": [{"loss": 0.5}] * 20}))
    (path / "adapter_config.json").write_text(json.dumps({"r": 8, "peft_type": "LORA"}))
    (path / "adapter_model.safetensors").write_bytes(safetensors_bytes({"a.weight": 64, "b.weight": 32}))
    torch_zip(path / "optimizer.pt")
    torch_zip(path / "training_args.bin", b"args")
    if config is not None:
        (path / CONFIG_COPY).write_text(yaml.safe_dump(config))
    return path


def cut(path, keep: float = 0.5) -> None:
    os.truncate(path, int(path.stat().st_size * keep))


def test_an_intact_checkpoint_passes(tmp_path):
    newest = make_checkpoint(tmp_path, 12)
    make_checkpoint(tmp_path, 10)
    assert damage(newest) is None
    assert last_intact_checkpoint(tmp_path) == (newest, [])


@pytest.mark.parametrize("name, reason", [
    ("trainer_state.json", "trainer_state.json: truncated or not JSON"),
    ("optimizer.pt", "optimizer.pt: truncated"),
    ("adapter_model.safetensors", "adapter_model.safetensors: truncated"),
    ("adapter_config.json", "adapter_config.json: truncated or not JSON"),
])
def test_a_truncated_file_skips_to_the_older_checkpoint_naming_the_file(tmp_path, name, reason):
    older = make_checkpoint(tmp_path, 10)
    newest = make_checkpoint(tmp_path, 12)
    cut(newest / name)
    found, skipped = last_intact_checkpoint(tmp_path)
    assert found == older
    assert [path for path, _ in skipped] == [newest]
    assert skipped[0][1].startswith(reason), skipped


def test_safetensors_header_problems_are_named(tmp_path):
    path = make_checkpoint(tmp_path, 2)
    weights = path / "adapter_model.safetensors"
    good = weights.read_bytes()
    weights.write_bytes(good + b"\0" * 8)
    assert "bytes after the last tensor" in damage(path)
    weights.write_bytes(struct.pack("<Q", 10**12) + good[8:])
    assert "bad header length" in damage(path)
    weights.write_bytes(good[:8] + b"[" + good[9:])
    assert damage(path) == "adapter_model.safetensors: damaged header"
    weights.write_bytes(good[:5])
    assert damage(path) == "adapter_model.safetensors: truncated (no header)"


def test_missing_pieces_are_damage(tmp_path):
    path = make_checkpoint(tmp_path, 2)
    (path / "optimizer.pt").write_bytes(b"")
    assert damage(path) == "optimizer.pt: empty"
    (path / "optimizer.pt").unlink()
    (path / "adapter_model.safetensors").unlink()
    assert damage(path) == "no model or adapter weights"
    (path / "trainer_state.json").unlink()
    assert "no trainer_state.json" in damage(path)


def test_no_intact_checkpoint_lists_every_damaged_one(tmp_path):
    for step in (2, 4):
        cut(make_checkpoint(tmp_path, step) / "optimizer.pt")
    found, skipped = last_intact_checkpoint(tmp_path)
    assert found is None and [p.name for p, _ in skipped] == ["checkpoint-4", "checkpoint-2"]


def test_config_changes_name_what_a_resume_cannot_load(tmp_path, monkeypatch):
    train = tmp_path / "train.jsonl"
    train.write_text('{"text": "a", "label": "x"}\n')
    config = json.loads(json.dumps(CONFIG).replace("TRAIN", str(train)))
    from fttui.config import validate_config

    checkpoint = make_checkpoint(tmp_path, 2, validate_config(config).model_dump(mode="json"))
    current = validate_config({**config, "method": {"name": "lora", "lora_r": 16},
                               "training": {"max_steps": 8, "save_steps": 2}}).model_dump(mode="json")
    assert config_changes(checkpoint, current) == [("method.lora_r", 8, 16)]  # max_steps may change
    assert config_changes(make_checkpoint(tmp_path, 4), current) == []  # no copy (an older fttui): no check


def test_resume_with_an_edited_config_is_refused_before_any_worker(tmp_path, capsys):
    """Through the real CLI: exit 2, the key named, the hint says what to do, no worker started, nothing written."""
    train = tmp_path / "train.jsonl"
    train.write_text('{"text": "a", "label": "x"}\n')
    config = json.loads(json.dumps(CONFIG).replace("TRAIN", str(train)))
    from fttui.config import dump_config, validate_config

    run_dir = tmp_path / "run"
    make_checkpoint(run_dir, 2, validate_config(config).model_dump(mode="json"))
    edited = {**config, "method": {"name": "dora", "lora_r": 8}}
    (run_dir / "config.yaml").write_text(dump_config(validate_config(edited)))
    before = (run_dir / "config.yaml").read_text()
    code = main(["--resume", str(run_dir), "--set", "method.lora_r=16", "--json"])
    out, err = capsys.readouterr()
    assert code == 2
    assert "method.name: 'lora' -> 'dora'" in err and "method.lora_r: 8 -> 16" in err
    assert "hint: put those keys back" in err and "Traceback" not in err
    event = json.loads(out.strip().splitlines()[-1])
    assert event["event"] == "failed" and event["exit_code"] == 2 and "method.lora_r" in event["message"]
    assert (run_dir / "config.yaml").read_text() == before  # the override was not saved
    assert not (run_dir / "events.jsonl").exists()


def test_resume_may_change_the_length_of_a_run(tmp_path):
    from fttui.config import validate_config
    from fttui.runner.checkpoints import check_resume_config

    train = tmp_path / "train.jsonl"
    train.write_text('{"text": "a", "label": "x"}\n')
    config = json.loads(json.dumps(CONFIG).replace("TRAIN", str(train)))
    make_checkpoint(tmp_path, 2, validate_config(config).model_dump(mode="json"))
    longer = {**config, "training": {"epochs": 5, "max_steps": None, "save_steps": 50, "logging_steps": 1}}
    check_resume_config(tmp_path, validate_config(longer).model_dump(mode="json"))  # no error
