"""Export on a real tiny run never deletes a user's files: a folder holding anything its manifest does not list is
refused, a symlinked ``--out`` stays a link, and a killed export's leftovers go on the next export."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

import pytest

from fttui.cli import main
from fttui.engine.trained.export import export_run
from fttui.errors import ConfigError

MANIFEST = "fttui_export.json"  # spelled out (not imported) so this file also runs against fttui before the fix

KILLED_EXPORT = """
import os, signal, sys
from pathlib import Path
from fttui.atomic import replacing_dir
writing = replacing_dir(sys.argv[1])
tmp = writing.__enter__()
(Path(tmp) / "model.safetensors").write_bytes(bytes(1 << 20))
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_reexport_never_deletes_the_users_files(lora_run, tmp_path):
    run_dir, _ = lora_run
    out = tmp_path / "export"
    export_run(run_dir, out)
    export_run(run_dir, out)  # an earlier export, as fttui left it: replaced
    (out / "NOTES.md").write_text("my notes")
    (out / "plots").mkdir()
    (out / "plots" / "loss.png").write_bytes(b"png")
    with pytest.raises(ConfigError) as caught:
        export_run(run_dir, out)
    assert "did not write: NOTES.md, plots/" in caught.value.message
    assert (out / "NOTES.md").read_text() == "my notes" and (out / "plots" / "loss.png").is_file()
    assert main(["export", str(run_dir), "--out", str(out)]) == 2  # the CLI refuses before loading anything
    assert (out / "NOTES.md").is_file()
    files = json.loads((out / MANIFEST).read_text())["files"]  # what fttui wrote, and only that
    assert "adapter_model.safetensors" in files and "README.md" in files and "NOTES.md" not in files


def test_a_symlinked_out_is_written_through_and_kept(lora_run, tmp_path):
    run_dir, _ = lora_run
    real = tmp_path / "big-disk" / "export"
    export_run(run_dir, real)
    link = tmp_path / "export"
    link.symlink_to(real, target_is_directory=True)
    export_run(run_dir, link)
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert (real / "adapter_model.safetensors").is_file() and (real / MANIFEST).is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big-disk", "export"]


def test_a_killed_exports_leftovers_are_cleaned_up(lora_run, tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(lora_run[0], run_dir)
    out = tmp_path / "export"
    proc = subprocess.run([sys.executable, "-c", KILLED_EXPORT, str(out)], capture_output=True)
    assert proc.returncode == -9, proc.stderr
    old_style = tmp_path / ".export.k3j9x1.tmp"  # named before temporaries carried their writer's pid
    old_style.mkdir()
    (old_style / "model.safetensors").write_bytes(bytes(1 << 20))
    in_run = run_dir / ".adapter.q8w2e4.tmp"  # a save of the run's adapter, killed
    in_run.mkdir()
    then = time.time() - 2 * 3600  # past fttui.atomic.STALE_AFTER_S (10 minutes)
    for path in (old_style / "model.safetensors", old_style, in_run):
        os.utime(path, (then, then))
    assert len(list(tmp_path.glob(".export.*.tmp"))) == 2
    export_run(run_dir, out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export", "run"]
    assert not in_run.exists()
