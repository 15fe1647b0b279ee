"""Detect a dataset's format from its columns and turn rows into model inputs.

Formats: ``classification`` (text + label), ``text`` (plain text, causal LM), ``alpaca``
(instruction/input/output) and ``chat`` (``messages`` role/content, or ShareGPT ``conversations``
from/value). Instruction and chat rows train on the assistant's replies only: prompt tokens get
label -100. Models without a chat template use the fallback template documented in FALLBACK_TEMPLATE.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from fttui.engine.data_files import Rows
from fttui.errors import DataError

TEXT_COLUMNS = ("text", "sentence", "content", "review", "document")
LABEL_COLUMNS = ("label", "labels", "sentiment", "class", "category", "target")
SHAREGPT_ROLES = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant",
                  "system": "system", "model": "assistant"}
# Used when the tokenizer has no chat template (base models, encoders): plain markers a model learns fast.
FALLBACK_TEMPLATE = {"system": "### System:\n{}\n\n", "user": "### User:\n{}\n\n", "assistant": "### Assistant:\n{}"}
FALLBACK_GENERATION_PROMPT = "### Assistant:\n"
IGNORE_INDEX = -100


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
    if fmt == "alpaca":
        for needed in ("instruction", "output"):
            if needed not in columns:
                raise DataError(f"{rows.source}: alpaca data needs '{needed}'; columns found: {found}")
        return Layout("alpaca")
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


def to_messages(row: dict, layout: Layout, where: str, system_prompt: str | None) -> list[dict]:
    """An alpaca or chat row as a list of {role, content} messages."""
    if layout.format == "alpaca":
        instruction, extra, output = row.get("instruction"), row.get("input") or "", row.get("output")
        if not isinstance(instruction, str) or not isinstance(output, str) or not output.strip():
            raise DataError(f"{where}: alpaca rows need a non-empty 'instruction' and 'output'")
        prompt = f"{instruction}\n\n{extra}" if str(extra).strip() else instruction
        messages = [{"role": "user", "content": prompt}, {"role": "assistant", "content": output}]
    else:
        raw = row.get("messages") if "messages" in row else row.get("conversations")
        if not isinstance(raw, list) or not raw:
            raise DataError(f"{where}: 'messages' must be a non-empty list of {{role, content}} objects")
        messages = []
        for turn in raw:
            if not isinstance(turn, dict):
                raise DataError(f"{where}: each message must be an object with role and content")
            role = turn.get("role", turn.get("from"))
            content = turn.get("content", turn.get("value"))
            role = SHAREGPT_ROLES.get(str(role).lower())
            if role is None or not isinstance(content, str):
                raise DataError(f"{where}: a message has role {turn.get('role', turn.get('from'))!r}; use system/user/assistant (or human/gpt)")
            messages.append({"role": role, "content": content})
        if not any(m["role"] == "assistant" for m in messages):
            raise DataError(f"{where}: the conversation has no assistant reply to learn from")
    if system_prompt and messages[0]["role"] != "system":
        messages.insert(0, {"role": "system", "content": system_prompt})
    return messages


def render_segments(messages: list[dict], tokenizer) -> list[tuple[str, bool]]:
    """The conversation as (text, trained) segments: assistant replies are trained, the rest is prompt."""
    if getattr(tokenizer, "chat_template", None):
        segments, rendered = [], ""
        for i, message in enumerate(messages):
            if message["role"] != "assistant":
                continue
            prefix = tokenizer.apply_chat_template(messages[:i], tokenize=False, add_generation_prompt=True)
            full = tokenizer.apply_chat_template(messages[: i + 1], tokenize=False)
            if not prefix.startswith(rendered) or not full.startswith(prefix):
                raise DataError("the model's chat template does not render conversations incrementally",
                                "set data.format=text with pre-rendered text instead")
            segments.append((prefix[len(rendered):], False))
            segments.append((full[len(prefix):], True))
            rendered = full
        return [(text, trained) for text, trained in segments if text]
    segments = []
    for message in messages:
        text = FALLBACK_TEMPLATE[message["role"]].format(message["content"])
        if message["role"] == "assistant":
            segments.append((FALLBACK_GENERATION_PROMPT, False))
            segments.append((message["content"] + tokenizer.eos_token, True))
            segments.append(("\n\n", False))
        else:
            segments.append((text, False))
    return segments


def encode_segments(segments: list[tuple[str, bool]], tokenizer, max_length: int) -> tuple[dict, bool]:
    """Token ids and labels (-100 on prompt tokens), truncated to max_length; returns (example, truncated)."""
    input_ids: list[int] = []
    labels: list[int] = []
    bos = [tokenizer.bos_token_id] if tokenizer.bos_token_id is not None and not getattr(tokenizer, "chat_template", None) else []
    input_ids.extend(bos)
    labels.extend([IGNORE_INDEX] * len(bos))
    for text, trained in segments:
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        input_ids.extend(ids)
        labels.extend(ids if trained else [IGNORE_INDEX] * len(ids))
    truncated = len(input_ids) > max_length
    input_ids, labels = input_ids[:max_length], labels[:max_length]
    return {"input_ids": input_ids, "attention_mask": [1] * len(input_ids), "labels": labels}, truncated
