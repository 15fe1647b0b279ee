"""A worker killed mid-write leaves events.jsonl cut mid-line; the resumed worker's events must all survive."""
from __future__ import annotations

from fttui.engine.sink import StreamSink
from fttui.engine.worker import open_events_log
from fttui.events import StepLogged
from fttui.runner.run_folder import RunFolder


def step(n: int) -> StepLogged:
    return StepLogged(step=n, max_steps=10, epoch=n / 10, loss=1.0 / n)


def append(path, *events) -> None:
    """Through the worker's own opening code, as a resumed run does."""
    sink = StreamSink(open_events_log(path), "events.jsonl")
    for event in events:
        sink.emit(event)
    sink.stream.close()


def test_a_resumed_run_after_a_torn_line_keeps_every_new_event(tmp_path):
    path = tmp_path / "events.jsonl"
    whole = "".join(step(n).to_json() + "\n" for n in (1, 2, 3))
    path.write_text(whole[: len(whole) - 20], encoding="utf-8")  # killed while writing step 3
    append(path, step(4), step(5))
    assert [event.step for event in RunFolder(path.parent).all_events()] == [1, 2, 4, 5]

    from fttui.runner.supervisor import TailSupervisor

    first, tail = RunFolder(tmp_path).head_and_tail()
    assert first.step == 1 and [event.step for event in tail] == [1, 2, 4, 5]
    follower = TailSupervisor(tmp_path)  # no worker: reads to the end, then reports the end
    seen = []
    while (event := follower.next_event(timeout=0)) not in (None, False):
        seen.append(event.step)
    assert seen == [1, 2, 4, 5]


def test_an_intact_or_new_file_gets_no_blank_lines(tmp_path):
    path = tmp_path / "events.jsonl"
    first, second = step(1), step(2)
    append(path, first)
    append(path, second)
    assert path.read_text(encoding="utf-8") == first.to_json() + "\n" + second.to_json() + "\n"


def test_a_garbled_line_is_skipped_not_fatal(tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_bytes(step(1).to_json().encode() + b"\n\xff\xfe{\"event\": \"st\n")
    append(path, step(2))
    assert [event.step for event in RunFolder(path.parent).all_events()] == [1, 2]
