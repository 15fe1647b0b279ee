"""With --json, every failure prints one ``failed`` event on stdout, also the ones raised before any worker
starts (a scripted caller reads stdout only; it used to get nothing for a config error)."""
from __future__ import annotations

import json

import pytest

from fttui.cli import main


@pytest.mark.parametrize("argv, code, needle", [
    (["--preset", "no-such-preset.yaml", "--json"], 2, "preset not found"),
    (["--preset", "quickstart", "--set", "training.nope=1", "--json"], 2, "training.nope"),
    (["--resume", "no-such-run", "--json"], 2, "no run folder"),
    (["eval", "no-such-run", "--data", "x.jsonl", "--json"], 2, "no run folder"),
])
def test_a_failure_before_the_worker_is_one_failed_event(tmp_path, monkeypatch, capsys, argv, code, needle):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == code
    out, err = capsys.readouterr()
    lines = out.strip().splitlines()
    assert len(lines) == 1, out
    event = json.loads(lines[0])
    assert event["event"] == "failed" and event["exit_code"] == code and needle in event["message"]
    assert f"error: {event['message']}" in err  # the person at the terminal reads it too


def test_without_json_stdout_stays_empty(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["--preset", "no-such-preset.yaml"]) == 2
    assert capsys.readouterr().out == ""
