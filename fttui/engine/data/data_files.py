"""Read training rows from local files (JSONL, JSON, CSV, Parquet, TXT) or the hub, with precise errors.

Local files are read here, one record at a time, rather than by ``datasets``, so that a bad row is reported
by file and line and a big file never has to fit in memory: ``records`` streams (number, row) pairs that
engine.data.arrow_data writes to Arrow; ``read_rows`` parses them into a list for small reads (previews, tests).
"""
from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from fttui.errors import DataError

SUFFIXES = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".csv": "csv", ".tsv": "tsv",
            ".parquet": "parquet", ".txt": "txt"}
ROW_HINT = "each line must be one JSON object, e.g. {\"text\": \"...\", \"label\": \"positive\"}"


class Rows(list):
    """Rows (dicts) that remember where they came from, so errors can name the file and line."""

    def __init__(self, rows, source: str, line_numbers: list[int] | None = None, unit: str = "line"):
        super().__init__(rows)
        self.source = source
        self.line_numbers = line_numbers
        self.unit = unit  # "line" in text files, "row" in JSON arrays, Parquet and hub datasets

    def where(self, index: int) -> str:
        if self.line_numbers is not None:
            return f"{self.source} {self.unit} {self.line_numbers[index]}"
        return f"{self.source} row {index + 1}"


@dataclass
class Source:
    """Where records come from: a local file of a known kind, or a hub dataset and split."""

    reference: str
    name: str  # as errors name it: the path, or id[split]
    kind: str  # a SUFFIXES value, or "hub"
    path: Path | None = None
    split: str = "train"

    @property
    def unit(self) -> str:
        return "line" if self.kind in ("jsonl", "csv", "tsv", "txt") else "row"

    def where(self, number: int) -> str:
        return f"{self.name} {self.unit} {number}"


def looks_like_path(reference: str) -> bool:
    return reference.startswith((".", "/", "~")) or Path(reference).suffix.lower() in SUFFIXES


def locate(reference: str, split: str = "train") -> Source:
    """The source a data reference names; a missing or unsupported local file is a DataError."""
    path = Path(reference).expanduser()
    if path.is_file():
        kind = SUFFIXES.get(path.suffix.lower())
        if kind is None:
            raise DataError(f"{path}: unsupported file type '{path.suffix}'",
                            f"use one of {', '.join(sorted(SUFFIXES))}")
        if kind == "json" and not _starts_with(path, b"["):
            kind = "jsonl"  # a .json file holding JSON lines
        return Source(reference, str(path), kind, path)
    if looks_like_path(reference) or path.exists():
        raise DataError(f"data file not found: {reference}", "check the path (relative paths in a preset are relative to the preset)")
    return Source(reference, f"{reference}[{split}]", "hub", split=split)


def _starts_with(path: Path, prefix: bytes) -> bool:
    try:
        with path.open("rb") as handle:
            head = handle.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror}") from None
    return head.startswith(prefix)


def records(source: Source) -> Iterator[tuple[int, str | dict]]:
    """(line or row number, row) in file order: JSON text still to parse (``parse_row``), or a dict."""
    try:
        if source.kind == "hub":
            yield from enumerate(_read_hub(source.reference, source.split), 1)
        elif source.kind == "parquet":
            yield from _parquet_rows(source)
        elif source.kind == "json":
            yield from _json_array(source)
        else:
            yield from _text_records(source)
    except OSError as exc:
        raise DataError(f"cannot read {source.name}: {exc.strerror}") from None


def _lines(source: Source) -> Iterator[tuple[int, str]]:
    """Lines split on "\\n" only (U+2028 and friends may sit inside JSON strings), each decoded on its own so
    that bad UTF-8 is reported at its line; a BOM (Excel, Notepad) is dropped."""
    with source.path.open("rb") as handle:
        for number, raw in enumerate(handle, 1):
            try:
                line = raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError as exc:
                raise DataError(f"{source.name} line {number}: not UTF-8 text (byte {exc.start + 1} of the line)",
                                "save the file as UTF-8") from None
            yield number, line.rstrip("\n").rstrip("\r")


def _text_records(source: Source) -> Iterator[tuple[int, str | dict]]:
    if source.kind == "jsonl":
        yield from ((n, line) for n, line in _lines(source) if line.strip())
    elif source.kind == "txt":
        yield from ((n, {"text": line}) for n, line in _lines(source) if line.strip())
    else:
        yield from _csv_rows(source, "\t" if source.kind == "tsv" else ",")


def _csv_rows(source: Source, delimiter: str) -> Iterator[tuple[int, dict]]:
    try:
        with source.path.open(encoding="utf-8-sig", newline="") as handle:  # newline="": quoted newlines stay
            reader = csv.DictReader(handle, delimiter=delimiter)
            try:
                for row in reader:
                    if None in row:
                        raise DataError(f"{source.name} line {reader.line_num}: more fields than the header has")
                    yield reader.line_num, dict(row)
            except csv.Error as exc:
                raise DataError(f"{source.name} line {reader.line_num}: {exc}") from None
    except UnicodeDecodeError as exc:
        raise DataError(f"{source.name}: not UTF-8 text (byte {exc.start})", "save the file as UTF-8") from None


def _json_array(source: Source) -> Iterator[tuple[int, dict]]:
    """A JSON array is parsed whole (JSON lines stream; convert big arrays to .jsonl)."""
    try:
        data = json.loads(source.path.read_text(encoding="utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise DataError(f"{source.name}: not UTF-8 text (byte {exc.start})", "save the file as UTF-8") from None
    except json.JSONDecodeError as exc:
        raise DataError(f"{source.name} line {exc.lineno}: not valid JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(data, list):
        raise DataError(f"{source.name}: expected a JSON array of objects, got {type(data).__name__}")
    for index, row in enumerate(data):
        if not isinstance(row, dict):
            raise DataError(f"{source.name} item {index + 1}: expected a JSON object, got {type(row).__name__}")
        yield index + 1, row


def _parquet_rows(source: Source) -> Iterator[tuple[int, dict]]:
    import pyarrow.parquet as pq

    try:
        batches = pq.ParquetFile(source.path).iter_batches(batch_size=1000)
        number = 0
        for batch in batches:
            for row in batch.to_pylist():
                number += 1
                yield number, row
    except Exception as exc:  # pyarrow raises several unrelated types for corrupt files
        raise DataError(f"{source.path}: not a readable Parquet file ({exc})") from None


def parse_row(payload: str | dict, where: str) -> dict:
    """One record as a row dict: JSON text is parsed here, so the error names the line."""
    if isinstance(payload, dict):
        return payload
    try:
        row = json.loads(payload)
    except json.JSONDecodeError as exc:
        raise DataError(f"{where}: not valid JSON ({exc.msg} at column {exc.colno})", ROW_HINT) from None
    except RecursionError:
        raise DataError(f"{where}: JSON nested too deeply", ROW_HINT) from None
    if not isinstance(row, dict):
        raise DataError(f"{where}: expected a JSON object, got {type(row).__name__}")
    return row


def read_rows(reference: str, split: str = "train", limit: int | None = None) -> Rows:
    """The first ``limit`` (default: all) rows as a list: for previews and small files."""
    source = locate(reference, split)
    rows, numbers = [], []
    for number, payload in records(source):
        if limit is not None and len(rows) >= limit:
            break
        rows.append(parse_row(payload, source.where(number)))
        numbers.append(number)
    if not rows:
        raise DataError(f"{source.name}: no rows", "the file is empty; give a file with at least one example")
    return Rows(rows, source.name, numbers, source.unit)


def _read_hub(dataset_id: str, split: str):
    import datasets

    try:
        return datasets.load_dataset(dataset_id, split=split)
    except Exception as exc:  # the hub client raises many types: connection, auth, not found
        raise DataError(
            f"data: cannot load hub dataset '{dataset_id}' (split '{split}'): {str(exc).splitlines()[0][:200]}",
            "check the id and your connection, or point data.train at a local file",
        ) from None
