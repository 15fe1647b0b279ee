"""`fttui export --push-to-hub` with the Hub replaced at the boundary, and `fttui eval` from the CLI."""
from __future__ import annotations

import json

import pytest

import huggingface_hub

from fttui.cli import main
from fttui.config import validate_config
from fttui.engine.training.recipe import run
from fttui.engine.sink import ListSink
from fttui.errors import ExitCode
from fttui.runner.run_dir import create_run_dir

TOKEN = "hf_SENTINELtoken1234567890"


class FakeHub:
    """Stands in for HfApi: records what would have been sent, or fails like a machine without network."""

    calls: list = []
    offline = False

    def __init__(self, token=None, **kwargs):
        FakeHub.calls.append(("init", token))

    def create_repo(self, repo_id, **kwargs):
        if FakeHub.offline:
            raise ConnectionError("Failed to resolve 'huggingface.co' ([Errno -3] Temporary failure in name resolution)")
        FakeHub.calls.append(("create_repo", repo_id, kwargs.get("private")))
        return f"https://huggingface.co/{repo_id}"

    def upload_folder(self, repo_id, folder_path, **kwargs):
        from pathlib import Path

        FakeHub.calls.append(("upload_folder", repo_id, sorted(p.name for p in Path(folder_path).iterdir())))


@pytest.fixture
def trained_run(tmp_path_factory, tiny_bert, sentiment_file):
    folder = tmp_path_factory.mktemp("hub") / "run"
    config = validate_config({
        "model": {"name": tiny_bert, "task": "seq-cls"}, "data": {"train": sentiment_file, "eval": None},
        "method": {"name": "lora"}, "training": {"max_steps": 2, "batch_size": 8, "precision": "fp32"},
        "output": {"dir": str(folder)},
    })
    run_dir, lock = create_run_dir(config)
    run(config, run_dir, ListSink())
    lock.release()  # as the supervisor does when its worker ends
    return run_dir


@pytest.fixture
def fake_hub(monkeypatch):
    FakeHub.calls, FakeHub.offline = [], False
    monkeypatch.setattr(huggingface_hub, "HfApi", FakeHub)
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    return FakeHub


def _files_mention(folder, text: str) -> list[str]:
    return [str(p) for p in folder.rglob("*") if p.is_file() and text.encode() in p.read_bytes()]


def test_push_to_hub_uploads_the_export_and_never_writes_the_token(trained_run, fake_hub, capsys, tmp_path):
    out = tmp_path / "export"
    code = main(["export", str(trained_run), "--out", str(out), "--push-to-hub", "me/tiny-sentiment", "--private"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert ("init", TOKEN) in fake_hub.calls  # the token goes to the client, and only there
    assert ("create_repo", "me/tiny-sentiment", True) in fake_hub.calls
    uploaded = next(call for call in fake_hub.calls if call[0] == "upload_folder")
    assert "adapter_model.safetensors" in uploaded[2] and "README.md" in uploaded[2]
    assert "pushed to https://huggingface.co/me/tiny-sentiment" in captured.err
    assert TOKEN not in captured.out + captured.err
    assert _files_mention(out, TOKEN) == [] and _files_mention(trained_run, TOKEN) == []


def test_push_to_hub_offline_fails_clearly_and_keeps_the_export(trained_run, fake_hub, capsys, tmp_path):
    fake_hub.offline = True
    out = tmp_path / "export"
    code = main(["export", str(trained_run), "--out", str(out), "--push-to-hub", "me/tiny-sentiment"])
    err = capsys.readouterr().err
    assert code == ExitCode.NETWORK
    assert "could not push" in err and "Temporary failure in name resolution" in err and "Traceback" not in err
    assert (out / "adapter_model.safetensors").is_file() and f"the export is intact at {out}" in err


def test_push_to_hub_without_a_token_stops_before_exporting(trained_run, fake_hub, monkeypatch, capsys, tmp_path):
    monkeypatch.delenv("HF_TOKEN")
    monkeypatch.setattr(huggingface_hub, "get_token", lambda: None)
    out = tmp_path / "export"
    code = main(["export", str(trained_run), "--out", str(out), "--push-to-hub", "me/x"])
    assert code == ExitCode.USAGE and "hf auth login" in capsys.readouterr().err
    assert not out.exists() and fake_hub.calls == []


@pytest.mark.parametrize("repo_id", ["no-slash", "a/b/c", "me/../x", "/x"])
def test_push_to_hub_rejects_bad_repository_ids(trained_run, fake_hub, capsys, repo_id):
    assert main(["export", str(trained_run), "--push-to-hub", repo_id]) == ExitCode.USAGE
    assert "is not a repository id" in capsys.readouterr().err


@pytest.mark.slow  # in CI's slow run: keeps the fast suite near 15 minutes on 2 cores
def test_eval_command_prints_before_and_after_and_saves_json(trained_run, sentiment_file, capsys):
    code = main(["eval", str(trained_run), "--data", sentiment_file, "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    result = json.loads(captured.out)
    assert result["rows"] == 48 and set(result) >= {"baseline", "tuned", "saved_to"}
    assert main(["eval", str(trained_run), "--data", sentiment_file, "--no-baseline"]) == 0
    captured = capsys.readouterr()
    table = captured.out  # the result is the command's output: `fttui eval ... > result.txt` keeps it
    assert "accuracy" in table and "confusion matrix" in table and "base model" not in table
    assert "model_preparation_time" not in table and "epoch" not in table  # how it ran, not how the model did
    assert captured.err.startswith("saved to ")


@pytest.mark.slow  # in CI's slow run: keeps the fast suite near 15 minutes on 2 cores
def test_eval_and_export_print_their_result_and_no_library_noise(trained_run, sentiment_file, tmp_path):
    import subprocess
    import sys

    long_name = tmp_path / ("a-data-file-with-a-long-name-" * 3 + ".jsonl")
    long_name.write_text(open(sentiment_file).read())
    evaluated = subprocess.run([sys.executable, "-m", "fttui", "eval", str(trained_run), "--data", str(long_name)],
                               capture_output=True, text=True, timeout=180)
    assert evaluated.returncode == 0, evaluated.stderr
    assert evaluated.stderr.strip().startswith("saved to ") and len(evaluated.stderr.strip().splitlines()) == 1
    assert any(str(long_name) in line for line in evaluated.stdout.splitlines())  # a file is not wrapped at 80
    exported = subprocess.run([sys.executable, "-m", "fttui", "export", str(trained_run), "--out",
                               str(tmp_path / "merged"), "--merge"], capture_output=True, text=True, timeout=180)
    assert exported.returncode == 0, exported.stderr
    assert exported.stderr.strip().splitlines() == [  # the export worker's stages as it reports them, then the result
        "loading the base model in float32 with the adapter on it", "merging the adapter into the base weights",
        "saving the model as safetensors", f"wrote merged model to {tmp_path / 'merged'}"]


def test_eval_command_on_a_missing_file_is_a_clear_data_error(trained_run, capsys, tmp_path):
    code = main(["eval", str(trained_run), "--data", str(tmp_path / "nope.jsonl")])
    err = capsys.readouterr().err
    assert code == ExitCode.DATA and "nope.jsonl" in err and "Traceback" not in err
