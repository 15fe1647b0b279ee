"""The data people really have, prepared for SFT: tool calls, prompt/completion, system columns; over-long
and unreadable rows are counted, never fatal under the defaults (the MiniLM tokenizer, fallback template)."""
from __future__ import annotations

import json

import pytest

from fttui.config import validate_config
from fttui.engine.data.chat import IGNORE_INDEX
from fttui.engine.data.dataset import prepare_data
from fttui.engine.models.loading import load_tokenizer, resolve_model
from fttui.errors import DataError


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return str(path)


def prepared(model, train, max_length=128, **data):
    config = validate_config({"model": {"name": model, "task": "causal-lm"},
                              "data": {"train": train, "eval": None, **data},
                              "training": {"max_length": max_length, "sample_prompts": 2}})
    tokenizer = load_tokenizer(resolve_model(model), config)
    return prepare_data(config, "causal-lm", tokenizer), tokenizer


def trained_text(tokenizer, example) -> str:
    return tokenizer.decode([t for t, label in zip(example["input_ids"], example["labels"]) if label != IGNORE_INDEX])


def prompt_text(tokenizer, example) -> str:
    return tokenizer.decode([t for t, label in zip(example["input_ids"], example["labels"]) if label == IGNORE_INDEX])


def alpaca(i: int, words: int = 2) -> dict:
    return {"instruction": " ".join(["explain"] * words) + f" {i}", "input": "", "output": f"answer {i}"}


def test_sharegpt_function_calls_train_and_observations_are_prompt(tmp_path, tiny_llama):
    tools = json.dumps([{"name": "lookup", "description": "find a word", "parameters": {"type": "object"}}])
    rows = [{"tools": tools, "system": "be brief", "conversations": [
        {"from": "human", "value": f"find word {i}"},
        {"from": "function_call", "value": json.dumps({"name": "lookup", "arguments": {"word": f"w{i}"}})},
        {"from": "observation", "value": f"meaning {i} found"},
        {"from": "gpt", "value": f"it means {i}"}]} for i in range(4)]
    data, tokenizer = prepared(tiny_llama, write_jsonl(tmp_path / "tools.jsonl", rows), max_length=256)
    assert data.layout.format == "chat" and len(data.train) == 4 and data.counts.bad == 0
    trained, prompt = trained_text(tokenizer, data.train[1]), prompt_text(tokenizer, data.train[1])
    assert trained == '{ " name " : " lookup ", " arguments " : { " word " : " w1 " } } [SEP] it means 1 [SEP]'
    assert "meaning 1 found" in prompt and "be brief" in prompt and "find a word" in prompt  # tools: system JSON
    assert data.sample_prompts[0].endswith("### Assistant:\n") and "find word 0" in data.sample_prompts[0]


def test_openai_tool_calls_and_tool_role(tmp_path, tiny_llama):
    rows = [{"messages": [
        {"role": "user", "content": f"add {i} and 2"},
        {"role": "assistant", "content": None, "tool_calls": [{"id": "call_x", "type": "function", "function": {
            "name": "add", "arguments": json.dumps({"a": i, "b": 2})}}]},
        {"role": "tool", "tool_call_id": "call_x", "content": str(i + 2)},
        {"role": "assistant", "content": f"the sum is {i + 2}"}]} for i in range(3)]
    data, tokenizer = prepared(tiny_llama, write_jsonl(tmp_path / "openai.jsonl", rows))
    trained = trained_text(tokenizer, data.train[2])
    assert trained == '{ " name " : " add ", " arguments " : { " a " : 2, " b " : 2 } } [SEP] the sum is 4 [SEP]'
    assert "# # # tool : 4 # # # assistant :" in prompt_text(tokenizer, data.train[2])


@pytest.mark.parametrize("conversational", [False, True], ids=["strings", "messages"])
def test_prompt_completion_trains_the_completion_only(tmp_path, tiny_llama, conversational):
    def message(role, text):
        return [{"role": role, "content": text}] if conversational else text

    # Plain strings are joined as they are (as TRL does): the completion brings its own leading space.
    rows = [{"prompt": message("user", f"count to {i}"), "completion": message("assistant", f" one to {i}")}
            for i in range(3)]
    data, tokenizer = prepared(tiny_llama, write_jsonl(tmp_path / "pc.jsonl", rows))
    assert data.layout.format == "prompt-completion"
    assert trained_text(tokenizer, data.train[1]) == "one to 1 [SEP]"
    prompt = prompt_text(tokenizer, data.train[1])
    assert ("# # # user :" in prompt) == conversational and "count to 1" in prompt
    assert bool(tokenizer.chat_template)  # conversational rows may render with it; it is saved either way


def test_an_overlong_row_is_truncated_keeping_its_response_and_counted(tmp_path, tiny_llama):
    rows = [alpaca(i) for i in range(9)] + [alpaca(9, words=200)]
    data, tokenizer = prepared(tiny_llama, write_jsonl(tmp_path / "long.jsonl", rows), max_length=32)
    assert len(data.train) == 10 and data.truncated_rows == data.counts.truncated == 1
    long = data.train[9]
    assert len(long["input_ids"]) == 32 and trained_text(tokenizer, long) == "answer 9 [SEP]"
    assert prompt_text(tokenizer, long).startswith("explain explain")  # the instruction's start is what went


def test_overlong_drop_and_error(tmp_path, tiny_llama):
    rows = [alpaca(i) for i in range(9)] + [alpaca(9, words=200)]
    path = write_jsonl(tmp_path / "long.jsonl", rows)
    data, _ = prepared(tiny_llama, path, max_length=32, overlong="drop")
    assert len(data.train) == 9 and data.counts.dropped == 1 and data.counts.truncated == 0
    with pytest.raises(DataError, match=r"long.jsonl line 10: \d+ tokens, more than training.max_length=32"):
        prepared(tiny_llama, path, max_length=32, overlong="error")


def test_bad_rows_are_skipped_up_to_the_cap_then_stop_the_run_with_file_and_line(tmp_path, tiny_llama):
    rows = [alpaca(i) for i in range(200)]
    rows[5] = {"instruction": "no output here", "output": ""}
    rows[17] = {"instruction": "still none", "output": "   "}
    path = write_jsonl(tmp_path / "bad.jsonl", rows)
    data, _ = prepared(tiny_llama, path)  # the default cap is 1% of 200 rows: 2
    assert len(data.train) == 198 and data.counts.bad == 2
    assert data.counts.errors[0].startswith(f"{path} line 6: ")
    with pytest.raises(DataError) as info:
        prepared(tiny_llama, path, max_bad_rows=1)
    message = info.value.message
    assert "2 of 200 rows cannot be read as alpaca data (data.max_bad_rows allows 1)" in message
    assert f"{path} line 6: alpaca rows need" in message and f"{path} line 18: " in message


def test_unknown_roles_and_missing_replies_are_bad_rows_not_crashes(tmp_path, tiny_llama):
    good = [{"messages": [{"role": "user", "content": f"hi {i}"}, {"role": "assistant", "content": "hello"}]}
            for i in range(3)]
    bad = [{"messages": [{"role": "robot", "content": "beep"}, {"role": "assistant", "content": "x"}]},
           {"messages": [{"role": "user", "content": "only a question"}]}]
    path = write_jsonl(tmp_path / "chat.jsonl", good + bad)
    data, _ = prepared(tiny_llama, path, max_bad_rows=2)
    assert len(data.train) == 3 and data.counts.bad == 2
    assert "'robot'" in data.counts.errors[0] and "no assistant reply" in data.counts.errors[1]


def test_the_preview_shows_the_trained_pieces_and_counts_bad_rows(tmp_path, tiny_llama):
    from fttui.engine.data.preview import preview

    rows = [{"messages": [{"role": "user", "content": f"hi {i}"}, {"role": "assistant", "content": "hello"}]}
            for i in range(3)] + [{"messages": [{"role": "user", "content": "no reply"}]}]
    config = validate_config({"model": {"name": tiny_llama, "task": "causal-lm"},
                              "data": {"train": write_jsonl(tmp_path / "chat.jsonl", rows), "eval": None}})
    shown = preview(config)
    assert shown.bad_rows == 1 and shown.measured_rows == 3
    segments = shown.examples[0]["segments"]
    assert [piece for piece, trained in segments if trained] == ["hello[SEP]"]
    assert "".join(piece for piece, _ in segments) == "### User:\nhi 0\n\n### Assistant:\nhello[SEP]"
