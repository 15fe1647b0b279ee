"""``RunFolder`` against a folder the engine really wrote: events from an offset, a torn last line, a damaged or
missing checkpoint, the typed summary read back as written, and the output named for what it is."""
from __future__ import annotations

import json
import shutil

import pytest

from fttui.events import Evaluated, Finished, Planned, StepLogged
from fttui.runner.run_folder import RunFolder
from fttui.runner.summary import RunSummary

from conftest import NEGATIVE, POSITIVE, write_jsonl


@pytest.fixture(scope="module")
def engine_run(tmp_path_factory, tiny_bert):
    """A finished 4-step LoRA run with a baseline, checkpoints 2 and 4, and events.jsonl written as the worker does."""
    from fttui.config import validate_config
    from fttui.engine.training.recipe import run
    from fttui.engine.sink import StreamSink
    from fttui.engine.worker import open_events_log
    from fttui.runner.run_dir import create_run_dir

    where = tmp_path_factory.mktemp("engine-run")
    words = POSITIVE[:3] + NEGATIVE[:3]
    rows = [{"text": f"it was {words[i % 6]}", "label": "pos" if i % 6 < 3 else "neg"} for i in range(32)]
    config = validate_config({
        "model": {"name": tiny_bert, "task": "seq-cls"},
        "data": {"train": write_jsonl(where / "train.jsonl", rows), "eval": 0.25},
        "method": {"name": "lora"},
        "training": {"max_steps": 4, "batch_size": 8, "save_steps": 2, "eval_steps": 2, "logging_steps": 1,
                     "precision": "fp32"},
        "output": {"dir": str(where / "run")},
    })
    run_dir, lock = create_run_dir(config)
    events = open_events_log(run_dir / "events.jsonl")
    try:
        run(config, run_dir, StreamSink(events, "events.jsonl"))
    finally:
        events.close()
        lock.release()
    return run_dir


def copy_of(engine_run, tmp_path) -> RunFolder:
    shutil.copytree(engine_run, tmp_path / "run")
    return RunFolder(tmp_path / "run")


def test_events_read_from_an_offset_continue_where_the_last_read_stopped(engine_run):
    folder = RunFolder(engine_run)
    everything, end = folder.events()
    assert any(isinstance(e, Planned) for e in everything) and isinstance(everything[-1], Finished)
    assert end == folder.events_file.stat().st_size
    text = folder.events_file.read_bytes()
    middle = text.rindex(b"\n", 0, text.index(b'"event": "step"')) + 1  # where the first step's line starts
    rest, again = folder.events(middle)
    assert rest == everything[len(everything) - len(rest):] and isinstance(rest[0], StepLogged)
    assert again == end and folder.events(end) == ([], end)  # nothing new: nothing read, the offset stays
    records, _ = folder.records(middle)
    assert [record["event"] for record in records] == [event.name for event in rest]  # the same lines, undecoded


def test_a_torn_last_line_waits_for_its_newline_and_is_never_an_error(engine_run, tmp_path):
    folder = copy_of(engine_run, tmp_path)
    whole, end = folder.events()
    line = whole[-1].to_json().encode()
    with open(folder.events_file, "ab") as handle:  # a worker killed in the middle of writing an event
        handle.write(line[: len(line) // 2])
    events, offset = folder.events()
    assert events == whole and offset == end  # the half line is not read, and not skipped past
    assert folder.events(final=True)[0] == whole  # no writer any more: a half line still parses to nothing
    assert folder.read().status == "completed"
    with open(folder.events_file, "ab") as handle:  # the line ends after all
        handle.write(line[len(line) // 2:] + b"\n")
    more, _ = folder.events(offset)
    assert more == [whole[-1]]


def test_a_damaged_or_missing_checkpoint_is_skipped_for_the_last_intact_one(engine_run, tmp_path):
    folder = copy_of(engine_run, tmp_path)
    checkpoints = folder.path / "checkpoints"
    assert folder.last_checkpoint() == checkpoints / "checkpoint-4"
    weights = next((checkpoints / "checkpoint-4").glob("*.safetensors"))
    weights.write_bytes(weights.read_bytes()[:100])  # cut short by a kill or a full disk
    assert folder.last_checkpoint() == checkpoints / "checkpoint-2"
    shutil.rmtree(checkpoints / "checkpoint-2")
    assert folder.last_checkpoint() is None
    shutil.rmtree(checkpoints)
    assert folder.last_checkpoint() is None and folder.read().status == "completed"


def test_the_summary_reads_back_as_the_engine_wrote_it_with_base_and_tuned_pairs(engine_run):
    folder = RunFolder(engine_run)
    on_disk = json.loads(folder.summary_file.read_text())
    summary = folder.summary()
    assert summary.to_dict() == on_disk  # every key kept: old readers of summary.json see no change
    assert summary.status == "completed" and summary.global_step == 4 and summary.task == folder.task == "seq-cls"
    baseline = next(e for e in folder.all_events() if isinstance(e, Evaluated) and e.baseline)
    assert summary.metrics["accuracy"].base == baseline.metrics["accuracy"] == on_disk["baseline_eval_accuracy"]
    assert summary.metrics["accuracy"].tuned == on_disk["eval_accuracy"]
    assert not any(name.endswith(("runtime", "per_second", "epoch")) for name in summary.metrics)
    assert folder.baseline()["accuracy"] == baseline.metrics["accuracy"]  # what a resume reads back
    assert folder.output == folder.path / "adapter" and RunSummary.from_dict(on_disk).output_kind == "adapter"


def test_the_listing_of_a_real_run(engine_run):
    info = RunFolder(engine_run).read()
    assert (info.status, info.step, info.max_steps, info.method) == ("completed", 4, 4, "lora")
    assert info.output == engine_run / "adapter" and info.pid is None
    assert info.headline_metric().startswith("accuracy ")
