"""Detect a dataset's format from its columns, and read classification labels.

Formats: ``classification`` (text + label), ``text`` (plain text, causal LM), ``alpaca``
(instruction/input/output), ``chat`` (``messages`` role/content, or ShareGPT ``conversations``
from/value), ``prompt-completion`` (``prompt`` + ``completion``: strings, or lists of messages) and
``preference`` (``chosen`` + ``rejected`` pairs) and ``unpaired`` (KTO: a reply and a ``label``), both read in
engine.data.preference_rows.
Rows become messages in engine.data.messages and tokens in engine.data.chat.
"""
from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from fttui.engine.data.data_files import Rows
from fttui.errors import DataError

TEXT_COLUMNS = ("text", "sentence", "content", "review", "document")
LABEL_COLUMNS = ("label", "labels", "sentiment", "class", "category", "target")


@dataclass
class Layout:
    """How rows are read: the format and the columns that feed it."""

    format: str
    text_column: str | None = None
    label_column: str | None = None
    notes: list[str] = field(default_factory=list)


def detect_layout(rows: Rows, requested: str, task: str, text_column: str | None, label_column: str | None) -> Layout:
    columns = list(rows[0].keys())
    found = ", ".join(columns)
    fmt = requested
    if fmt == "auto":
        if "chosen" in columns and "rejected" in columns:
            fmt = "preference"
        elif "messages" in columns or "conversations" in columns:
            fmt = "chat"
        elif "prompt" in columns and "completion" in columns:
            fmt = "prompt-completion"
        elif "instruction" in columns and "output" in columns:
            fmt = "alpaca"
        elif task == "seq-cls":
            fmt = "classification"
        else:
            fmt = "text"
    if fmt == "classification":
        if task != "seq-cls":
            raise DataError(f"{rows.source}: classification data needs model.task=seq-cls", "set model.task=seq-cls or use text/alpaca/chat data")
        text = text_column or next((c for c in TEXT_COLUMNS if c in columns), None)
        label = label_column or next((c for c in LABEL_COLUMNS if c in columns), None)
        missing = [name for name, col in (("text", text), ("label", label)) if col is None or col not in columns]
        if missing:
            what = " and ".join(missing)
            raise DataError(
                f"{rows.source}: no {what} column; columns found: {found}",
                f"set data.text_column / data.label_column to one of: {found}",
            )
        return Layout("classification", text, label)
    if task == "seq-cls":
        raise DataError(f"{rows.source}: {fmt} data cannot train a classifier (model.task=seq-cls)",
                        "use text + label rows, or a causal LM with model.task=causal-lm")
    if fmt == "text":
        text = text_column or next((c for c in TEXT_COLUMNS if c in columns), None)
        if text is None or text not in columns:
            raise DataError(f"{rows.source}: no text column; columns found: {found}", f"set data.text_column to one of: {found}")
        return Layout("text", text)
    if fmt == "unpaired":
        has_reply = ("prompt" in columns and "completion" in columns) or "messages" in columns or "conversations" in columns
        if "label" not in columns or not has_reply:
            raise DataError(f"{rows.source}: KTO data needs 'prompt', 'completion' and 'label' (or 'messages' and "
                            f"'label'); columns found: {found}",
                            "label each reply true (desirable) or false (undesirable)")
        return Layout("unpaired")
    if fmt == "preference":
        missing = [name for name in ("chosen", "rejected") if name not in columns]
        if missing:
            raise DataError(f"{rows.source}: preference data needs 'chosen' and 'rejected'; columns found: {found}",
                            "write each pair as prompt, chosen, rejected (strings or message lists)")
        return Layout("preference")
    if fmt in ("alpaca", "prompt-completion"):
        for needed in ("instruction", "output") if fmt == "alpaca" else ("prompt", "completion"):
            if needed not in columns:
                raise DataError(f"{rows.source}: {fmt} data needs '{needed}'; columns found: {found}")
        return Layout(fmt)
    if "messages" not in columns and "conversations" not in columns:
        raise DataError(f"{rows.source}: chat data needs a 'messages' or 'conversations' column; columns found: {found}")
    return Layout("chat")


KIND_NAMES = {"number": "numbers", "word": "words", "boolean": "booleans"}
NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


class Labels(list):
    """Each row's label as text, remembering the rows, so ``label_set`` can name the row that mixes kinds."""

    def __init__(self, labels: list[str], rows: Rows):
        super().__init__(labels)
        self.rows = rows


def canonical_label(value) -> str:
    """One label as text: 0, 0.0, "0" and " 0 " are "0"; True, "True" and "TRUE" are "true"; words are stripped.

    Numbers written as strings are common in CSV, and pandas writes booleans as True/False, so a number or a
    boolean is one label however it is written.
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    text = str(value).strip()
    if len(text) > 40:  # a sentence, not a number (and int() refuses 4300+ digits)
        return text
    if text.lower() in ("true", "false"):
        return text.lower()
    if re.fullmatch(r"[+-]?\d+", text):
        return str(int(text))
    if NUMBER.fullmatch(text) and math.isfinite(float(text)):
        return canonical_label(float(text))
    return text


def label_kind(label: str) -> str:
    """"number", "boolean" or "word", read from a canonical label's text."""
    if label in ("true", "false"):
        return "boolean"
    if len(label) <= 40 and NUMBER.fullmatch(label) and math.isfinite(float(label)):
        return "number"
    return "word"


def read_labels(rows: Rows, layout: Layout) -> Labels:
    """Each row's label as a canonical string, checking presence; numbers, words and booleans are all read."""
    labels = []
    for index, row in enumerate(rows):
        value = row.get(layout.label_column)
        text = row.get(layout.text_column)
        missing = isinstance(value, float) and not math.isfinite(value)  # NaN: pandas' empty cell
        if value is None or missing or (isinstance(value, str) and not value.strip()):
            raise DataError(f"{rows.where(index)}: no '{layout.label_column}' value; columns found: {', '.join(row)}")
        if not isinstance(text, str) or not text.strip():
            raise DataError(f"{rows.where(index)}: '{layout.text_column}' is missing or empty; columns found: {', '.join(row)}")
        if isinstance(value, (list, dict)):
            raise DataError(f"{rows.where(index)}: the label is a {'list' if isinstance(value, list) else 'JSON object'}"
                            f" ({str(value)[:40]}); each row has one label, a word or a number",
                            "fttui trains single-label classifiers: give each row one label")
        labels.append(canonical_label(value))
    return Labels(labels, rows)


def _counts(labels) -> dict[str, int]:
    """How many rows carry each label; a pyarrow column (engine.data.encoding's) is counted without a Python list."""
    if hasattr(labels, "to_pylist"):
        import pyarrow.compute as pc

        return {item["values"]: item["counts"] for item in pc.value_counts(labels).to_pylist()}
    return dict(Counter(labels))


def _first_index(labels, values: set[str]) -> int:
    if hasattr(labels, "to_pylist"):
        import pyarrow as pa
        import pyarrow.compute as pc

        return pc.indices_nonzero(pc.is_in(labels, value_set=pa.array(sorted(values)))).to_pylist()[0]
    return next(i for i, label in enumerate(labels) if label in values)


def check_label_kinds(labels, where: Callable[[int], str]) -> None:
    """Refuse labels that mix numbers, words and booleans: 0, "1" and "negative" are not one label set.

    ``labels``: every training row's canonical label in row order; ``where(i)``: "FILE line N" of row i.
    """
    counts = _counts(labels)
    by_kind: dict[str, list[str]] = {}
    for label in counts:
        by_kind.setdefault(label_kind(label), []).append(label)
    if len(by_kind) < 2:
        return
    rows_of = {kind: sum(counts[label] for label in found) for kind, found in by_kind.items()}
    usual = max(rows_of, key=rows_of.get)
    odd = set().union(*(found for kind, found in by_kind.items() if kind != usual))
    first = _first_index(labels, odd)
    odd_label = labels[first].as_py() if hasattr(labels, "to_pylist") else labels[first]

    def shown(kind: str) -> str:
        values = sorted(by_kind[kind], key=lambda v: (float(v), v) if kind == "number" else (0, v))
        return ", ".join(values[:4]) + (", ..." if len(values) > 4 else "")

    order = sorted(by_kind, key=list(KIND_NAMES).index)
    parts = [f"{KIND_NAMES[kind]} ({shown(kind)})" for kind in order]
    found = sorted(counts)
    example = ",".join(found[:6]) + (",..." if len(found) > 6 else "")
    hint = ("use one kind of label in every row (0 and \"0\" are the same label), or list the label set in "
            f"data.labels, in id order: data.labels=[{example}]")
    if "boolean" in by_kind:
        hint += "; true/false are labels only when every row's label is one (they become false and true)"
    raise DataError(f"labels mix {', '.join(parts[:-1])} and {parts[-1]}: {where(first)} is the first row labelled "
                    f"with a {label_kind(odd_label)} ('{odd_label}'), unlike the {rows_of[usual]} rows labelled with "
                    f"{KIND_NAMES[usual]}", hint)


def label_set(train_labels, configured: list[str] | None, where: Callable[[int], str] | None = None) -> list[str]:
    """The label set in id order: configured (data.labels), else sorted, numerically when all are numbers.

    Found labels must be of one kind (``check_label_kinds``); ``train_labels`` is every training row's label, a
    ``Labels`` from ``read_labels`` (which names its rows) or a column with ``where`` to name them.
    """
    if configured:
        return list(dict.fromkeys(canonical_label(label) for label in configured))
    where = where or getattr(getattr(train_labels, "rows", None), "where", None)
    if where is not None:
        check_label_kinds(train_labels, where)
    unique = set(_counts(train_labels))
    if all(label_kind(label) == "number" for label in unique):
        return sorted(unique, key=float)
    return sorted(unique)


def check_labels(rows: Rows, labels: list[str], known: list[str]) -> list[int]:
    index_of = {label: i for i, label in enumerate(known)}
    ids = []
    for index, label in enumerate(labels):
        if label not in index_of:
            raise DataError(
                f"{rows.where(index)}: label '{label}' is not in the label set ({', '.join(known)})",
                "fix the row, or list every label in data.labels",
            )
        ids.append(index_of[label])
    return ids
