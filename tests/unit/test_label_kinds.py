"""Classification labels keep their meaning: 0 and "0" are one label, words and numbers never mix silently,
and booleans are labels only when every row's label is one."""
from __future__ import annotations

import pytest

from fttui.config import validate_config
from fttui.engine.data.data_files import Rows
from fttui.engine.data.formats import Layout, canonical_label, check_labels, label_set, read_labels
from fttui.errors import DataError

LAYOUT = Layout("classification", "text", "label")


def rows(*labels) -> Rows:
    return Rows([{"text": f"row {i}", "label": label} for i, label in enumerate(labels)], "train.jsonl",
                list(range(1, len(labels) + 1)))


def labels_of(*labels) -> tuple[list[str], list[str]]:
    read = read_labels(rows(*labels), LAYOUT)
    return list(read), label_set(read, None)


def test_a_number_is_one_label_however_it_is_written():
    read, known = labels_of(0, "0", 0.0, " 0 ", 1, "1", "1.0", 2.5, "2.50")
    assert read == ["0", "0", "0", "0", "1", "1", "1", "2.5", "2.5"]
    assert known == ["0", "1", "2.5"]  # three classes, not nine


def test_numbers_written_as_strings_sort_as_numbers():
    assert labels_of("10", "2", "-1", 2)[1] == ["-1", "2", "10"]


def test_numbers_mixed_with_words_name_the_first_odd_row_and_both_kinds():
    with pytest.raises(DataError) as info:
        labels_of(0, "1", 0, 1, "negative", "positive", 1)
    assert info.value.message == ("labels mix numbers (0, 1) and words (negative, positive): train.jsonl line 5 is "
                                  "the first row labelled with a word ('negative'), unlike the 5 rows labelled with "
                                  "numbers")
    assert "use one kind of label" in info.value.hint
    assert "data.labels=[0,1,negative,positive]" in info.value.hint


def test_the_odd_row_is_the_one_unlike_most_rows():
    with pytest.raises(DataError, match=r"line 1 is the first row labelled with a number \('3'\)"):
        labels_of(3, "neg", "pos", "neg")


def test_booleans_alone_are_the_labels_false_and_true():
    read, known = labels_of(True, False, True)
    assert read == ["true", "false", "true"] and known == ["false", "true"]
    assert check_labels(rows(True, False, True), read, known) == [1, 0, 1]


@pytest.mark.parametrize("mixed", [(True, 0, 1, 0), (True, "yes", "no", "no"), (1, True, "true")])
def test_booleans_among_other_labels_are_refused(mixed):
    with pytest.raises(DataError) as info:
        labels_of(*mixed)
    assert "booleans (true)" in info.value.message
    assert "true/false are labels only when every row's label is one" in info.value.hint


def test_a_configured_label_set_may_mix_kinds_and_matches_numbers_however_written():
    data = rows(0, "negative", "1.0")
    read = read_labels(data, LAYOUT)
    known = label_set(read, validate_config({"data": {"train": "x.jsonl", "labels": ["negative", 0, 1.0]}}).data.labels)
    assert known == ["negative", "0", "1"]
    assert check_labels(data, read, known) == [1, 0, 2]


def test_configured_booleans_are_the_labels_data_booleans_read_as():
    labels = validate_config({"data": {"train": "x.jsonl", "labels": [False, True]}}).data.labels
    assert labels == ["false", "true"]
    assert label_set(read_labels(rows(True, False), LAYOUT), labels) == ["false", "true"]


@pytest.mark.parametrize("value, where", [([1, 2], "list"), ({"a": 1}, "JSON object")])
def test_a_label_that_is_a_list_or_object_is_refused_with_its_line(value, where):
    with pytest.raises(DataError, match=rf"^train.jsonl line 2: the label is a {where}"):
        read_labels(rows("a", value), LAYOUT)


def test_nan_is_a_missing_label():
    with pytest.raises(DataError, match=r"^train.jsonl line 1: no 'label' value"):
        read_labels(rows(float("nan"), "a"), LAYOUT)


@pytest.mark.parametrize("value, expected", [("1e3", "1000"), ("007", "7"), ("inf", "inf"), ("9" * 50, "9" * 50),
                                             ("  Pos ", "Pos"), (False, "false"), ("TRUE", "true"), (-3.0, "-3")])
def test_canonical_label(value, expected):
    assert canonical_label(value) == expected


def test_csv_booleans_in_any_case_are_the_same_labels_as_json_booleans():
    assert labels_of("True", "FALSE", True, "false") == (["true", "false", "true", "false"], ["false", "true"])


def test_an_arrow_column_is_checked_with_the_rows_named_by_the_caller():
    import pyarrow as pa

    column = pa.chunked_array([["0", "1"], ["1", "neg"]])
    assert label_set(pa.chunked_array([["1", "0"], ["10"]]), None, where=lambda i: f"row {i}") == ["0", "1", "10"]
    with pytest.raises(DataError, match=r"words \(neg\): line 4 of f is the first row labelled with a word"):
        label_set(column, None, where=lambda i: f"line {i + 1} of f")
