"""The worker <-> front end protocol: every event survives JSON, and readers shrug off noise."""
from __future__ import annotations

import json

import pytest

from fttui.events import (
    EVENT_TYPES,
    CheckpointSaved,
    Evaluated,
    Exported,
    Failed,
    Finished,
    FitChecked,
    Logged,
    Planned,
    Previewed,
    Scored,
    Started,
    StepLogged,
    TryAnswered,
    parse_event,
)
from fttui.runner.run_folder import RunFolder

SAMPLES = [
    Planned(task="seq-cls", method="lora", model="builtin", data_format="classification", train_rows=480,
            eval_rows=120, truncated_rows=3, trainable_params=1234, total_params=22_700_000, max_steps=120,
            epochs=4.0, device="cpu", precision="fp32", labels=["negative", "positive"], time=1.5),
    Previewed(data_format="chat", columns=["messages"], text_column=None, label_column=None, train_rows=10,
              eval_rows=2, labels=None,
              examples=[{"segments": [["### User:\nhi\n\n", False], ["hello", True]], "label": None, "tokens": 9}],
              length_bins=[0, 8, 16], length_counts=[3, 7], truncated_fraction=0.25, max_length=16,
              measured_rows=10, time=2.0),
    Started(run_dir="/tmp/runs/x", max_steps=10, epochs=1.0, trainable_params=10, total_params=100, device="cpu",
            precision="bf16", world_size=2, resumed_from_step=4, time=3.0),
    StepLogged(step=5, max_steps=10, epoch=0.5, loss=0.6931, learning_rate=2e-4, grad_norm=1.25,
               samples_per_second=33.3, elapsed_s=12.5, eta_s=12.0, time=4.0),
    StepLogged(step=1, max_steps=10, epoch=0.1, loss=None, time=4.5),
    Evaluated(step=10, epoch=1.0, metrics={"loss": 0.4, "accuracy": 0.875}, time=5.0),
    CheckpointSaved(step=10, path="/tmp/runs/x/checkpoints/checkpoint-10", time=6.0),
    Logged(message="3 rows truncated", level="warning", time=7.0),
    Logged(message="héllo ✓ 日本", time=7.5),
    Finished(status="completed", summary={"global_step": 10, "eval_accuracy": 0.9, "labels": ["a", "b"]},
             output_path="/tmp/runs/x/adapter", time=8.0),
    Failed(kind="DataError", message="t.jsonl line 3: not valid JSON", hint="fix it", exit_code=3, time=9.0),
    Exported(out="/tmp/out", kind="merged model", dtype="bfloat16", notes=["merged unquantized"], time=10.0),
    TryAnswered(prompt="great film", base="negative", tuned="positive", task="seq-cls", base_probability=0.51,
                tuned_probability=0.97, time=11.0),
    Scored(result={"rows": 24, "tuned": {"metrics": {"loss": 0.5}, "details": {}}}, time=12.0),
    FitChecked(measured_mb=1234.5, estimate_mb=None, changes=["batch 8 -> 4 x 2 accumulation"], batch_size=4,
               gradient_accumulation=2, gradient_checkpointing=False, time=13.0),
]


def test_samples_cover_every_event_type():
    assert {type(event) for event in SAMPLES} == set(EVENT_TYPES.values())


@pytest.mark.parametrize("event", SAMPLES, ids=lambda e: f"{type(e).__name__}")
def test_event_round_trips_through_json(event):
    line = event.to_json()
    assert "\n" not in line  # one event, one line
    assert json.loads(line)["event"] == event.name
    parsed = parse_event(line)
    assert type(parsed) is type(event)
    assert parsed == event


def test_event_time_defaults_to_now():
    event = Logged(message="x")
    assert event.time > 1.6e9
    assert parse_event(event.to_json()).time == event.time


def test_event_names_are_unique():
    classes = [Planned, Previewed, Started, StepLogged, Evaluated, CheckpointSaved, Logged, Finished, Failed]
    assert len({cls.name for cls in classes}) == len(classes)


@pytest.mark.parametrize(
    "line",
    ["", "   \n", "\n", "not json at all", "Traceback (most recent call last):", "[1, 2, 3]", "{broken json",
     '{"event": "no-such-event", "x": 1}', '{"no_event_key": 1}', '{"event": null}', '"just a string"', "42"],
)
def test_parse_event_ignores_lines_that_are_not_events(line):
    assert parse_event(line) is None


def test_parse_event_tolerates_extra_fields_and_surrounding_whitespace():
    data = json.loads(StepLogged(step=2, max_steps=4, epoch=0.5, loss=1.0, time=1.0).to_json())
    data["added_in_a_later_version"] = {"x": 1}
    event = parse_event("  " + json.dumps(data) + "\r\n")
    assert event == StepLogged(step=2, max_steps=4, epoch=0.5, loss=1.0, time=1.0)


def test_parse_event_ignores_objects_that_are_not_valid_events():
    assert parse_event('{"event": "step", "step": 1}') is None
    assert parse_event('{"event": ["step"]}') is None


def _write(path, lines: list[str], tail: str = "") -> None:
    path.write_text("".join(line + "\n" for line in lines) + tail, encoding="utf-8")


def test_a_run_folders_events_come_back_in_order(tmp_path):
    path = tmp_path / "events.jsonl"
    _write(path, [SAMPLES[0].to_json(), "", "some stray print", SAMPLES[3].to_json(), SAMPLES[-1].to_json()])
    assert RunFolder(path.parent).all_events() == [SAMPLES[0], SAMPLES[3], SAMPLES[-1]]


def test_a_run_folders_torn_last_line_is_skipped(tmp_path):
    path = tmp_path / "events.jsonl"
    complete = [event.to_json() for event in SAMPLES[:4]]
    head = "".join(line + "\n" for line in complete).encode("utf-8")
    last = Logged(message="héllo ✓ 日本 — cut anywhere", time=1.0).to_json().encode("utf-8")
    for cut in range(1, len(last)):  # a crash can stop the write at any byte, even inside a character
        path.write_bytes(head + last[:cut])
        assert RunFolder(path.parent).all_events() == SAMPLES[:4], f"cut at byte {cut}: {last[:cut]!r}"


def test_a_run_folders_empty_events_file_has_no_events(tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text("", encoding="utf-8")
    assert RunFolder(path.parent).all_events() == []
