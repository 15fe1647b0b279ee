"""Bad input only the worker used to see, through the real CLI: mixed label kinds, a damaged model folder, JSON
nested 100k deep, unusable numbers. And a run that fails before its first step leaves no folder behind."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from fttui.runner.preflight import model_damage
from test_cli_errors import GOOD_ROWS, assert_clean_failure, jsonl, run_cli

# Replaces one function of the training recipe in the worker only (the parent never imports the engine).
FAULT = """import os, sys
if "fttui.engine.worker" in sys.orig_argv:
    import fttui.engine.training.recipe as recipe
    def fault(*args, **kwargs):
        raise RuntimeError("injected fault")
    setattr(recipe, os.environ["FTTUI_TEST_FAULT"], fault)
"""


@pytest.fixture
def preset(tmp_preset):
    return tmp_preset(
        {
            "model": {"name": "builtin", "task": "seq-cls"},
            "data": {"train": "train.jsonl", "eval": None},
            "training": {"max_steps": 2, "batch_size": 2, "max_length": 16, "logging_steps": 1, "save_steps": 1},
        },
        files={"train.jsonl": GOOD_ROWS},
    )


def model_folder(path: Path, weights: bool = True) -> Path:
    """A BERT-shaped folder: config.json and (unless not ``weights``) one safetensors file, written without torch."""
    path.mkdir()
    (path / "config.json").write_text(json.dumps({"model_type": "bert", "architectures": ["BertModel"],
                                                  "hidden_size": 8, "num_hidden_layers": 1,
                                                  "num_attention_heads": 2, "vocab_size": 32}), encoding="utf-8")
    if weights:
        save_file({"embeddings.word_embeddings.weight": np.zeros((32, 8), np.float32)}, str(path / "model.safetensors"))
    return path


# --- labels: mixed kinds are a data error -------------------------------------------------------


def test_labels_mixing_numbers_and_words_name_the_first_odd_row(tmp_path, preset):
    rows = [{"text": "good fun", "label": 0}, {"text": "bad day", "label": "1"}, {"text": "great", "label": 0},
            {"text": "awful", "label": "negative"}]
    (tmp_path / "train.jsonl").write_text(jsonl(rows), encoding="utf-8")
    result = run_cli(tmp_path, "--preset", preset.name)
    assert_clean_failure(result, tmp_path, 3, "labels mix numbers (0, 1) and words (negative)",
                         "train.jsonl line 4 is the first row labelled with a word ('negative')",
                         "hint: use one kind of label")


# --- a damaged local model is a config error, before any folder or worker -----------------------


def test_a_truncated_safetensors_file_is_named(tmp_path, preset):
    folder = model_folder(tmp_path / "my-model")
    weights = folder / "model.safetensors"
    os.truncate(weights, weights.stat().st_size // 2)
    result = run_cli(tmp_path, "--preset", preset.name, "--set", "model.name=./my-model")
    assert_clean_failure(result, tmp_path, 2, "the model at ./my-model is damaged or incomplete: model.safetensors: "
                                              "truncated (", "hint: download it again (hf download")


def test_a_model_folder_without_weights_says_so(tmp_path, preset):
    model_folder(tmp_path / "my-model", weights=False)
    result = run_cli(tmp_path, "--preset", preset.name, "--set", "model.name=./my-model", "--output-dir", "mine")
    assert_clean_failure(result, tmp_path, 2, "the model at ./my-model is damaged or incomplete: no weights")
    assert not (tmp_path / "mine").exists()


def test_an_intact_folder_passes_and_a_sharded_one_needs_every_shard(tmp_path):
    folder = model_folder(tmp_path / "m")
    assert model_damage(folder) is None
    (folder / "model.safetensors").rename(folder / "model-00001-of-00002.safetensors")
    (folder / "model.safetensors.index.json").write_text(json.dumps({"weight_map": {
        "a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}}), encoding="utf-8")
    assert model_damage(folder) == ("model.safetensors.index.json names model-00002-of-00002.safetensors, "
                                    "which is not there")
    (folder / "tokenizer.json").write_text('{"version": "1.0", "trunc', encoding="utf-8")
    assert model_damage(folder).startswith("tokenizer.json: truncated or not JSON")


def test_a_legacy_pickle_bin_is_left_to_torch_but_an_empty_one_is_not(tmp_path):
    folder = model_folder(tmp_path / "m", weights=False)
    (folder / "pytorch_model.bin").write_bytes(b"\x80\x02legacy pickle")
    assert model_damage(folder) is None
    (folder / "pytorch_model.bin").write_bytes(b"")
    assert model_damage(folder) == "pytorch_model.bin: empty"


# --- numbers the schema knows to be unusable ----------------------------------------------------


@pytest.mark.parametrize("setting, needle", [("training.epochs=inf", "training.epochs"),
                                             ("training.epochs=1e308", "at most 1000"),
                                             ("training.seed=-1", "training.seed: must be at least 0")])
def test_unusable_numbers_are_usage_errors_before_any_folder(tmp_path, preset, setting, needle):
    result = run_cli(tmp_path, "--preset", preset.name, "--set", setting)
    assert_clean_failure(result, tmp_path, 2, needle)


# --- JSON nested 100k deep in the worker --------------------------------------------------------


def test_json_nested_100k_deep_in_a_data_file_is_a_data_error(tmp_path, preset):
    deep = '{"text": "x", "label": ' + "[" * 100_000 + "]" * 100_000 + "}\n"
    (tmp_path / "train.jsonl").write_text(jsonl(GOOD_ROWS) + deep, encoding="utf-8")
    result = run_cli(tmp_path, "--preset", preset.name)
    assert_clean_failure(result, tmp_path, 3, "train.jsonl", "nested too deeply")


# --- a failure before the first step leaves no folder; after it, the folder stays ----------------


def run_with_fault(tmp_path, function: str, *args: str) -> subprocess.CompletedProcess:
    (tmp_path / "inject").mkdir(exist_ok=True)
    (tmp_path / "inject" / "sitecustomize.py").write_text(FAULT, encoding="utf-8")
    env = dict(os.environ, HF_HUB_OFFLINE="1", NO_COLOR="1", FTTUI_TEST_FAULT=function,
               PYTHONPATH=os.pathsep.join([str(tmp_path / "inject"), os.environ.get("PYTHONPATH", "")]))
    return subprocess.run([sys.executable, "-m", "fttui", *args], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=180)


def test_a_training_failure_before_the_first_step_leaves_no_folder_and_keeps_its_log(tmp_path, preset):
    result = run_with_fault(tmp_path, "apply_method", "--preset", preset.name)
    assert_clean_failure(result, tmp_path, 4, "error: injected fault", "was removed: the run failed before its "
                                                                        "first step")
    log = Path(re.search(r"log: (\S+)", result.stderr).group(1))
    try:
        assert log.parent != tmp_path / "runs" and "RuntimeError: injected fault" in log.read_text(encoding="utf-8")
    finally:
        log.unlink(missing_ok=True)


def test_a_training_failure_after_steps_keeps_the_run_folder(tmp_path, preset):
    result = run_with_fault(tmp_path, "save_trained", "--preset", preset.name)
    assert result.returncode == 4, result.stderr
    (run_dir,) = (tmp_path / "runs").iterdir()
    assert f"log: runs/{run_dir.name}/train.log" in result.stderr
    assert (run_dir / "checkpoints" / "checkpoint-2").is_dir() and (run_dir / "events.jsonl").is_file()


def test_discarding_keeps_a_folder_the_user_made_empty_and_moves_a_training_failures_log(tmp_path):
    from fttui.runner.run_dir import discard_run_dir

    run_dir = tmp_path / "mine"
    run_dir.mkdir()
    for name, text in (("config.yaml", "model: {}\n"), ("events.jsonl", "{}\n"), ("train.log", "Traceback ...\n")):
        (run_dir / name).write_text(text, encoding="utf-8")
    log = discard_run_dir(run_dir, keep_empty=True, keep_log=True)
    try:
        assert run_dir.is_dir() and not any(run_dir.iterdir())
        assert log.parent != run_dir and log.read_text(encoding="utf-8") == "Traceback ...\n"
    finally:
        log.unlink()
    (run_dir / "train.log").write_text("bad data\n", encoding="utf-8")
    assert discard_run_dir(run_dir, keep_empty=False, keep_log=False) is None and not run_dir.exists()
