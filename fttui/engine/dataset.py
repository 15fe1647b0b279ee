"""From ``data.*`` settings to tokenized train/eval datasets, validating every row on the way."""
from __future__ import annotations

import random
from dataclasses import dataclass, field

from fttui.config.schema import RunConfig
from fttui.engine.data_files import Rows, looks_like_path, read_rows
from fttui.engine.formats import (
    Layout,
    check_labels,
    detect_layout,
    encode_segments,
    label_set,
    read_labels,
    render_segments,
    to_messages,
)
from fttui.errors import DataError


@dataclass
class PreparedData:
    train: object  # datasets.Dataset
    eval: object | None
    layout: Layout
    labels: list[str] | None
    truncated_rows: int
    eval_source: str | None
    sample_prompts: list[str] = field(default_factory=list)  # causal LM: fixed prompts generated from at each eval


def prompt_text(segments: list[tuple[str, bool]]) -> str:
    """The prompt part of a rendered example: everything before the first trained segment."""
    text = ""
    for part, trained in segments:
        if trained:
            break
        text += part
    return text


def sample_prompts(rows: Rows, layout: Layout, tokenizer, count: int, system_prompt: str | None) -> list[str]:
    prompts = []
    for index, row in enumerate(rows[:count]):
        if layout.format == "text":
            words = str(row.get(layout.text_column, "")).split()
            prompts.append(" ".join(words[: max(3, len(words) // 3)]))
        else:
            prompts.append(prompt_text(render_segments(to_messages(row, layout, rows.where(index), system_prompt), tokenizer)))
    return [p for p in prompts if p.strip()]


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
    return columns, sum(length > max_length for length in full_lengths)


def _encode_causal(rows: Rows, layout: Layout, tokenizer, max_length: int, system_prompt: str | None):
    columns = {"input_ids": [], "attention_mask": [], "labels": []}
    truncated = 0
    for index, row in enumerate(rows):
        if layout.format == "text":
            text = row.get(layout.text_column)
            if not isinstance(text, str) or not text.strip():
                raise DataError(f"{rows.where(index)}: '{layout.text_column}' is missing or empty; columns found: {', '.join(row)}")
            segments = [(text + tokenizer.eos_token, True)]
        else:
            segments = render_segments(to_messages(row, layout, rows.where(index), system_prompt), tokenizer)
        example, cut = encode_segments(segments, tokenizer, max_length)
        if not any(label != -100 for label in example["labels"]):
            raise DataError(f"{rows.where(index)}: nothing left to learn after truncation to {max_length} tokens",
                            "raise training.max_length or shorten the prompt")
        truncated += cut
        for key, value in example.items():
            columns[key].append(value)
    return columns, truncated


def prepare_data(config: RunConfig, task: str, tokenizer) -> PreparedData:
    import datasets

    train_rows, eval_rows = load_train_eval(config)
    data = config.data
    layout = detect_layout(train_rows, data.format, task, data.text_column, data.label_column)
    if eval_rows is not None:
        detect_layout(eval_rows, layout.format, task, layout.text_column, layout.label_column)
    max_length = config.training.max_length
    labels = None
    if layout.format == "classification":
        labels = label_set(read_labels(train_rows, layout), data.labels)
        if len(labels) < 2:
            raise DataError(f"{train_rows.source}: only one label ({labels[0]}) in the training data",
                            "a classifier needs at least two labels")
        train_cols, truncated = _encode_classification(train_rows, layout, labels, tokenizer, max_length)
        eval_cols = None if eval_rows is None else _encode_classification(eval_rows, layout, labels, tokenizer, max_length)[0]
    else:
        train_cols, truncated = _encode_causal(train_rows, layout, tokenizer, max_length, data.system_prompt)
        eval_cols = None if eval_rows is None else _encode_causal(eval_rows, layout, tokenizer, max_length, data.system_prompt)[0]
    prompts = []
    if layout.format != "classification" and config.training.sample_prompts:
        prompts = sample_prompts(eval_rows or train_rows, layout, tokenizer, config.training.sample_prompts, data.system_prompt)
    return PreparedData(
        sample_prompts=prompts,
        train=datasets.Dataset.from_dict(train_cols),
        eval=None if eval_cols is None else datasets.Dataset.from_dict(eval_cols),
        layout=layout,
        labels=labels,
        truncated_rows=truncated,
        eval_source=None if eval_rows is None else eval_rows.source,
    )
