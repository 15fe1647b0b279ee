"""Which folders an export may replace: new, empty, or an earlier export whose manifest lists every file."""
from __future__ import annotations

import json

import pytest

from fttui.errors import ConfigError, ExitCode
from fttui.runner.exports import MANIFEST, check_target, foreign_entries, write_manifest


def _export(folder):
    """A folder as an export leaves it: files in a subfolder too, then the manifest."""
    (folder / "tokenizer").mkdir(parents=True)
    (folder / "adapter_model.safetensors").write_bytes(b"\0")
    (folder / "tokenizer" / "vocab.txt").write_text("a\n")
    write_manifest(folder, {"kind": "adapter"})
    return folder


def test_new_empty_and_earlier_exports_are_accepted(tmp_path):
    assert check_target(tmp_path / "new") == tmp_path / "new"
    (tmp_path / "empty").mkdir()
    assert check_target(tmp_path / "empty") == tmp_path / "empty"
    earlier = _export(tmp_path / "earlier")
    assert json.loads((earlier / MANIFEST).read_text())["files"] == ["adapter_model.safetensors", "tokenizer/vocab.txt"]
    assert check_target(earlier) == earlier


def test_files_the_user_added_are_named_and_refused(tmp_path):
    out = _export(tmp_path / "out")
    (out / "NOTES.md").write_text("mine")
    (out / "plots").mkdir()
    (out / "plots" / "loss.png").write_bytes(b"png")
    (out / "tokenizer" / "extra.txt").write_text("mine too")
    with pytest.raises(ConfigError) as caught:
        check_target(out)
    assert "holds files fttui did not write: NOTES.md, plots/, tokenizer/extra.txt" in caught.value.message
    assert "choose another folder" in caught.value.hint and caught.value.exit_code == ExitCode.USAGE


def test_at_most_five_are_named(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    for i in range(8):
        (out / f"f{i}.txt").write_text("")
    with pytest.raises(ConfigError, match=r"f0.txt, f1.txt, f2.txt, f3.txt, f4.txt and 3 more"):
        check_target(out)
    assert foreign_entries(out, set())[-1] == "f7.txt"


def test_a_file_and_an_unlisted_export_are_refused(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match="is a file, not a folder"):
        check_target(tmp_path / "file")
    legacy = tmp_path / "legacy"
    legacy.mkdir()
    (legacy / MANIFEST).write_text(json.dumps({"kind": "adapter"}))  # what fttui wrote before it listed files
    (legacy / "adapter_model.safetensors").write_bytes(b"\0")
    with pytest.raises(ConfigError, match="kept no list of its files"):
        check_target(legacy)


def test_a_symlink_is_checked_and_written_through_to_its_target(tmp_path):
    real = _export(tmp_path / "real")
    link = tmp_path / "link"
    link.symlink_to(real, target_is_directory=True)
    assert check_target(link) == real
    (real / "NOTES.md").write_text("mine")
    with pytest.raises(ConfigError, match="NOTES.md"):
        check_target(link)
