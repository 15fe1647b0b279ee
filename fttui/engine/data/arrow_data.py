"""Rows on disk, not in memory: a data file becomes an Arrow file of (line number, row as JSON text) that
``datasets`` memory-maps and maps over in batches, so preparing data costs a batch of memory, not the file.

The rows stay JSON text until a batch is encoded: no schema is inferred across rows that differ (tool calls
in some rows, a ``system`` column in others), and each row keeps its line number for errors.
"""
from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from pathlib import Path

from fttui.engine.data.data_files import Rows, Source, parse_row, records
from fttui.errors import DataError

LINE = "__line__"
RAW = "__row__"
FLUSH_ROWS = 1000
FLUSH_BYTES = 64 << 20  # a few huge lines flush early
PROGRESS_EVERY = 2.0  # seconds between progress lines


def write_raw(source: Source, path: Path, limit: int | None = None):
    """The source's first ``limit`` rows as a memory-mapped ``datasets.Dataset`` with LINE and RAW columns."""
    import datasets
    import pyarrow as pa

    schema = pa.schema([(LINE, pa.int64()), (RAW, pa.large_string())])
    count = 0
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_stream(sink, schema) as writer:
        numbers, texts, size = [], [], 0

        def flush():
            writer.write_batch(pa.record_batch([pa.array(numbers, pa.int64()), pa.array(texts, pa.large_string())],
                                               schema=schema))
            numbers.clear()
            texts.clear()

        for number, payload in records(source):
            if limit is not None and count >= limit:
                break
            text = payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False, default=str)
            numbers.append(number)
            texts.append(text)
            count += 1
            size += len(text)
            if len(numbers) >= FLUSH_ROWS or size >= FLUSH_BYTES:
                flush()
                size = 0
        if numbers:
            flush()
    if not count:
        raise DataError(f"{source.name}: no rows", "the file is empty; give a file with at least one example")
    return datasets.Dataset.from_file(str(path))


def split_indices(n: int, fraction: float, seed: int, source: str) -> tuple[list[int], list[int]]:
    """Row positions for training and for the held-out eval set: the same split for the same seed."""
    order = list(range(n))
    random.Random(seed).shuffle(order)
    n_eval = max(1, round(n * fraction))
    if n - n_eval < 1:
        raise DataError(f"{source}: {n} rows are too few to hold out {fraction:.0%} for eval",
                        "add rows, or set data.eval to a separate file or null")
    return sorted(order[n_eval:]), sorted(order[:n_eval])


def batch_rows(batch: dict, source: Source) -> Rows:
    """A batch of raw records as Rows that name their lines (a line that is not JSON stops the run)."""
    numbers = batch[LINE]
    return Rows([parse_row(text, source.where(n)) for n, text in zip(numbers, batch[RAW])], source.name,
                list(numbers), source.unit)


def first_rows(dataset, source: Source, count: int) -> Rows:
    return batch_rows(dataset[: min(count, len(dataset))], source)


class Progress:
    """Rows/s and ETA as log lines while a long preparation runs: at most one line per ``every`` seconds,
    none for one that ends sooner."""

    def __init__(self, report: Callable[[str], None] | None, what: str, total: int, every: float | None = None):
        self.report, self.what, self.total = report, what, total
        self.every = PROGRESS_EVERY if every is None else every
        self.done = 0
        self.started = self.last = time.monotonic()

    def advance(self, rows: int) -> None:
        self.done += rows
        now = time.monotonic()
        if self.report is None or now - self.last < self.every:
            return
        self.last = now
        rate = self.done / max(now - self.started, 1e-9)
        left = (self.total - self.done) / rate if rate > 0 else 0.0
        self.report(f"preparing {self.what}: {self.done:,} of {self.total:,} rows "
                    f"({100 * self.done / max(self.total, 1):.0f}%), {rate:,.0f} rows/s, ETA {_duration(left)}")

    def rate(self) -> float:
        return self.done / max(time.monotonic() - self.started, 1e-9)


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"
