"""From ``data.*`` settings to tokenized train/eval datasets, validating every row on the way.

Causal-LM rows are rendered and tokenized whole (engine.chat). A row that cannot be read as its format is
skipped and counted, up to ``data.max_bad_rows``; a row longer than ``training.max_length`` is handled as
``data.overlong`` says. One row never stops a run under the defaults.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field

from fttui.config.schema import RunConfig
from fttui.engine.chat import IGNORE_INDEX, Renderer, encode, fit_tokenizer
from fttui.engine.data_files import Rows, looks_like_path, read_rows
from fttui.engine.formats import Layout, check_labels, detect_layout, label_set, read_labels
from fttui.engine.messages import read_conversation
from fttui.errors import DataError

SHOWN_ERRORS = 5  # file:line errors quoted when bad rows stop a run
BAD_ROW_SHARE = 0.01  # data.max_bad_rows default: 1% of the rows


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


def _split_rows(rows: Rows, fraction: float, seed: int) -> tuple[Rows, Rows]:
    order = list(range(len(rows)))
    random.Random(seed).shuffle(order)
    n_eval = max(1, round(len(rows) * fraction))
    if len(rows) - n_eval < 1:
        raise DataError(f"{rows.source}: {len(rows)} rows are too few to hold out {fraction:.0%} for eval",
                        "add rows, or set data.eval to a separate file or null")
    pick = lambda idx: Rows([rows[i] for i in idx], rows.source,  # noqa: E731
                            [rows.line_numbers[i] for i in idx] if rows.line_numbers else None)
    return pick(sorted(order[n_eval:])), pick(sorted(order[:n_eval]))


def load_train_eval(config: RunConfig) -> tuple[Rows, Rows | None]:
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


def _encode_classification(rows: Rows, layout: Layout, known: list[str], tokenizer, max_length: int):
    ids = check_labels(rows, read_labels(rows, layout), known)
    texts = [str(row[layout.text_column]) for row in rows]
    full_lengths = [len(x) for x in tokenizer(texts, truncation=False)["input_ids"]]
    encoded = tokenizer(texts, truncation=True, max_length=max_length)
    columns = {key: list(encoded[key]) for key in ("input_ids", "attention_mask", "token_type_ids") if key in encoded}
    columns["labels"] = ids
    return columns, RowCounts(len(rows), truncated=sum(length > max_length for length in full_lengths))


def _plain(row: dict, layout: Layout, where: str) -> tuple[str, str] | None:
    """(prompt, response) of a row trained as plain text: ``text``, or string prompt/completion; else None."""
    if layout.format == "text":
        text = row.get(layout.text_column)
        if not isinstance(text, str) or not text.strip():
            raise DataError(f"{where}: '{layout.text_column}' is missing or empty; columns found: {', '.join(row)}")
        return "", text
    prompt, completion = row.get("prompt"), row.get("completion")
    if layout.format == "prompt-completion" and isinstance(prompt, str) and isinstance(completion, str):
        if not completion.strip():
            raise DataError(f"{where}: the completion is empty")
        return prompt, completion
    return None


def render_row(row: dict, layout: Layout, renderer: Renderer, where: str, system_prompt: str | None):
    """The row as (text, trained character spans, notes): plain text gets BOS and EOS, chat its template."""
    plain = _plain(row, layout, where)
    if plain is None:
        return renderer.spans(read_conversation(row, layout.format, where, system_prompt), where)
    tokenizer = renderer.tokenizer
    prompt = (tokenizer.bos_token or "") + plain[0]
    text = prompt + plain[1] + tokenizer.eos_token
    return text, [(len(prompt), len(text), len(text))], []


def fit_length(ids: list[int], labels: list[int], max_length: int, keep_first: bool):
    """Truncate keeping the last response whole and trimming the prompt from the left; a response longer
    than max_length keeps a quarter of the length as context and loses its end. None: nothing trainable left."""
    if len(ids) <= max_length:
        return ids, labels
    keep = 1 if keep_first else 0  # the BOS token stays in front
    budget = max_length - keep
    last = len(labels) - 1
    while last >= 0 and labels[last] == IGNORE_INDEX:
        last -= 1
    start = last
    while start > 0 and labels[start - 1] != IGNORE_INDEX:
        start -= 1
    if last < 0:
        return None
    if len(ids) - start <= budget:
        begin = len(ids) - budget
    else:
        begin = start - min(start - keep, budget // 4)
    ids, labels = ids[:keep] + ids[begin:begin + budget], labels[:keep] + labels[begin:begin + budget]
    return (ids, labels) if any(label != IGNORE_INDEX for label in labels) else None


def _encode_causal(rows: Rows, layout: Layout, renderer: Renderer, config: RunConfig):
    max_length, overlong = config.training.max_length, config.data.overlong
    tokenizer = renderer.tokenizer
    columns = {"input_ids": [], "attention_mask": [], "labels": []}
    counts = RowCounts(len(rows))
    for index, row in enumerate(rows):
        where = rows.where(index)
        try:
            text, spans, notes = render_row(row, layout, renderer, where, config.data.system_prompt)
            ids, labels = encode(text, spans, tokenizer)
            if not any(label != IGNORE_INDEX for label in labels):
                raise DataError(f"{where}: no token of the reply survives tokenization")
        except DataError as error:
            counts.bad += 1
            if len(counts.errors) < SHOWN_ERRORS:
                counts.errors.append(error.message)
            continue
        counts.notes += [note for note in notes if note not in counts.notes]
        if len(ids) > max_length:
            if overlong == "error":
                raise DataError(f"{where}: {len(ids)} tokens, more than training.max_length={max_length}",
                                "raise training.max_length, or set data.overlong=truncate (or drop)")
            fitted = None if overlong == "drop" else fit_length(ids, labels, max_length,
                                                                ids[0] == tokenizer.bos_token_id)
            if fitted is None:
                counts.dropped += 1
                continue
            counts.truncated += 1
            ids, labels = fitted
        columns["input_ids"].append(ids)
        columns["attention_mask"].append([1] * len(ids))
        columns["labels"].append(labels)
    _check_bad_rows(rows, layout, counts, config.data.max_bad_rows)
    return columns, counts


def _check_bad_rows(rows: Rows, layout: Layout, counts: RowCounts, cap: int | None) -> None:
    """Past the cap (default 1% of the rows), bad rows stop the run with the first few file:line errors."""
    allowed = int(len(rows) * BAD_ROW_SHARE) if cap is None else cap
    if counts.bad > allowed or counts.bad + counts.dropped == counts.rows:
        if not counts.bad:
            raise DataError(f"{rows.source}: no row fits training.max_length",
                            "raise training.max_length, or set data.overlong=truncate")
        limit = f" (data.max_bad_rows allows {allowed})" if counts.bad > allowed else ""
        raise DataError(f"{rows.source}: {counts.bad} of {counts.rows} rows cannot be read as {layout.format} "
                        f"data{limit}:\n  " + "\n  ".join(counts.errors),
                        "fix those rows, or raise data.max_bad_rows to skip them")


def sample_prompts(rows: Rows, layout: Layout, renderer: Renderer, count: int, system_prompt: str | None) -> list[str]:
    """The first rows' prompts as the model is given them, for sample generations at each evaluation."""
    prompts = []
    for index, row in enumerate(rows):
        if len(prompts) == count:
            break
        where = rows.where(index)
        try:
            plain = _plain(row, layout, where)
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


def prepare_data(config: RunConfig, task: str, tokenizer) -> PreparedData:
    import datasets

    train_rows, eval_rows = load_train_eval(config)
    data = config.data
    layout = detect_layout(train_rows, data.format, task, data.text_column, data.label_column)
    if eval_rows is not None:
        detect_layout(eval_rows, layout.format, task, layout.text_column, layout.label_column)
    notes = fit_tokenizer(tokenizer, task, layout.format)
    max_length = config.training.max_length
    labels = None
    eval_cols = eval_counts = None
    prompts = []
    if layout.format == "classification":
        labels = label_set(read_labels(train_rows, layout), data.labels)
        if len(labels) < 2:
            raise DataError(f"{train_rows.source}: only one label ({labels[0]}) in the training data",
                            "a classifier needs at least two labels")
        train_cols, counts = _encode_classification(train_rows, layout, labels, tokenizer, max_length)
        if eval_rows is not None:
            eval_cols, eval_counts = _encode_classification(eval_rows, layout, labels, tokenizer, max_length)
    else:
        renderer = Renderer(tokenizer)
        train_cols, counts = _encode_causal(train_rows, layout, renderer, config)
        if eval_rows is not None:
            eval_cols, eval_counts = _encode_causal(eval_rows, layout, renderer, config)
        if config.training.sample_prompts:
            prompts = sample_prompts(eval_rows or train_rows, layout, renderer, config.training.sample_prompts,
                                     data.system_prompt)
        later = eval_counts.notes if eval_counts else []
        notes += counts.notes + [note for note in later if note not in counts.notes]
    return PreparedData(
        sample_prompts=prompts,
        train=datasets.Dataset.from_dict(train_cols),
        eval=None if eval_cols is None else datasets.Dataset.from_dict(eval_cols),
        layout=layout,
        labels=labels,
        truncated_rows=counts.truncated,
        eval_source=None if eval_rows is None else eval_rows.source,
        counts=counts,
        eval_counts=eval_counts,
        notes=notes,
    )
