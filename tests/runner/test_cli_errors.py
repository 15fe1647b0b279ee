"""Bad input through the real CLI: the right exit code, a message naming what and where, no traceback,
and no run folder left behind. Data errors are raised in the training worker, so those cases cover
CLI -> runner -> worker -> events -> runner -> stderr end to end (each loads torch: a few seconds)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from fttui.events import Failed, parse_event

GOOD_ROWS = [{"text": "good fun", "label": "a"}, {"text": "bad day", "label": "b"},
             {"text": "great film", "label": "a"}, {"text": "awful plot", "label": "b"}]


def jsonl(rows) -> str:
    return "".join(json.dumps(row) + "\n" for row in rows)


@pytest.fixture
def preset(tmp_preset):
    """A valid tiny run on the built-in model; each test breaks one thing."""
    return tmp_preset(
        {
            "model": {"name": "builtin", "task": "seq-cls"},
            "data": {"train": "train.jsonl", "eval": None},
            "training": {"max_steps": 1, "batch_size": 2, "max_length": 16},
        },
        files={"train.jsonl": GOOD_ROWS},
    )


def run_cli(tmp_path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", NO_COLOR="1")
    return subprocess.run([sys.executable, "-m", "fttui", *args], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=timeout)


def assert_clean_failure(result: subprocess.CompletedProcess, tmp_path, code: int, *needles: str) -> None:
    context = f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    assert result.returncode == code, context
    assert "Traceback" not in result.stderr, context
    assert "error:" in result.stderr, context
    for needle in needles:
        assert needle in result.stderr, f"{needle!r} not in stderr\n{context}"
    runs = tmp_path / "runs"
    assert not runs.exists() or not any(runs.iterdir()), f"left behind: {list(runs.iterdir())}"


# --- caught before any worker starts ---------------------------------------------------------


def test_nonexistent_preset(tmp_path):
    result = run_cli(tmp_path, "--preset", "no-such-preset.yaml")
    assert_clean_failure(result, tmp_path, 2, "preset not found: no-such-preset.yaml", "quickstart")


def test_unknown_key_in_the_preset_is_named_with_its_path(tmp_path, preset):
    text = preset.read_text(encoding="utf-8").replace("  max_steps: 1\n", "  max_steps: 1\n  epoch: 2\n")
    preset.write_text(text, encoding="utf-8")
    result = run_cli(tmp_path, "--preset", preset.name)
    assert_clean_failure(result, tmp_path, 2, "training.epoch: unknown key", preset.name)


def test_unknown_set_key_suggests_the_right_one(tmp_path, preset):
    result = run_cli(tmp_path, "--preset", preset.name, "--set", "training.bach_size=2")
    assert_clean_failure(result, tmp_path, 2, "training.bach_size: unknown key", "did you mean training.batch_size?")


def test_wrong_type_in_set(tmp_path, preset):
    result = run_cli(tmp_path, "--preset", preset.name, "--set", "training.batch_size=abc")
    assert_clean_failure(result, tmp_path, 2, "training.batch_size", "'abc'")


def test_nonexistent_model_path(tmp_path, preset):
    result = run_cli(tmp_path, "--preset", preset.name, "--set", "model.name=./nope")
    assert_clean_failure(result, tmp_path, 2, "model.name", "./nope")


def test_nonexistent_data_file(tmp_path, preset):
    result = run_cli(tmp_path, "--preset", preset.name, "--set", "data.train=./missing.jsonl")
    assert_clean_failure(result, tmp_path, 3, "data.train", "./missing.jsonl")


def test_existing_output_dir_with_a_file_is_refused_and_left_untouched(tmp_path, preset):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("precious", encoding="utf-8")
    result = run_cli(tmp_path, "--preset", preset.name, "--output-dir", "out")
    assert_clean_failure(result, tmp_path, 2, "output folder out already exists and is not empty")
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    assert (out / "keep.txt").read_text(encoding="utf-8") == "precious"


def test_set_without_preset_is_a_usage_error(tmp_path):
    result = run_cli(tmp_path, "--set", "training.epochs=1")
    assert_clean_failure(result, tmp_path, 2, "--preset")


# --- caught inside the worker ----------------------------------------------------------------


def test_malformed_json_line_names_file_and_line(tmp_path, preset):
    (tmp_path / "train.jsonl").write_text(jsonl(GOOD_ROWS[:2]) + '{"text": "oops", "label": a}\n'
                                          + jsonl(GOOD_ROWS[2:]), encoding="utf-8")
    result = run_cli(tmp_path, "--preset", preset.name)
    assert_clean_failure(result, tmp_path, 3, "train.jsonl line 3: not valid JSON")


def test_missing_label_column_lists_the_columns_found(tmp_path, preset):
    rows = [{"review_body": row["text"], "stars": row["label"]} for row in GOOD_ROWS]
    (tmp_path / "train.jsonl").write_text(jsonl(rows), encoding="utf-8")
    result = run_cli(tmp_path, "--preset", preset.name, "--output-dir", "fresh")
    assert_clean_failure(result, tmp_path, 3, "train.jsonl", "columns found: review_body, stars")
    fresh = tmp_path / "fresh"  # an --output-dir created for this run is removed again
    assert not fresh.exists() or not any(fresh.iterdir()), list(fresh.iterdir())


def test_an_empty_output_dir_the_user_made_is_kept_after_bad_data(tmp_path, preset):
    (tmp_path / "train.jsonl").write_text("", encoding="utf-8")
    (tmp_path / "mine").mkdir()
    result = run_cli(tmp_path, "--preset", preset.name, "--output-dir", "mine")
    assert_clean_failure(result, tmp_path, 3, "no rows")
    assert (tmp_path / "mine").is_dir() and not any((tmp_path / "mine").iterdir())


def test_a_misspelt_key_gets_a_suggestion(tmp_path, preset):
    preset.write_text(preset.read_text() + "\ntraining2: {}\n", encoding="utf-8")
    result = run_cli(tmp_path, "--preset", preset.name, "--set", "training.epoch=2")
    assert_clean_failure(result, tmp_path, 2, "training.epoch: unknown key (did you mean training.epochs?)",
                         "training2: unknown key (did you mean training?)")


def test_empty_data_file(tmp_path, preset):
    (tmp_path / "train.jsonl").write_text("", encoding="utf-8")
    result = run_cli(tmp_path, "--preset", preset.name)
    assert_clean_failure(result, tmp_path, 3, "train.jsonl: no rows")


def test_label_outside_the_label_set_names_file_and_line_and_json_mode_reports_it(tmp_path, preset):
    rows = GOOD_ROWS[:3] + [{"text": "meh", "label": "c"}] + GOOD_ROWS[3:]
    (tmp_path / "train.jsonl").write_text(jsonl(rows), encoding="utf-8")
    result = run_cli(tmp_path, "--preset", preset.name, "--set", "data.labels=[a,b]", "--json")
    assert_clean_failure(result, tmp_path, 3, "train.jsonl line 4", "label 'c' is not in the label set (a, b)")
    # --json: stdout carries only events, and the failure is one of them
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    events = [parse_event(line) for line in lines]
    assert all(event is not None for event in events), result.stdout
    failed = [event for event in events if isinstance(event, Failed)]
    assert len(failed) == 1 and failed[0].exit_code == 3 and "line 4" in failed[0].message
