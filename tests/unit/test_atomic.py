"""Atomic writes: a failure mid-write leaves the previous file or folder exactly as it was."""
from __future__ import annotations

import json
import os

import pytest

from fttui import atomic
from fttui.atomic import replacing_dir, write_json, write_text


def listing(folder) -> list[str]:
    return sorted(path.name for path in folder.iterdir())


def test_write_text_creates_parents_and_leaves_no_temp_files(tmp_path):
    target = tmp_path / "a" / "b" / "config.yaml"
    write_text(target, "x: 1\n")
    assert target.read_text(encoding="utf-8") == "x: 1\n"
    write_text(target, "x: 2\n")
    assert target.read_text(encoding="utf-8") == "x: 2\n"
    assert listing(target.parent) == ["config.yaml"]


def test_write_json(tmp_path):
    write_json(tmp_path / "s.json", {"loss": 0.5, "labels": ["a", "é"]})
    text = (tmp_path / "s.json").read_text(encoding="utf-8")
    assert json.loads(text) == {"loss": 0.5, "labels": ["a", "é"]} and text.endswith("\n")


@pytest.mark.parametrize("failing", ["fsync", "replace"])
def test_write_text_keeps_the_old_file_when_the_write_fails(tmp_path, monkeypatch, failing):
    target = tmp_path / "summary.json"
    target.write_text("old content", encoding="utf-8")
    calls = []

    def boom(*args, **kwargs):
        calls.append(args)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic.os, failing, boom)
    with pytest.raises(OSError, match="No space left"):
        write_text(target, "new content " * 1000)
    monkeypatch.undo()
    assert calls, f"os.{failing} was never called"
    assert target.read_text(encoding="utf-8") == "old content"
    assert listing(tmp_path) == ["summary.json"]


def test_write_text_interrupted_by_keyboard_interrupt_cleans_up(tmp_path, monkeypatch):
    target = tmp_path / "events.txt"
    target.write_text("old", encoding="utf-8")

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(atomic.os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_text(target, "new")
    monkeypatch.undo()
    assert target.read_text(encoding="utf-8") == "old"
    assert listing(tmp_path) == ["events.txt"]


def make_folder(path, files: dict[str, str]):
    path.mkdir(parents=True)
    for name, text in files.items():
        (path / name).write_text(text, encoding="utf-8")


def test_replacing_dir_replaces_the_folder_on_success(tmp_path):
    target = tmp_path / "adapter"
    make_folder(target, {"old.bin": "old", "config.json": "{}"})
    with replacing_dir(target) as tmp:
        assert tmp.is_dir() and tmp != target and tmp.parent == target.parent
        assert (target / "old.bin").is_file()  # the old folder stays until the body succeeds
        (tmp / "new.bin").write_text("new", encoding="utf-8")
    assert listing(target) == ["new.bin"]
    assert listing(tmp_path) == ["adapter"]  # no temp or .old folders left


def test_replacing_dir_creates_a_new_folder(tmp_path):
    with replacing_dir(tmp_path / "out" / "model") as tmp:
        (tmp / "w.bin").write_text("w", encoding="utf-8")
    assert listing(tmp_path / "out" / "model") == ["w.bin"]
    assert listing(tmp_path / "out") == ["model"]


def test_replacing_dir_keeps_the_old_folder_if_the_body_raises(tmp_path):
    target = tmp_path / "adapter"
    make_folder(target, {"old.bin": "old"})
    with pytest.raises(RuntimeError, match="save failed"):
        with replacing_dir(target) as tmp:
            (tmp / "half.bin").write_text("partial", encoding="utf-8")
            raise RuntimeError("save failed")
    assert listing(target) == ["old.bin"]
    assert (target / "old.bin").read_text(encoding="utf-8") == "old"
    assert listing(tmp_path) == ["adapter"]


def test_replacing_dir_leaves_no_folder_when_there_was_none_and_the_body_raises(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        with replacing_dir(tmp_path / "model") as tmp:
            (tmp / "x").write_text("x", encoding="utf-8")
            raise KeyboardInterrupt
    assert listing(tmp_path) == []


def test_replacing_dir_keeps_the_old_folder_if_the_final_rename_fails(tmp_path, monkeypatch):
    target = tmp_path / "adapter"
    make_folder(target, {"old.bin": "old"})
    real_replace = os.replace

    def fail_on_new(src, dst):
        if os.path.basename(os.fspath(src)).endswith(".tmp"):
            raise OSError(18, "Invalid cross-device link")
        return real_replace(src, dst)

    monkeypatch.setattr(atomic.os, "replace", fail_on_new)
    with pytest.raises(OSError):
        with replacing_dir(target) as tmp:
            (tmp / "new.bin").write_text("new", encoding="utf-8")
    monkeypatch.undo()
    assert target.is_dir() and listing(target) == ["old.bin"], listing(tmp_path)
    assert listing(tmp_path) == ["adapter"]
