"""Leftovers of killed writes are cleaned up, live ones never; a symlinked target keeps its link.

The dead writer is real: a process that opens ``replacing_dir`` and SIGKILLs itself mid-write.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time

from fttui.atomic import STALE_AFTER_S, clean_stale, is_stale, replacing_dir

KILLED_WRITER = """
import os, signal, sys
from pathlib import Path
from fttui.atomic import replacing_dir
writing = replacing_dir(sys.argv[1])
tmp = writing.__enter__()
(Path(tmp) / "model.safetensors").write_bytes(b"partial" * 1000)
print(tmp, flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def _killed_write(target) -> str:
    """The temporary folder a SIGKILLed ``replacing_dir`` left next to ``target``."""
    proc = subprocess.run([sys.executable, "-c", KILLED_WRITER, str(target)], capture_output=True, text=True)
    assert proc.returncode == -9, proc.stderr
    return proc.stdout.strip()


def _age(path, seconds: float) -> None:
    then = time.time() - seconds
    for root, dirs, files in os.walk(path):
        for name in files:
            os.utime(os.path.join(root, name), (then, then))
    os.utime(path, (then, then))


def test_a_killed_writers_temporary_is_removed_by_the_next_write(tmp_path):
    target = tmp_path / "export"
    left = _killed_write(target)
    assert os.path.isdir(left) and str(os.getpid()) not in left
    with replacing_dir(target) as tmp:
        (tmp / "done").write_text("whole")
    assert not os.path.exists(left)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export"]


def test_nameless_temporaries_go_only_once_untouched_for_a_while(tmp_path):
    old, young, other = tmp_path / ".x.123.tmp", tmp_path / ".x.456.tmp", tmp_path / ".y.789.tmp"
    for folder in (old, young, other):
        folder.mkdir()
        (folder / "model.safetensors").write_bytes(b"\0" * 1024)
    _age(old, STALE_AFTER_S + 60)
    _age(other, STALE_AFTER_S + 60)
    then = time.time() - STALE_AFTER_S - 60
    os.utime(young, (then, then))  # an old folder with a file still being written in it is young
    assert clean_stale(tmp_path, "x") == [old]
    assert young.is_dir() and other.is_dir()  # another name's temporaries are not this write's business


def test_a_live_writers_temporary_is_kept_however_old(tmp_path):
    with replacing_dir(tmp_path / "x") as tmp:
        _age(tmp, 10 * STALE_AFTER_S)
        assert not is_stale(tmp)
        assert clean_stale(tmp_path) == []
        assert tmp.is_dir()


def test_a_half_finished_swap_is_repaired(tmp_path):
    (tmp_path / ".done.old").mkdir()  # killed after the new folder was in place: the old one is garbage
    (tmp_path / "done").mkdir()
    (tmp_path / ".cut.old").mkdir()  # killed between the renames: the old folder is the only whole copy
    (tmp_path / ".cut.old" / "weights").write_text("previous")
    clean_stale(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cut", "done"]
    assert (tmp_path / "cut" / "weights").read_text() == "previous"


def test_a_symlinked_target_keeps_its_link(tmp_path):
    real = tmp_path / "disk" / "export"
    real.mkdir(parents=True)
    (real / "old").write_text("previous")
    link = tmp_path / "export"
    link.symlink_to(real, target_is_directory=True)
    with replacing_dir(link) as tmp:
        (tmp / "new").write_text("current")
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert sorted(p.name for p in real.iterdir()) == ["new"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["disk", "export"]  # no .export.old link left behind
