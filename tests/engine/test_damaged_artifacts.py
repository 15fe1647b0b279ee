"""A truncated adapter (cut with ``truncate``, as a kill or a full disk leaves it) is neither copied nor loaded:
export, ``--merge``, eval and Try it give one clear error (exit 4) with the resume that saves it again, and an
export that does not read back whole never replaces the previous one."""
from __future__ import annotations

import os
import shutil

import pytest

from fttui.cli import main
from fttui.engine.trained import export as export_module
from fttui.engine.trained.export import export_run
from fttui.errors import TrainingError


@pytest.fixture
def damaged(lora_run, tmp_path):
    """A copy of the run whose adapter weights were cut in half, as a kill or a full disk leaves them."""
    run_dir = tmp_path / "damaged-run"
    shutil.copytree(lora_run[0], run_dir)
    weights = run_dir / "adapter" / "adapter_model.safetensors"
    os.truncate(weights, weights.stat().st_size // 2)
    return run_dir


def test_a_damaged_adapter_is_refused_by_export_merge_eval_and_try(damaged, lora_run, tmp_path, capsys):
    from fttui.engine.trained.evaluate import evaluate_run
    from fttui.engine.trained.inference import TryModels

    data = lora_run[1]
    for attempt in (lambda: export_run(damaged, tmp_path / "a"), lambda: export_run(damaged, tmp_path / "m", merge=True),
                    lambda: evaluate_run(damaged, data, save=False), lambda: TryModels.load(damaged)):
        with pytest.raises(TrainingError) as caught:
            attempt()
        assert "adapter_model.safetensors: truncated" in caught.value.message
        assert caught.value.hint == (f"checkpoint-4 is intact: fttui --resume {damaged} --set training.max_steps=4 "
                                     "goes on from it and saves adapter/ again")
    assert not (tmp_path / "a").exists() and not (tmp_path / "m").exists()
    capsys.readouterr()
    assert main(["export", str(damaged), "--out", str(tmp_path / "b"), "--merge"]) == 4
    assert main(["eval", str(damaged), "--data", data]) == 4
    stderr = capsys.readouterr().err
    assert "Traceback" not in stderr and stderr.count("error: ") == 2 and "hint: checkpoint-4 is intact" in stderr


def test_the_hinted_resume_saves_the_adapter_again(damaged):
    assert main(["--resume", str(damaged), "--set", "training.max_steps=4"]) == 0  # the hint's command, as given
    export_run(damaged, damaged.parent / "export")  # whole again: exports


def test_an_export_that_does_not_read_back_whole_keeps_the_previous_one(lora_run, tmp_path, monkeypatch):
    run_dir, _ = lora_run
    out = tmp_path / "export"
    export_run(run_dir, out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def short_copy(source, target, *args, **kwargs):  # a disk that drops the end of a file
        shutil.copyfile(source, target)
        if str(target).endswith(".safetensors"):
            os.truncate(target, 100)

    monkeypatch.setattr(export_module.shutil, "copy2", short_copy)
    with pytest.raises(TrainingError, match=r"did not read back whole \(adapter_model.safetensors: truncated"):
        export_run(run_dir, out)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export"]
