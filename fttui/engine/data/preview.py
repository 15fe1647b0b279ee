"""Show data the way the model will see it, without loading model weights (for the wizard's dataset step)."""
from __future__ import annotations

from fttui.config import RunConfig
from fttui.engine.data.chat import Renderer, encode, fit_tokenizer
from fttui.engine.data.dataset import preview_rows
from fttui.engine.data.rendering import render_row
from fttui.engine.data.formats import Layout, detect_layout, label_set, read_labels
from fttui.engine.data.preference_rows import PREFERENCE_FORMATS, as_reply_row, requested_format
from fttui.errors import DataError
from fttui.engine.models.loading import fit_max_length, infer_task, load_model_config, load_tokenizer, resolve_model
from fttui.events import Previewed
from fttui.planning.packing import packing_stats, settings_rule_out

MEASURED_ROWS = 2000
EXAMPLES = 5


def _histogram(lengths: list[int], max_length: int, bins: int = 12) -> tuple[list[int], list[int]]:
    top = max(max(lengths, default=1), max_length)
    width = max(1, -(-top // bins))
    edges = [i * width for i in range(bins + 1)]
    counts = [0] * bins
    for length in lengths:
        counts[min(length // width, bins - 1)] += 1
    return edges, counts


def _segments(text: str, spans: list[tuple[int, int, int]]) -> list[tuple[str, bool]]:
    """The rendered text cut into (piece, trained) at the trained spans."""
    pieces, at = [], 0
    for start, _, end in spans:
        pieces += [(text[at:start], False), (text[start:end], True)]
        at = end
    pieces.append((text[at:], False))
    return [(piece, trained) for piece, trained in pieces if piece]


def _weighed_against(other) -> str:
    """What a preference example's reply is weighed against, as its label: "rejected: ..." or the KTO label."""
    if isinstance(other, bool):
        return "desirable" if other else "undesirable"
    text = other if isinstance(other, str) else " ".join(str(t.get("content", t.get("value", ""))) for t in other)
    return f"rejected: {text}"


def preview(config: RunConfig) -> Previewed:
    source = resolve_model(config.model.name)
    model_config = load_model_config(source, config)
    task = infer_task(model_config, config.model.task)
    tokenizer = load_tokenizer(source, config)
    config, _ = fit_max_length(config, model_config, tokenizer)  # lengths measured against what will train
    train, train_rows, eval_rows = preview_rows(config, MEASURED_ROWS)  # a big file is counted, not held
    data = config.data
    layout = detect_layout(train, requested_format(config), task, data.text_column, data.label_column)
    labels = label_set(read_labels(train, layout), data.labels) if layout.format == "classification" else None
    fit_tokenizer(tokenizer, task, layout.format)
    renderer = Renderer(tokenizer)
    lengths, examples, bad = [], [], 0
    for index, row in enumerate(train[:MEASURED_ROWS]):
        if layout.format == "classification":
            segments, label = [(str(row[layout.text_column]), False)], str(row[layout.label_column])
            tokens = len(tokenizer(segments[0][0])["input_ids"])
        else:
            try:
                shown, label = layout, None
                if layout.format in PREFERENCE_FORMATS:
                    row, other = as_reply_row(row, layout.format, train.where(index))
                    shown, label = Layout("prompt-completion"), _weighed_against(other)
                text, spans, _ = render_row(row, shown, renderer, train.where(index), data.system_prompt)
            except DataError:
                bad += 1  # counted, as training counts it; the run's plan names the rows
                continue
            segments = _segments(text, spans)
            tokens = len(encode(text, spans, tokenizer)[0])
        lengths.append(tokens)
        if len(examples) < EXAMPLES:
            examples.append({"segments": [[piece, trained] for piece, trained in segments], "label": label,
                             "tokens": tokens})
    edges, counts = _histogram(lengths, config.training.max_length)
    max_length = config.training.max_length
    packed = {}
    if settings_rule_out(config, task) is None:
        stats = packing_stats(lengths, max_length, config.training.batch_size)
        packed = dict(packed_sequences=stats.sequences, packed_tokens_per_batch=stats.tokens_per_batch,
                      padding_unpacked=stats.padding_unpacked, padding_packed=stats.padding_packed)
    return Previewed(
        data_format=layout.format, columns=list(train[0].keys()), text_column=layout.text_column,
        label_column=layout.label_column, train_rows=train_rows, eval_rows=eval_rows,
        labels=labels, examples=examples, length_bins=edges, length_counts=counts,
        truncated_fraction=sum(length > max_length for length in lengths) / max(len(lengths), 1),
        max_length=max_length, measured_rows=len(lengths), bad_rows=bad, **packed,
    )
