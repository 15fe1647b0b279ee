"""Data files saved by Excel or Notepad start with a UTF-8 byte-order mark; it must not reach a column name."""
from __future__ import annotations

import json

import pytest

from fttui.engine.data.data_files import read_rows

BOM = b"\xef\xbb\xbf"


@pytest.mark.parametrize("name, body", [
    ("train.csv", "text,label\ngreat film,pos\n"),
    ("train.tsv", "text\tlabel\ngreat film\tpos\n"),
    ("train.jsonl", json.dumps({"text": "great film", "label": "pos"}) + "\n"),
    ("train.json", json.dumps([{"text": "great film", "label": "pos"}])),
])
def test_a_bom_is_dropped_from_the_first_column(tmp_path, name, body):
    path = tmp_path / name
    path.write_bytes(BOM + body.encode("utf-8"))
    rows = read_rows(str(path))
    assert list(rows[0]) == ["text", "label"] and rows[0]["text"] == "great film"


def test_a_bom_is_dropped_from_the_first_line_of_text(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_bytes(BOM + "Once upon a time\n\nthe end\n".encode("utf-8"))
    rows = read_rows(str(path))
    assert [row["text"] for row in rows] == ["Once upon a time", "the end"]
    assert rows.where(1) == f"{path} line 3"
