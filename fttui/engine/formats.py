"""Detect a dataset's format from its columns, and read classification labels.

Formats: ``classification`` (text + label), ``text`` (plain text, causal LM), ``alpaca``
(instruction/input/output), ``chat`` (``messages`` role/content, or ShareGPT ``conversations``
from/value) and ``prompt-completion`` (``prompt`` + ``completion``: strings, or lists of messages).
Rows become messages in engine.messages and tokens in engine.chat.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from fttui.engine.data_files import Rows
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
        if "messages" in columns or "conversations" in columns:
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
    if fmt in ("alpaca", "prompt-completion"):
        for needed in ("instruction", "output") if fmt == "alpaca" else ("prompt", "completion"):
            if needed not in columns:
                raise DataError(f"{rows.source}: {fmt} data needs '{needed}'; columns found: {found}")
        return Layout(fmt)
    if "messages" not in columns and "conversations" not in columns:
        raise DataError(f"{rows.source}: chat data needs a 'messages' or 'conversations' column; columns found: {found}")
    return Layout("chat")


def read_labels(rows: Rows, layout: Layout) -> list[str]:
    """Each row's label as a string, checking presence; ints and strings are both accepted."""
    labels = []
    for index, row in enumerate(rows):
        value = row.get(layout.label_column)
        text = row.get(layout.text_column)
        if value is None or (isinstance(value, str) and not value.strip()):
            raise DataError(f"{rows.where(index)}: no '{layout.label_column}' value; columns found: {', '.join(row)}")
        if not isinstance(text, str) or not text.strip():
            raise DataError(f"{rows.where(index)}: '{layout.text_column}' is missing or empty; columns found: {', '.join(row)}")
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        labels.append(str(value).strip())
    return labels


def label_set(train_labels: list[str], configured: list[str] | None) -> list[str]:
    """The label set in id order: configured, else sorted (numerically when all labels are integers)."""
    if configured:
        return [str(label) for label in configured]
    unique = set(train_labels)
    if all(label.lstrip("-").isdigit() for label in unique):
        return sorted(unique, key=int)
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
