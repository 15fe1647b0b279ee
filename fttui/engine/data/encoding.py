"""Rows to tokens in batches (``datasets.Dataset.map``), one status per row, so the counts stay exact.

Each batch of raw rows (engine.data.arrow_data) becomes token columns plus a status: kept, truncated, dropped as
too long, or unreadable (with its file:line error). The counts and the first errors are read from the
status column afterwards, and only kept rows are written to the final Arrow file.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from fttui.engine.data.arrow_data import LINE, RAW, Progress, batch_rows
from fttui.engine.data.chat import IGNORE_INDEX, Renderer, encode
from fttui.engine.data.data_files import Source
from fttui.engine.data.formats import Layout, check_labels, read_labels
from fttui.engine.data.rendering import clip_text, fit_length, render_row
from fttui.engine.data.preference_rows import PAIR_COLUMNS, UNPAIRED_COLUMNS, encode_pair, encode_unpaired, fit_pair
from fttui.errors import DataError

OK, TRUNCATED, DROPPED, BAD = 0, 1, 2, 3
STATUS, ERROR, NOTES, LABEL = "__status__", "__error__", "__notes__", "__label__"
BATCH = 500  # rows per map batch: memory is bounded by a batch, not by the file
# A message (or text) longer than this many characters per training.max_length token is clipped before it is
# rendered: what truncation keeps lies well inside, and a 50 MB line is never tokenized whole.
CHARS_PER_TOKEN = 32
SHOWN_ERRORS = 5  # file:line errors quoted when bad rows stop a run


@dataclass
class Context:
    """What encoding a batch needs besides the batch."""

    source: Source
    layout: Layout
    tokenizer: object
    max_length: int
    overlong: str = "truncate"
    system_prompt: str | None = None
    renderer: Renderer | None = None
    known_labels: list[str] | None = None  # classification: checked per row when already known
    progress: Progress | None = None

    @property
    def max_chars(self) -> int:
        return self.max_length * CHARS_PER_TOKEN + 1024


@dataclass
class Encoded:
    """One split after the map: its Arrow file and what happened to its rows."""

    path: Path  # the token columns and STATUS/ERROR/NOTES (or LABEL)
    rows: int
    truncated: int
    dropped: int
    bad: int
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    label_column: object = None  # classification: every row's label (pyarrow), for the label set and its checks


def _features(columns: list[str], text_columns: list[str]):
    import datasets

    ints = datasets.List(datasets.Value("int64"))
    spec = {name: ints for name in columns}
    spec[STATUS] = datasets.Value("int8")
    spec.update({name: datasets.Value("large_string") for name in text_columns})
    return datasets.Features(spec)


def encode_split(raw, ctx: Context, path: Path) -> Encoded:
    """Map ``raw`` (LINE/RAW rows) to token columns written at ``path``; fatal row errors raise DataError."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if ctx.layout.format == "classification":
        token_columns = [name for name in ("input_ids", "attention_mask", "token_type_ids")
                         if name in ctx.tokenizer("x")]
        function, features = _classification_batch, _features(token_columns, [LABEL])
    elif ctx.layout.format == "preference":
        function, features = _preference_batch, _features(list(PAIR_COLUMNS), [ERROR, NOTES])
    elif ctx.layout.format == "unpaired":
        import datasets

        function, features = _unpaired_batch, _features(list(UNPAIRED_COLUMNS), [ERROR, NOTES])
        features["label"] = datasets.Value("bool")
    else:
        function, features = _causal_batch, _features(["input_ids", "attention_mask", "labels"], [ERROR, NOTES])
    raw.map(function, fn_kwargs={"ctx": ctx}, batched=True, batch_size=BATCH, writer_batch_size=BATCH,
            remove_columns=[LINE, RAW], features=features, cache_file_name=str(path),
            load_from_cache_file=False, new_fingerprint=path.stem, num_proc=None)
    encoded, labels = Encoded(path, 0, 0, 0, 0), []
    for batch in _batches(path):
        status = batch.column(STATUS)
        counts = {item["values"]: item["counts"] for item in pc.value_counts(status).to_pylist()}
        encoded.rows += batch.num_rows
        encoded.truncated += counts.get(TRUNCATED, 0)
        encoded.dropped += counts.get(DROPPED, 0)
        encoded.bad += counts.get(BAD, 0)
        if counts.get(BAD) and len(encoded.errors) < SHOWN_ERRORS:
            first = pc.indices_nonzero(pc.equal(status, BAD)).slice(0, SHOWN_ERRORS - len(encoded.errors))
            encoded.errors += batch.column(ERROR).take(first).to_pylist()
        if NOTES in batch.schema.names:
            for joined in pc.unique(batch.column(NOTES)).to_pylist():
                encoded.notes += [note for note in (joined or "").split("\n") if note and note not in encoded.notes]
        if LABEL in batch.schema.names:
            labels.append(batch.column(LABEL))
    encoded.label_column = pa.chunked_array(labels, pa.large_string()) if labels else None
    return encoded


def _batches(path: Path):
    """The record batches of an Arrow stream file, read rather than memory-mapped: each batch's memory is
    freed after it, where mapped pages would stay in the process's RSS until the file is closed."""
    import pyarrow as pa

    with pa.OSFile(str(path)) as source:
        yield from pa.ipc.open_stream(source)


def write_kept(encoded: Encoded, path: Path, labels: list[str] | None) -> None:
    """The kept rows' token columns (and label ids) as an Arrow file ``datasets`` memory-maps."""
    import pyarrow as pa
    import pyarrow.compute as pc

    with pa.OSFile(str(path), "wb") as sink:
        writer = None
        for batch in _batches(encoded.path):
            batch = batch.filter(pc.less(batch.column(STATUS), DROPPED))
            columns = {name: batch.column(name) for name in batch.schema.names if not name.startswith("__")}
            if labels is not None:
                columns["labels"] = pc.cast(pc.index_in(batch.column(LABEL), value_set=pa.array(labels)), pa.int64())
            out = pa.record_batch(list(columns.values()), names=list(columns))
            if writer is None:
                writer = pa.ipc.new_stream(sink, out.schema)
            writer.write_batch(out)
        if writer is not None:
            writer.close()


def _causal_batch(batch: dict, ctx: Context) -> dict:
    rows = batch_rows(batch, ctx.source)
    tokenizer = ctx.tokenizer
    out = {"input_ids": [], "attention_mask": [], "labels": [], STATUS: [], ERROR: [], NOTES: []}
    for index, row in enumerate(rows):
        where = rows.where(index)
        status, error, ids, labels, notes = OK, "", [], [], []
        try:
            text, spans, notes = render_row(row, ctx.layout, ctx.renderer, where, ctx.system_prompt, ctx.max_chars)
            ids, labels = encode(text, spans, tokenizer)
            if not any(label != IGNORE_INDEX for label in labels):
                raise DataError(f"{where}: no token of the reply survives tokenization")
        except DataError as failure:
            status, error, ids, labels = BAD, failure.message, [], []
        if status == OK and len(ids) > ctx.max_length:
            if ctx.overlong == "error":
                raise DataError(f"{where}: {len(ids)} tokens, more than training.max_length={ctx.max_length}",
                                "raise training.max_length, or set data.overlong=truncate (or drop)")
            fitted = None if ctx.overlong == "drop" else fit_length(ids, labels, ctx.max_length,
                                                                    ids[0] == tokenizer.bos_token_id)
            status, (ids, labels) = (DROPPED, ([], [])) if fitted is None else (TRUNCATED, fitted)
        for name, value in (("input_ids", ids), ("attention_mask", [1] * len(ids)), ("labels", labels),
                            (STATUS, status), (ERROR, error), (NOTES, "\n".join(notes))):
            out[name].append(value)
    if ctx.progress is not None:
        ctx.progress.advance(len(rows))
    return out


def _reply_renderer(ctx: Context):
    """Renders a prompt/completion row (one reply of a preference row) like an SFT row."""
    layout = Layout("prompt-completion")
    return lambda row, where: render_row(row, layout, ctx.renderer, where, ctx.system_prompt, ctx.max_chars)


def _unpaired_batch(batch: dict, ctx: Context) -> dict:
    """KTO rows as prompt and completion tokens and the label; over-long rows as _preference_batch."""
    rows, render = batch_rows(batch, ctx.source), _reply_renderer(ctx)
    out = {name: [] for name in (*UNPAIRED_COLUMNS, "label", STATUS, ERROR, NOTES)}
    for index, row in enumerate(rows):
        where = rows.where(index)
        status, error, prompt, completion, label = OK, "", [], [], False
        try:
            prompt, completion, label = encode_unpaired(row, where, render, ctx.tokenizer)
        except DataError as failure:
            status, error = BAD, failure.message
        status, (prompt, completion, _) = _fit(status, (prompt, completion, completion), ctx, where)
        for name, value in zip((*UNPAIRED_COLUMNS, "label", STATUS, ERROR, NOTES),
                               (prompt, completion, label, status, error, "")):
            out[name].append(value)
    if ctx.progress is not None:
        ctx.progress.advance(len(rows))
    return out


def _fit(status: int, pair: tuple, ctx: Context, where: str) -> tuple[int, tuple]:
    """(prompt, reply, reply) within training.max_length as data.overlong says."""
    limit, tokenizer = ctx.max_length, ctx.tokenizer
    longest = len(pair[0]) + max(len(pair[1]), len(pair[2]))
    if status != OK or longest <= limit:
        return status, pair
    if ctx.overlong == "error":
        raise DataError(f"{where}: {longest} tokens, more than training.max_length={limit}",
                        "raise training.max_length, or set data.overlong=truncate (or drop)")
    keep_first = bool(pair[0]) and pair[0][0] == tokenizer.bos_token_id
    fitted = fit_pair(*pair, limit, keep_first) if ctx.overlong == "truncate" else None
    if fitted is None or not (fitted[1] and fitted[2]):
        return DROPPED, ([], [], [])
    return TRUNCATED, fitted


def _preference_batch(batch: dict, ctx: Context) -> dict:
    """Pairs as prompt, chosen and rejected tokens, with the same statuses as SFT rows."""
    rows, render, tokenizer = batch_rows(batch, ctx.source), _reply_renderer(ctx), ctx.tokenizer
    out = {name: [] for name in (*PAIR_COLUMNS, STATUS, ERROR, NOTES)}
    for index, row in enumerate(rows):
        where = rows.where(index)
        status, error, pair = OK, "", ([], [], [])
        try:
            pair = encode_pair(row, where, render, tokenizer)
        except DataError as failure:
            status, error = BAD, failure.message
        status, pair = _fit(status, pair, ctx, where)
        for name, value in zip((*PAIR_COLUMNS, STATUS, ERROR, NOTES), (*pair, status, error, "")):
            out[name].append(value)
    if ctx.progress is not None:
        ctx.progress.advance(len(rows))
    return out


def _classification_batch(batch: dict, ctx: Context) -> dict:
    """Labels are checked strictly (a missing or unknown label stops the run with its line); texts are
    tokenized to max_length + 1 tokens, which tells a truncated row without tokenizing it whole."""
    rows = batch_rows(batch, ctx.source)
    layout, tokenizer, limit = ctx.layout, ctx.tokenizer, ctx.max_length
    values = read_labels(rows, layout)
    if ctx.known_labels is not None:
        check_labels(rows, values, ctx.known_labels)
    texts = [clip_text(str(row[layout.text_column]), ctx.max_chars, keep_end=False) for row in rows]
    encoded = {name: list(value) for name, value in tokenizer(texts, truncation=True, max_length=limit + 1).items()}
    statuses = [OK] * len(rows)
    cut = -1 - _suffix_length(tokenizer)  # the last text token, before the closing special tokens
    for i, ids in enumerate(encoded["input_ids"]):
        if len(ids) > limit:  # as truncation to max_length would give it: one text token less
            statuses[i] = TRUNCATED
            for name in encoded:
                del encoded[name][i][cut]
    if ctx.progress is not None:
        ctx.progress.advance(len(rows))
    return {**encoded, STATUS: statuses, LABEL: values}


def _suffix_length(tokenizer) -> int:
    """How many special tokens the tokenizer puts after a text ([SEP] for BERT; none for most causal LMs)."""
    bare = tokenizer("x", add_special_tokens=False)["input_ids"]
    full = tokenizer("x")["input_ids"]
    start = next((i for i in range(len(full)) if full[i:i + len(bare)] == bare), 0)
    return len(full) - start - len(bare)
