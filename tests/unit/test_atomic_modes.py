"""Atomic writes get the modes a plain ``open()`` would: a shared server's team can read runs and exports."""
from __future__ import annotations

import os
import stat

import pytest

from fttui.atomic import follow_umask, replacing_dir, umask, write_json, write_text


@pytest.fixture(params=[0o022, 0o027], ids=["umask022", "umask027"])
def mask(request):
    old = os.umask(request.param)
    yield request.param
    os.umask(old)


def mode(path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_umask_is_read_without_changing_it(mask):
    assert umask() == mask
    assert os.umask(mask) == mask  # still set as it was


def test_a_new_atomic_file_follows_the_umask(tmp_path, mask):
    write_text(tmp_path / "config.yaml", "x: 1\n")
    write_json(tmp_path / "summary.json", {"loss": 1.0})
    with open(tmp_path / "events.jsonl", "w", encoding="utf-8"):
        pass  # the reference: a file written the ordinary way
    expected = {0o022: 0o644, 0o027: 0o640}[mask]
    assert mode(tmp_path / "events.jsonl") == expected
    assert mode(tmp_path / "config.yaml") == expected and mode(tmp_path / "summary.json") == expected


def test_a_replaced_folder_and_its_files_follow_the_umask(tmp_path, mask):
    target = tmp_path / "export"
    target.mkdir()
    with replacing_dir(target) as tmp:
        fd = os.open(tmp / "model.safetensors", os.O_WRONLY | os.O_CREAT, 0o600)  # as safetensors writes it
        os.close(fd)
        (tmp / "sub").mkdir(mode=0o700)
        (tmp / "sub" / "config.json").write_text("{}", encoding="utf-8")
        os.symlink("model.safetensors", tmp / "link")
    dirs, files = {0o022: (0o755, 0o644), 0o027: (0o750, 0o640)}[mask]
    assert mode(target) == dirs and mode(target / "sub") == dirs
    assert mode(target / "model.safetensors") == files and mode(target / "sub" / "config.json") == files
    assert os.path.islink(target / "link")


def test_an_executable_keeps_its_execute_bits(tmp_path, mask):
    script = tmp_path / "run.sh"
    script.write_text("#!/bin/sh\n", encoding="utf-8")
    os.chmod(script, 0o700)
    follow_umask(script)
    assert mode(script) == 0o777 & ~mask
