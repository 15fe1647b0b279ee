"""Mapped weight files count toward a CPU run's measured memory until a write copies them into anonymous memory."""
from __future__ import annotations

import mmap
import sys

import pytest

from fttui.engine.training.calibration import anonymous_mb, mapped_weights_mb

SMAPS = """\
7f0000000000-7f0004000000 r--p 00000000 08:01 1234                       /models/m/model.safetensors
Size:              65536 kB
Rss:               40960 kB
Anonymous:          8192 kB
VmFlags: rd mr mw me
7f1000000000-7f1000100000 r-xp 00000000 08:01 99                         /usr/lib/libtorch_cpu.so
Rss:               90000 kB
Anonymous:             0 kB
7f2000000000-7f2000100000 rw-p 00000000 00:00 0
Rss:               50000 kB
Anonymous:         50000 kB
7f3000000000-7f3000100000 r--p 00000000 08:01 77                         /models/m/pytorch_model.bin
Rss:                2048 kB
Anonymous:             0 kB
"""


def test_only_the_file_backed_pages_of_weight_files_are_counted(tmp_path):
    smaps = tmp_path / "smaps"
    smaps.write_text(SMAPS)
    assert mapped_weights_mb(str(smaps)) == pytest.approx((40960 - 8192 + 2048) / 1024)
    assert mapped_weights_mb(str(tmp_path / "missing")) == 0.0


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/smaps")
def test_a_real_mapping_counts_when_read_and_moves_to_anonymous_when_written(tmp_path):
    size = 16 * 2**20
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(b"\1" * size)
    before = mapped_weights_mb()
    with open(weights, "r+b") as handle:
        view = mmap.mmap(handle.fileno(), size, access=mmap.ACCESS_COPY)  # private, like a loaded checkpoint
        try:
            total = sum(view[i] for i in range(0, size, mmap.PAGESIZE))  # read: the pages are the file's
            assert total == size // mmap.PAGESIZE
            assert mapped_weights_mb() - before == pytest.approx(16, abs=1)
            anonymous = anonymous_mb()
            for i in range(0, size // 2, mmap.PAGESIZE):  # write half: copied on write, now anonymous
                view[i] = 2
            assert mapped_weights_mb() - before == pytest.approx(8, abs=1)
            assert anonymous_mb() - anonymous == pytest.approx(8, abs=2)
        finally:
            view.close()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/statm")
def test_a_sampler_started_from_an_earlier_baseline_counts_what_came_before_it():
    """The fit check measures from before the model was loaded: memory already held when it starts counts."""
    from fttui.engine.training.calibration import AnonymousPeak

    run = AnonymousPeak()  # the run's baseline, before the "model"
    model = b"\1" * (48 * 2**20)  # written pages: anonymous memory, held through the probe
    probe_alone = AnonymousPeak().start().stop()
    probe_from_run = AnonymousPeak(since=run).start().stop()
    assert len(model) and probe_from_run >= 40 > probe_alone
