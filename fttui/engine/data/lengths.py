"""Token lengths of prepared rows, read from their Arrow columns: the fit check takes the longest rows, the
length-grouped sampler batches rows of similar length, the compile probe times typical ones."""
from __future__ import annotations

TOKEN_COLUMNS = ("input_ids", "prompt_ids", "chosen_ids", "rejected_ids", "completion_ids")


def row_lengths(dataset) -> list[int]:
    """Tokens per row (a preference row's prompt and replies together), in the dataset's own order."""
    import pyarrow.compute as pc

    view, total = dataset.with_format("arrow"), None  # in the dataset's own order (a shuffled view included)
    for name in TOKEN_COLUMNS:
        if name in dataset.column_names:
            lengths = pc.list_value_length(view[name])
            total = lengths if total is None else pc.add(total, lengths)
    return total.to_pylist() if total is not None else [1] * len(dataset)
