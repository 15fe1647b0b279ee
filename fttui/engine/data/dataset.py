"""From ``data.*`` settings to tokenized train/eval datasets, validating every row on the way.

Causal-LM rows are rendered and tokenized whole (engine.data.chat). A row that cannot be read as its format is
skipped and counted, up to ``data.max_bad_rows``; a row longer than ``training.max_length`` is handled as
``data.overlong`` says. One row never stops a run under the defaults.

Rows go file -> Arrow -> batched map -> Arrow (engine.data.arrow_data, engine.data.encoding), so memory is bounded by
a batch, and the result is cached (engine.data.data_cache) so a resume or a re-run does not tokenize again.
"""
from __future__ import annotations

import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from fttui.config.schema import RunConfig
from fttui.engine.data import data_cache
from fttui.engine.data.arrow_data import Progress, first_rows, split_indices, write_raw
from fttui.engine.data.chat import Renderer, fit_tokenizer
from fttui.engine.data.data_files import Rows, Source, locate, looks_like_path, read_rows, records
from fttui.engine.data.encoding import Context, Encoded, encode_split, write_kept
from fttui.engine.data.formats import Layout, detect_layout, label_set
from fttui.engine.data.messages import read_conversation
from fttui.engine.data.rendering import plain_parts
from fttui.engine.data.preference_rows import (PAIR_COLUMNS, PREFERENCE_FORMATS, UNPAIRED_COLUMNS, as_reply_row,
                                    check_objective, requested_format)
from fttui.errors import DataError
from fttui.events import Logged

BAD_ROW_SHARE = 0.01  # data.max_bad_rows default: 1% of the rows
PROMPT_ROWS = 64  # rows searched for sample prompts


@dataclass
class RowCounts:
    """What happened to one split's rows on the way to tokens."""

    rows: int = 0
    truncated: int = 0
    dropped: int = 0  # over-long rows dropped (data.overlong=drop, or nothing trainable left)
    bad: int = 0  # rows that could not be read as the format
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def describe(self, name: str, max_length: int) -> str | None:
        parts = [f"{self.truncated} truncated to {max_length} tokens" if self.truncated else "",
                 f"{self.dropped} too long, dropped" if self.dropped else "",
                 f"{self.bad} unreadable, skipped (first: {self.errors[0]})" if self.bad else ""]
        parts = [part for part in parts if part]
        return f"{name}: {', '.join(parts)} of {self.rows} rows" if parts else None


@dataclass
class PreparedData:
    train: object  # datasets.Dataset
    eval: object | None
    layout: Layout
    labels: list[str] | None
    truncated_rows: int
    eval_source: str | None
    sample_prompts: list[str] = field(default_factory=list)  # causal LM: fixed prompts generated from at each eval
    counts: RowCounts = field(default_factory=RowCounts)
    eval_counts: RowCounts | None = None
    notes: list[str] = field(default_factory=list)  # warnings for the log: EOS added, template quirks
    longest: int = 1  # tokens in the longest training example (dynamic padding makes it the peak)


def _split_rows(rows: Rows, fraction: float, seed: int) -> tuple[Rows, Rows]:
    train, held_out = split_indices(len(rows), fraction, seed, rows.source)
    pick = lambda idx: Rows([rows[i] for i in idx], rows.source,  # noqa: E731
                            [rows.line_numbers[i] for i in idx] if rows.line_numbers else None, rows.unit)
    return pick(train), pick(held_out)


def load_train_eval(config: RunConfig) -> tuple[Rows, Rows | None]:
    """Train and eval rows as lists, split as prepare_data splits them (for small data and tests)."""
    data = config.data
    train = read_rows(data.train, data.split, data.max_train_rows)
    if data.eval is None:
        return train, None
    if isinstance(data.eval, float):
        train, held_out = _split_rows(train, data.eval, config.training.seed)
        if data.max_eval_rows:
            held_out = Rows(held_out[: data.max_eval_rows], held_out.source, held_out.line_numbers)
        return train, held_out
    eval_ref = data.eval
    if not looks_like_path(eval_ref) and not looks_like_path(data.train):
        return train, read_rows(data.train, eval_ref, data.max_eval_rows)  # a split name of the hub dataset
    return train, read_rows(eval_ref, "train", data.max_eval_rows)


def _pair_as_completion(row: dict, where: str, fmt: str) -> dict:
    try:
        return as_reply_row(row, fmt, where)[0]
    except DataError:
        return {}  # skipped below, as an unreadable row


def sample_prompts(rows: Rows, layout: Layout, renderer: Renderer, count: int, system_prompt: str | None) -> list[str]:
    """The first rows' prompts as the model is given them, for sample generations at each evaluation."""
    prompts = []
    if layout.format in PREFERENCE_FORMATS:  # the prompt, rendered like a prompt/completion row's
        rows = Rows([_pair_as_completion(row, rows.where(i), layout.format) for i, row in enumerate(rows)],
                    rows.source, rows.line_numbers, rows.unit)
        layout = Layout("prompt-completion")
    for index, row in enumerate(rows):
        if len(prompts) == count:
            break
        where = rows.where(index)
        try:
            plain = plain_parts(row, layout, where)
            if plain is not None and layout.format == "text":
                words = plain[1].split()
                prompts.append(" ".join(words[: max(3, len(words) // 3)]))
            elif plain is not None:
                prompts.append((renderer.tokenizer.bos_token or "") + plain[0])
            else:
                conversation = read_conversation(row, layout.format, where, system_prompt)
                first = conversation.trained.index(True)
                prompts.append(renderer.prompt(conversation.messages[:first], conversation.tools))
        except DataError:
            continue
    return [p for p in prompts if p.strip()]




def _check_bad_rows(source: str, layout: Layout, counts: RowCounts, cap: int | None) -> None:
    """Past the cap (default 1% of the rows), bad rows stop the run with the first few file:line errors."""
    allowed = int(counts.rows * BAD_ROW_SHARE) if cap is None else cap
    if counts.bad > allowed or counts.bad + counts.dropped == counts.rows:
        if not counts.bad:
            raise DataError(f"{source}: no row fits training.max_length",
                            "raise training.max_length, or set data.overlong=truncate")
        limit = f" (data.max_bad_rows allows {allowed})" if counts.bad > allowed else ""
        raise DataError(f"{source}: {counts.bad} of {counts.rows} rows cannot be read as {layout.format} "
                        f"data{limit}:\n  " + "\n  ".join(counts.errors),
                        "fix those rows, or raise data.max_bad_rows to skip them")


def preview_rows(config: RunConfig, limit: int) -> tuple[Rows, int, int]:
    """The first ``limit`` rows of the training file and how many rows train and eval will get, counted by
    streaming the file (the wizard's preview never holds a big file)."""
    data = config.data
    source = locate(data.train, data.split)
    total = sum(1 for _ in zip(records(source), range(data.max_train_rows or 1 << 62)))
    if total == 0:
        raise DataError(f"{source.name}: no rows", "the file is empty; give a file with at least one example")
    train_rows, eval_rows = total, 0
    if isinstance(data.eval, float):
        kept, held_out = split_indices(total, data.eval, config.training.seed, source.name)
        train_rows, eval_rows = len(kept), min(len(held_out), data.max_eval_rows or len(held_out))
    elif data.eval is not None:
        eval_source = _eval_source(config, source)
        eval_rows = sum(1 for _ in zip(records(eval_source), range(data.max_eval_rows or 1 << 62)))
    return read_rows(data.train, data.split, min(limit, data.max_train_rows or limit)), train_rows, eval_rows


def _eval_source(config: RunConfig, train: Source) -> Source | None:
    """The eval file, or the hub split, that data.eval names (None: no eval, or a held-out fraction)."""
    data = config.data
    if data.eval is None or isinstance(data.eval, float):
        return None
    if not looks_like_path(data.eval) and not looks_like_path(data.train):
        return locate(data.train, data.eval)  # a split name of the hub dataset
    return locate(data.eval, "train")


def prepare_data(config: RunConfig, task: str, tokenizer, emit=None) -> PreparedData:
    """Tokenized train and eval sets, from the cache when nothing that changes their tokens has changed.
    ``emit`` receives progress and cache log lines (Logged events)."""
    data = config.data
    train_source = locate(data.train, data.split)
    eval_source = _eval_source(config, train_source)
    key = data_cache.cache_key(config, task, tokenizer, [train_source, eval_source])
    found = data_cache.lookup(key)
    if found is None:
        work, started = data_cache.work_folder(), time.monotonic()
        try:
            meta = _prepare(config, task, tokenizer, train_source, eval_source, work, emit)
            folder = data_cache.store(work, key, meta)
        finally:
            shutil.rmtree(work, ignore_errors=True)  # gone already when stored
        rows = meta["counts"]["rows"] + (meta["eval_counts"] or {"rows": 0})["rows"]
        seconds = time.monotonic() - started
        if emit is not None:
            emit(Logged(f"prepared {rows:,} rows in {seconds:.1f} s ({rows / max(seconds, 1e-9):,.0f} rows/s), "
                        f"cached in {folder}", topic="data"))
    else:
        folder, meta = found
        if emit is not None:
            emit(Logged(f"using the prepared data from cache ({folder})", topic="data"))
    fit_tokenizer(tokenizer, task, meta["layout"]["format"])  # the tokenizer the tokens were made with
    return _load(folder, meta)


def _load(folder: Path, meta: dict) -> PreparedData:
    import datasets

    counts = RowCounts(**meta["counts"])
    eval_counts = RowCounts(**meta["eval_counts"]) if meta["eval_counts"] else None
    return PreparedData(
        train=datasets.Dataset.from_file(str(folder / "train.arrow")),
        eval=datasets.Dataset.from_file(str(folder / "eval.arrow")) if eval_counts else None,
        layout=Layout(**meta["layout"]), labels=meta["labels"], truncated_rows=counts.truncated,
        eval_source=meta["eval_source"], sample_prompts=meta["sample_prompts"], counts=counts,
        eval_counts=eval_counts, notes=meta["notes"], longest=meta["longest"])


def _counts(encoded: Encoded) -> RowCounts:
    return RowCounts(encoded.rows, encoded.truncated, encoded.dropped, encoded.bad, encoded.errors, encoded.notes)


def _prepare(config: RunConfig, task: str, tokenizer, train_source: Source, eval_source: Source | None,
             work: Path, emit) -> dict:
    """Read, split, encode and write both splits into ``work``; returns the entry's meta."""
    data = config.data
    raw_train = write_raw(train_source, work / "train-raw.arrow", data.max_train_rows)
    raw_eval = None
    if isinstance(data.eval, float):
        kept, held_out = split_indices(len(raw_train), data.eval, config.training.seed, train_source.name)
        raw_eval = raw_train.select(held_out[: data.max_eval_rows] if data.max_eval_rows else held_out)
        raw_train, eval_source = raw_train.select(kept), train_source
    elif eval_source is not None:
        raw_eval = write_raw(eval_source, work / "eval-raw.arrow", data.max_eval_rows)
    layout = detect_layout(first_rows(raw_train, train_source, 1), requested_format(config), task, data.text_column,
                           data.label_column)
    if raw_eval is not None:
        detect_layout(first_rows(raw_eval, eval_source, 1), layout.format, task, layout.text_column,
                      layout.label_column)
    check_objective(layout, config, train_source.name)
    notes = fit_tokenizer(tokenizer, task, layout.format)
    classify = layout.format == "classification"
    known = label_set([], data.labels) if classify and data.labels else None
    report = None if emit is None else (lambda text: emit(Logged(text, topic="progress")))
    context = Context(train_source, layout, tokenizer, config.training.max_length, data.overlong,
                      data.system_prompt, None if classify else Renderer(tokenizer), known)
    encoded, eval_encoded, labels = {}, None, None
    for name, raw, source in (("train", raw_train, train_source), ("eval", raw_eval, eval_source)):
        if raw is None:
            continue
        context.source, context.progress = source, Progress(report, f"{name} data", len(raw))
        result = encode_split(raw, context, work / f"{name}-encoded.arrow")
        counts = _counts(result)
        if classify and context.known_labels is None:  # the label set is the training data's labels
            labels = label_set(result.label_column, None,  # one kind of label: numbers, words or booleans
                               where=lambda i: first_rows(raw.select([i]), source, 1).where(0))
            if len(labels) < 2:
                raise DataError(f"{source.name}: only one label ({labels[0]}) in the training data",
                                "a classifier needs at least two labels")
            context.known_labels = labels
        elif not classify:
            _check_bad_rows(source.name, layout, counts, data.max_bad_rows)
        write_kept(result, work / f"{name}.arrow", context.known_labels if classify else None)
        encoded[name] = counts
        if name == "eval":
            eval_encoded = counts
    labels = context.known_labels if classify else None
    prompts = []
    if not classify:
        if config.training.sample_prompts:
            sample_from, where = (raw_eval, eval_source) if raw_eval is not None else (raw_train, train_source)
            prompts = sample_prompts(first_rows(sample_from, where, PROMPT_ROWS), layout, context.renderer,
                                     config.training.sample_prompts, data.system_prompt)
        later = eval_encoded.notes if eval_encoded else []
        notes += encoded["train"].notes + [note for note in later if note not in encoded["train"].notes]
    for leftover in work.glob("*-*.arrow"):  # raw and encoded rows: only the kept tokens are cached
        leftover.unlink()
    import pyarrow.compute as pc
    import datasets

    table = datasets.Dataset.from_file(str(work / "train.arrow")).data.table
    if layout.format == "preference":  # the longer reply after the prompt: the longest sequence of a pair
        prompt, chosen, rejected = (pc.list_value_length(table.column(name)) for name in PAIR_COLUMNS)
        lengths = pc.add(prompt, pc.max_element_wise(chosen, rejected))
    elif layout.format == "unpaired":
        lengths = pc.add(*(pc.list_value_length(table.column(name)) for name in UNPAIRED_COLUMNS))
    else:
        lengths = pc.list_value_length(table.column("input_ids"))
    return {"layout": asdict(layout), "labels": labels, "counts": asdict(encoded["train"]),
            "eval_counts": asdict(eval_encoded) if eval_encoded else None, "notes": notes,
            "sample_prompts": prompts, "eval_source": eval_source.name if raw_eval is not None else None,
            "longest": int(pc.max(lengths).as_py() or 1),
            "files": ["train.arrow"] + (["eval.arrow"] if raw_eval is not None else [])}
