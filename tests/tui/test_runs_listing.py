"""Listing the runs folder: unchanged runs are not parsed again; each run folder's lock decides an unfinished run."""
from __future__ import annotations

import os

from fttui.events import Finished, StepLogged
from fttui.runner import run_folder as listing

from .conftest import recorded_events, write_run


def counting(monkeypatch, name: str) -> list:
    calls: list = []
    original = getattr(listing, name)

    def counted(*args, **kwargs):
        calls.append(args)
        return original(*args, **kwargs)

    monkeypatch.setattr(listing, name, counted)
    return calls


def test_unchanged_runs_are_not_parsed_again_and_a_changed_one_is(tmp_path, monkeypatch):
    events = recorded_events()
    finished = next(e for e in events if isinstance(e, Finished))
    for index in range(3):
        write_run(tmp_path / "runs", f"done-{index}", events, finished.summary)
    unfinished = write_run(tmp_path / "runs", "going", [e for e in events if not isinstance(e, Finished)])
    parsed = counting(monkeypatch, "parse")

    first = listing.list_runs(tmp_path / "runs")
    assert len(parsed) == 4
    assert sorted(run.status for run in first) == ["completed", "completed", "completed", "interrupted"]
    first[0].step = -1  # what a caller does to its copy stays in its copy

    again = listing.list_runs(tmp_path / "runs")
    assert len(parsed) == 4  # nothing changed: nothing parsed
    assert all(run.step != -1 for run in again)

    with open(unfinished / "events.jsonl", "a") as handle:
        handle.write(StepLogged(step=999, max_steps=999, epoch=4.0, loss=0.1).to_json() + "\n")
        handle.write(finished.to_json() + "\n")
    latest = {run.name: run for run in listing.list_runs(tmp_path / "runs")}
    assert len(parsed) == 5 and parsed[-1][0].path == unfinished
    assert latest["going"].status == "completed" and latest["going"].step == 999


def test_the_run_folder_claim_decides_every_unfinished_run(tmp_path):
    from fttui.runner.lock import claim

    events = [e for e in recorded_events() if not isinstance(e, Finished)]
    folders = [write_run(tmp_path / "runs", f"unfinished-{index}", events) for index in range(3)]
    lock = claim(folders[1], "resume")  # a worker still trains in the second one
    lock.set_worker(os.getpid())
    found = {run.name: run for run in listing.list_runs(tmp_path / "runs")}
    assert found["unfinished-1"].status == "running" and found["unfinished-1"].pid == os.getpid()
    assert found["unfinished-0"].status == found["unfinished-2"].status == "interrupted"
    reader = claim(folders[0], "export")  # an export is no training: the run is still interrupted
    assert {run.name: run for run in listing.list_runs(tmp_path / "runs")}["unfinished-0"].status == "interrupted"
    reader.release()
    lock.release()
    found = {run.name: run for run in listing.list_runs(tmp_path / "runs")}
    assert found["unfinished-1"].status == "interrupted"  # asked again on every visit: the worker has ended


def test_a_deleted_run_leaves_the_listing_and_the_cache(tmp_path):
    import shutil

    events = recorded_events()
    finished = next(e for e in events if isinstance(e, Finished))
    kept = write_run(tmp_path / "runs", "kept", events, finished.summary)
    gone = write_run(tmp_path / "runs", "gone", events, finished.summary)
    assert {run.name for run in listing.list_runs(tmp_path / "runs")} == {"kept", "gone"}
    shutil.rmtree(gone)
    assert [run.name for run in listing.list_runs(tmp_path / "runs")] == ["kept"]
    assert gone not in listing._parsed and kept in listing._parsed
