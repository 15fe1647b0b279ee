"""One row as the text the model sees and the character spans it learns (plain text, or its chat template), and
truncation that keeps the reply: shared by tokenizing (``encoding``), sample prompts and the preview.
"""
from __future__ import annotations

from fttui.engine.data.chat import IGNORE_INDEX, Renderer
from fttui.engine.data.formats import Layout
from fttui.engine.data.messages import Conversation, read_conversation
from fttui.errors import DataError


def clip_text(text: str, limit: int, keep_end: bool) -> str:
    if len(text) <= limit:
        return text
    return text[-limit:] if keep_end else text[:limit]


def plain_parts(row: dict, layout: Layout, where: str) -> tuple[str, str] | None:
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


def clip_conversation(conversation: Conversation, limit: int) -> Conversation:
    """Messages longer than ``limit`` characters cut to what truncation can keep: the last reply its start,
    every other message its end (the prompt is trimmed from the left)."""
    last = max(i for i, trained in enumerate(conversation.trained) if trained)
    messages = [dict(m, content=clip_text(m["content"], limit, keep_end=i != last))
                if isinstance(m.get("content"), str) and len(m["content"]) > limit else m
                for i, m in enumerate(conversation.messages)]
    return Conversation(messages, conversation.trained, conversation.tools, conversation.notes)


def render_row(row: dict, layout: Layout, renderer: Renderer, where: str, system_prompt: str | None,
               max_chars: int | None = None):
    """The row as (text, trained character spans, notes): plain text gets BOS and EOS, chat its template.
    With ``max_chars``, longer messages are clipped first (encoding.CHARS_PER_TOKEN)."""
    plain = plain_parts(row, layout, where)
    if plain is None:
        conversation = read_conversation(row, layout.format, where, system_prompt)
        return renderer.spans(clip_conversation(conversation, max_chars) if max_chars else conversation, where)
    tokenizer = renderer.tokenizer
    head, body = plain
    if max_chars:
        head, body = clip_text(head, max_chars, keep_end=True), clip_text(body, max_chars, keep_end=False)
    prompt = (tokenizer.bos_token or "") + head
    text = prompt + body + tokenizer.eos_token
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
