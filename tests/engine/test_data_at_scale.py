"""Data through Arrow in batches: exact counts across batches, cached tokens (a resume does not tokenize
again), progress lines, and a huge line that is clipped before it is tokenized."""
from __future__ import annotations

import json

import pytest

from fttui.config import validate_config
from fttui.engine.data import arrow_data, encoding
from fttui.engine.data.chat import IGNORE_INDEX
from fttui.engine.data.dataset import prepare_data
from fttui.engine.models.loading import load_tokenizer, resolve_model
from fttui.engine.training.recipe import run
from fttui.engine.sink import ListSink
from fttui.errors import DataError
from fttui.events import Logged, Started


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return str(path)


def chat(i: int, user: str | None = None) -> dict:
    return {"messages": [{"role": "user", "content": user or f"question {i}"},
                         {"role": "assistant", "content": f"answer {i}"}]}


def config_for(model, train, task="causal-lm", max_length=64, **data):
    return validate_config({"model": {"name": model, "task": task}, "data": {"train": train, "eval": None, **data},
                            "training": {"max_length": max_length, "sample_prompts": 1}})


def prepared(config, task="causal-lm", events=None):
    tokenizer = load_tokenizer(resolve_model(config.model.name), config)
    return prepare_data(config, task, tokenizer, None if events is None else events.append), tokenizer


@pytest.fixture
def rendered(monkeypatch):
    """Counts the rows rendered for tokenizing."""
    calls = []
    real = encoding.render_row

    def counting(*args, **kwargs):
        calls.append(args[3])
        return real(*args, **kwargs)

    monkeypatch.setattr(encoding, "render_row", counting)
    return calls


def test_counts_and_errors_are_exact_across_batches(tmp_path, tiny_llama):
    """1,300 rows span three map batches: every bad, dropped and kept row is counted once, and the errors
    quoted are the first five in file order."""
    rows, bad_lines = [], []
    for i in range(1300):
        if i % 97 == 5:
            rows.append({"messages": [{"role": "user", "content": "no reply"}]})
            bad_lines.append(i + 1)
        elif i % 50 == 7:
            rows.append(chat(i, "long " * 200))
        else:
            rows.append(chat(i))
    path = write_jsonl(tmp_path / "chat.jsonl", rows)
    data, _ = prepared(config_for(tiny_llama, path, overlong="drop", max_bad_rows=100))
    long_rows = sum(1 for i in range(1300) if i % 50 == 7 and i % 97 != 5)
    assert (data.counts.rows, data.counts.bad, data.counts.dropped) == (1300, len(bad_lines), long_rows)
    assert len(data.train) == 1300 - len(bad_lines) - long_rows
    assert [e.split(" line ")[1].split(":")[0] for e in data.counts.errors] == [str(n) for n in bad_lines[:5]]
    assert all(e.startswith(f"{path} line ") for e in data.counts.errors)
    with pytest.raises(DataError, match=f"{len(bad_lines)} of 1300 rows cannot be read"):
        prepared(config_for(tiny_llama, path, overlong="drop", max_bad_rows=len(bad_lines) - 1))


def test_a_line_that_is_not_json_far_into_the_file_names_its_line(tmp_path, tiny_llama):
    path = tmp_path / "chat.jsonl"
    path.write_text("".join(json.dumps(chat(i)) + "\n" for i in range(1200)) + '{"messages": [}\n', encoding="utf-8")
    with pytest.raises(DataError, match=f"^{path} line 1201: not valid JSON"):
        prepared(config_for(tiny_llama, str(path)))


def test_classification_labels_across_batches_and_an_unknown_eval_label(tmp_path, tiny_bert):
    rows = [{"text": f"row {i} " + "word " * (i % 40), "label": "abc"[i % 3]} for i in range(1100)]
    train = write_jsonl(tmp_path / "train.jsonl", rows)
    data, tokenizer = prepared(config_for(tiny_bert, train, task="seq-cls", max_length=32), task="seq-cls")
    assert data.labels == ["a", "b", "c"] and len(data.train) == 1100
    assert [data.train[i]["labels"] for i in (0, 1, 2, 1099)] == [0, 1, 2, 1099 % 3]
    whole = [tokenizer(row["text"])["input_ids"] for row in rows]
    assert data.truncated_rows == sum(len(ids) > 32 for ids in whole) > 0
    assert data.train["input_ids"] == [ids if len(ids) <= 32 else ids[:31] + ids[-1:] for ids in whole]
    evaluation = write_jsonl(tmp_path / "eval.jsonl", [{"text": "x", "label": "a"}] * 600 + [{"text": "y", "label": "d"}])
    with pytest.raises(DataError, match=f"^{evaluation} line 601: label 'd' is not in the label set"):
        prepared(config_for(tiny_bert, train, task="seq-cls", eval=evaluation), task="seq-cls")


def test_a_re_run_uses_the_cache_and_a_changed_setting_or_file_does_not(tmp_path, tiny_llama, rendered):
    path = write_jsonl(tmp_path / "chat.jsonl", [chat(i) for i in range(20)])
    first_events, again_events = [], []
    first, _ = prepared(config_for(tiny_llama, path), events=first_events)
    assert len(rendered) == 20
    again, tokenizer = prepared(config_for(tiny_llama, path), events=again_events)
    assert len(rendered) == 20  # nothing rendered or tokenized again
    assert any("using the prepared data from cache" in e.message for e in again_events)
    assert again.train["input_ids"] == first.train["input_ids"] and again.train["labels"] == first.train["labels"]
    assert again.sample_prompts == first.sample_prompts and again.counts == first.counts
    assert tokenizer.chat_template and tokenizer.eos_token  # fitted as for a fresh preparation
    prepared(config_for(tiny_llama, path, max_length=32))
    assert len(rendered) == 40  # max_length changes tokens
    prepared(config_for(tiny_llama, path, system_prompt="be brief"))
    assert len(rendered) == 60
    write_jsonl(tmp_path / "chat.jsonl", [chat(i) for i in range(21)])
    prepared(config_for(tiny_llama, path))
    assert len(rendered) == 81  # the file changed


def test_a_resumed_run_does_not_tokenize_again(tmp_path, tiny_llama, rendered):
    path = write_jsonl(tmp_path / "chat.jsonl", [chat(i) for i in range(16)])
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    config = validate_config({"model": {"name": tiny_llama, "task": "causal-lm"}, "data": {"train": path, "eval": None},
                              "training": {"max_steps": 2, "batch_size": 4, "save_steps": 1, "max_length": 64,
                                           "precision": "fp32", "logging_steps": 1},
                              "output": {"dir": str(run_dir)}})
    run(config, run_dir, ListSink())
    assert len(rendered) == 16
    resumed = ListSink()
    longer = config.model_copy(update={"training": config.training.model_copy(update={"max_steps": 3})})
    run(longer, run_dir, resumed, resume=True)
    assert len(rendered) == 16
    assert next(e for e in resumed.events if isinstance(e, Started)).resumed_from_step == 2
    assert any(isinstance(e, Logged) and "using the prepared data from cache" in e.message for e in resumed.events)


def test_progress_lines_give_rows_per_second_and_eta(tmp_path, tiny_llama, monkeypatch):
    monkeypatch.setattr(arrow_data, "PROGRESS_EVERY", 0.0)
    monkeypatch.setattr(encoding, "BATCH", 100)
    path = write_jsonl(tmp_path / "chat.jsonl", [chat(i) for i in range(300)])
    events = []
    prepared(config_for(tiny_llama, path), events=events)
    lines = [e.message for e in events if e.topic == "progress"]
    assert lines[0].startswith("preparing train data: 100 of 300 rows (33%), ") and "rows/s, ETA " in lines[0]
    assert lines[-1].startswith("preparing train data: 300 of 300 rows (100%)")
    done = [e.message for e in events if e.topic == "data"]
    assert len(done) == 1 and done[0].startswith("prepared 300 rows in ")


def test_a_huge_prompt_is_clipped_before_tokenizing_and_the_reply_kept(tmp_path, tiny_llama, monkeypatch):
    import fttui.engine.data.encoding as module

    longest = []
    real = module.encode
    monkeypatch.setattr(module, "encode", lambda text, spans, tok: longest.append(len(text)) or real(text, spans, tok))
    huge = "filler words here " * 300_000  # 5.4 MB in one message
    path = write_jsonl(tmp_path / "chat.jsonl", [chat(0, huge), chat(1)])
    data, tokenizer = prepared(config_for(tiny_llama, path, max_length=64))
    assert max(longest) < 64 * encoding.CHARS_PER_TOKEN + 2048  # never the 5 MB text
    assert data.counts.truncated == 1 and len(data.train) == 2
    first = data.train[0]
    assert len(first["input_ids"]) == 64
    trained = tokenizer.decode([t for t, label in zip(first["input_ids"], first["labels"]) if label != IGNORE_INDEX])
    assert trained == f"answer 0 {tokenizer.eos_token}"
    assert "filler words here" in tokenizer.decode(first["input_ids"])
    with pytest.raises(DataError, match=f"^{path} line 1: .* more than training.max_length=64"):
        prepared(config_for(tiny_llama, path, max_length=64, overlong="error"))


def test_the_preview_counts_a_file_it_does_not_hold(tmp_path):
    from fttui.engine.data.dataset import preview_rows

    path = write_jsonl(tmp_path / "chat.jsonl", [chat(i) for i in range(1300)])
    config = validate_config({"data": {"train": path, "eval": 0.1}})
    rows, train_rows, eval_rows = preview_rows(config, 10)
    assert (len(rows), train_rows, eval_rows) == (10, 1170, 130) and rows.where(9) == f"{path} line 10"
    capped = validate_config({"data": {"train": path, "eval": path, "max_train_rows": 5, "max_eval_rows": 7}})
    assert [len(preview_rows(capped, 10)[0]), *preview_rows(capped, 10)[1:]] == [5, 5, 7]
