"""Read training rows from local files (JSONL, JSON, CSV, Parquet, TXT) or the hub, with precise errors.

Local files are parsed here rather than by ``datasets`` so that a bad row is reported by file and line.
"""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from fttui.errors import DataError

SUFFIXES = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".csv": "csv", ".tsv": "tsv",
            ".parquet": "parquet", ".txt": "txt"}


class Rows(list):
    """Rows (dicts) that remember where they came from, so errors can name the file and line."""

    def __init__(self, rows, source: str, line_numbers: list[int] | None = None):
        super().__init__(rows)
        self.source = source
        self.line_numbers = line_numbers

    def where(self, index: int) -> str:
        if self.line_numbers is not None:
            return f"{self.source} line {self.line_numbers[index]}"
        return f"{self.source} row {index + 1}"


def looks_like_path(reference: str) -> bool:
    return reference.startswith((".", "/", "~")) or Path(reference).suffix.lower() in SUFFIXES


def read_rows(reference: str, split: str = "train", limit: int | None = None) -> Rows:
    path = Path(reference).expanduser()
    if path.is_file():
        rows = _read_file(path)
    elif looks_like_path(reference) or path.exists():
        raise DataError(f"data file not found: {reference}", "check the path (relative paths in a preset are relative to the preset)")
    else:
        rows = _read_hub(reference, split)
    if not rows:
        raise DataError(f"{rows.source}: no rows", "the file is empty; give a file with at least one example")
    if limit is not None and len(rows) > limit:
        cut = Rows(rows[:limit], rows.source, rows.line_numbers[:limit] if rows.line_numbers else None)
        return cut
    return rows


def _read_file(path: Path) -> Rows:
    kind = SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise DataError(
            f"{path}: unsupported file type '{path.suffix}'",
            f"use one of {', '.join(sorted(SUFFIXES))}",
        )
    try:
        if kind == "parquet":
            return _read_parquet(path)
        text = path.read_text(encoding="utf-8-sig")  # Excel and Notepad start files with a BOM
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text (byte {exc.start})", "save the file as UTF-8") from None
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror}") from None
    if kind == "jsonl" or (kind == "json" and not text.lstrip().startswith("[")):
        return _parse_jsonl(text, str(path))
    if kind == "json":
        return _parse_json_array(text, str(path))
    if kind in ("csv", "tsv"):
        return _parse_csv(text, str(path), "\t" if kind == "tsv" else ",")
    lines = [(n, line.rstrip("\n")) for n, line in enumerate(text.split("\n"), 1) if line.strip()]
    return Rows([{"text": line} for _, line in lines], str(path), [n for n, _ in lines])


def _parse_jsonl(text: str, source: str) -> Rows:
    rows, numbers = [], []
    # split on "\n" only: splitlines() would also break on U+2028 and friends inside JSON strings
    for number, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(
                f"{source} line {number}: not valid JSON ({exc.msg} at column {exc.colno})",
                "each line must be one JSON object, e.g. {\"text\": \"...\", \"label\": \"positive\"}",
            ) from None
        if not isinstance(row, dict):
            raise DataError(f"{source} line {number}: expected a JSON object, got {type(row).__name__}")
        rows.append(row)
        numbers.append(number)
    return Rows(rows, source, numbers)


def _parse_json_array(text: str, source: str) -> Rows:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(f"{source} line {exc.lineno}: not valid JSON ({exc.msg} at column {exc.colno})") from None
    bad = next((i for i, row in enumerate(data) if not isinstance(row, dict)), None)
    if bad is not None:
        raise DataError(f"{source} item {bad + 1}: expected a JSON object, got {type(data[bad]).__name__}")
    return Rows(data, source)


def _parse_csv(text: str, source: str, delimiter: str) -> Rows:
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)  # keeps quoted newlines
    rows, numbers = [], []
    try:
        for row in reader:
            if None in row:
                raise DataError(f"{source} line {reader.line_num}: more fields than the header has")
            rows.append(dict(row))
            numbers.append(reader.line_num)
    except csv.Error as exc:
        raise DataError(f"{source} line {reader.line_num}: {exc}") from None
    return Rows(rows, source, numbers)


def _read_parquet(path: Path) -> Rows:
    import pyarrow.parquet as pq

    try:
        return Rows(pq.read_table(path).to_pylist(), str(path))
    except Exception as exc:  # pyarrow raises several unrelated types for corrupt files
        raise DataError(f"{path}: not a readable Parquet file ({exc})") from None


def _read_hub(dataset_id: str, split: str) -> Rows:
    import datasets

    try:
        loaded = datasets.load_dataset(dataset_id, split=split)
    except Exception as exc:  # the hub client raises many types: connection, auth, not found
        raise DataError(
            f"data: cannot load hub dataset '{dataset_id}' (split '{split}'): {str(exc).splitlines()[0][:200]}",
            "check the id and your connection, or point data.train at a local file",
        ) from None
    return Rows(loaded.to_list(), f"{dataset_id}[{split}]")
