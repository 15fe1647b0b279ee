"""Render a conversation once with its chat template and mark exactly the assistant tokens as trained.

An assistant turn's body is found where the rendering changes when that turn alone is replaced by a probe;
its end marker is what the template writes after the body when the turn ends the conversation, as far as
the whole rendering agrees (``<|im_end|>\\n``, ``<|eot_id|>``, ``</s>``...). This needs nothing from the
template but to render, so it also holds where a prefix of the conversation renders differently from the
whole (Mistral drops the system prompt unless the last turn is the user's, and puts the tool list before the
last user turn). The text is then tokenized once, with offsets, and a token trains when it overlaps a
trained span: the labels are exactly those of the conversation tokenized whole.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from fttui.engine.data.messages import Conversation
from fttui.errors import ConfigError, DataError

IGNORE_INDEX = -100
PROBE = "\ue000"  # a private-use character no template writes and no reply starts or ends with
# The template of a model that has none (base models, encoders): plain markers a model learns fast. It is a
# real chat template, saved with the model, so what the model was trained on travels with it.
FALLBACK_TEMPLATE = (
    "{%- if bos_token %}{{ bos_token }}{% endif -%}"
    "{%- for message in messages -%}"
    "{%- if not loop.first %}{{ '\\n\\n' }}{% endif -%}"
    "{%- if message['role'] == 'assistant' -%}"
    "{{ '### Assistant:\\n' + message['content'] + eos_token }}"
    "{%- else -%}"
    "{{ '### ' + message['role'] | capitalize + ':\\n' + message['content'] }}"
    "{%- endif -%}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt %}{{ '\\n\\n### Assistant:\\n' }}{% endif -%}"
)
TOOLS_NOTE = "You can call these tools. To call one, reply with a JSON object {\"name\": ..., \"arguments\": {...}}:\n"
TOOL_RESULT = "Tool result:\n"


@dataclass(frozen=True)
class Traits:
    """What a template renders itself; the rest is written into ordinary turns before rendering."""

    takes_tools: bool  # reads the tools= list
    renders_calls: bool  # prints an assistant turn's tool_calls
    tool_role: bool  # has a turn for tool results


def _shows(render, marker: str, messages: list[dict], tools=None) -> bool:
    try:
        return marker in render(messages, tools)
    except Exception:  # the template refuses it (a role it does not know, alternation)
        return False


def traits(render) -> Traits:
    """Found by rendering small probes, not by reading the template: ChatML-style templates write any role."""
    call = {"id": "call00001", "type": "function", "function": {"name": "fttui_probe_call", "arguments": {}}}
    tool = {"type": "function", "function": {"name": "fttui_probe_tool", "description": "", "parameters": {}}}
    user = {"role": "user", "content": "x"}
    calling = {"role": "assistant", "content": "", "tool_calls": [call]}
    renders_calls = _shows(render, "fttui_probe_call", [user, calling])
    result = {"role": "tool", "tool_call_id": "call00001", "content": "fttui_probe_result"}
    asked = calling if renders_calls else {"role": "assistant", "content": "y"}
    return Traits(takes_tools=_shows(render, "fttui_probe_tool", [user], [tool]), renders_calls=renders_calls,
                  tool_role=_shows(render, "fttui_probe_result", [user, asked, result]))


def _call_text(calls: list[dict]) -> str:
    return "\n".join(json.dumps({"name": c["function"]["name"], "arguments": c["function"]["arguments"]},
                                ensure_ascii=False) for c in calls)


def adapt(conversation: Conversation, fit: Traits) -> Conversation:
    """Tools, tool calls and tool results in the form this template renders: its own where it has one, else
    tools as JSON in the system turn, calls as JSON in the reply, results as user turns (``Tool result:``)."""
    tools = conversation.tools
    messages, trained = [dict(m) for m in conversation.messages], list(conversation.trained)
    if tools and not fit.takes_tools:
        listing = TOOLS_NOTE + json.dumps(tools, ensure_ascii=False)
        if messages[0]["role"] == "system":
            messages[0]["content"] = messages[0]["content"] + "\n\n" + listing
        else:
            messages.insert(0, {"role": "system", "content": listing})
            trained.insert(0, False)
        tools = None
    out, out_trained = [], []
    for message, train in zip(messages, trained):
        if message.get("tool_calls") and not fit.renders_calls:
            text = message.get("content", "")
            message = {"role": "assistant", "content": (text + "\n" if text.strip() else "")
                       + _call_text(message["tool_calls"])}
        if message["role"] == "tool" and not fit.tool_role:
            message = {"role": "user", "content": TOOL_RESULT + message.get("content", "")}
            if out and out[-1]["role"] == "user":  # keep user/assistant alternation
                out[-1] = {"role": "user", "content": out[-1]["content"] + "\n\n" + message["content"]}
                continue
        out.append(message)
        out_trained.append(train)
    return Conversation(out, out_trained, tools, list(conversation.notes))


def _common_prefix(a: str, b: str) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


def _common_suffix(a: str, b: str, floor: int) -> int:
    n = min(len(a), len(b)) - floor
    i = 0
    while i < n and a[-1 - i] == b[-1 - i]:
        i += 1
    return i


class Renderer:
    """One tokenizer's chat template (or the fallback), rendering conversations and finding trained spans."""

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer
        self.template = getattr(tokenizer, "chat_template", None) or FALLBACK_TEMPLATE
        self.traits = traits(self.render)

    def render(self, messages: list[dict], tools=None, generation_prompt: bool = False) -> str:
        return self.tokenizer.apply_chat_template(messages, tools=tools, chat_template=self.template,
                                                  tokenize=False, add_generation_prompt=generation_prompt)

    def _body(self, text: str, messages: list[dict], index: int, tools) -> tuple[int, int]:
        """Where message ``index`` (an assistant turn) is written in ``text``: the part a probe replaces."""
        probed = messages[:index] + [{"role": "assistant", "content": PROBE}] + messages[index + 1:]
        other = self.render(probed, tools)
        start = _common_prefix(text, other)
        return start, len(text) - _common_suffix(text, other, start)

    def spans(self, conversation: Conversation, where: str) -> tuple[str, list[tuple[int, int, int]], list[str]]:
        """The rendered conversation, the character spans that train as (start, body end, end): each reply,
        then its end marker; and notes on what the template did with the conversation."""
        conversation = self._renderable(adapt(conversation, self.traits), where)
        try:
            text, spans = self._spans(conversation, where)
        except DataError:
            raise
        except Exception as error:  # jinja2.TemplateError, or a template's raise_exception
            raise DataError(f"{where}: the chat template refuses this conversation: {error}") from None
        messages = conversation.messages
        if any(m["role"] == "system" and m["content"].strip() and m["content"].strip() not in text for m in messages):
            conversation.notes.append("the chat template leaves the system prompt out of conversations that end "
                                      "with an assistant turn (Mistral's do), so the model does not see it")
        return text, spans, conversation.notes

    def _spans(self, conversation: Conversation, where: str) -> tuple[str, list[tuple[int, int, int]]]:
        messages, tools = conversation.messages, conversation.tools
        text = self.render(messages, tools)
        spans = []
        for index, train in enumerate(conversation.trained):
            if not train:
                continue
            last = index == len(messages) - 1
            head = messages[: index + 1]
            try:
                start, end = self._body(text, messages, index, tools)
                tail = text[end:] if last else None
            except Exception:  # the probe breaks a rule of the template (Mistral's alternation around tool calls)
                start = None
            if start is None or tail is None:
                alone = text if last else self.render(head, tools)
                alone_start, alone_end = self._body(alone, head, index, tools)
                tail = alone[alone_end:]
                if start is None:  # the reply as the conversation up to it renders it, found in the whole
                    start = text.find(alone[alone_start:alone_end], spans[-1][2] if spans else 0)
                    if start < 0:
                        raise DataError(f"{where}: the chat template renders an assistant reply differently "
                                        "in the whole conversation than in its beginning")
                    end = start + alone_end - alone_start
            if end <= start:
                raise DataError(f"{where}: the chat template writes nothing for an assistant reply")
            spans.append((start, end, end + self._marker(tail, _common_prefix(text[end:], tail))))
        return text, spans

    def _marker(self, tail: str, matched: int) -> int:
        """How much of the end marker trains: the ``matched`` characters, cut back to whole tokens (after
        Phi-3's ``<|end|>\n`` the final ``<|endoftext|>`` and the next ``<|user|>`` share ``<|``)."""
        if matched == len(tail) or not getattr(self.tokenizer, "is_fast", False):
            return matched
        offsets = self.tokenizer(tail, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
        return max([b for _, b in offsets if b <= matched], default=0)

    def _renderable(self, conversation: Conversation, where: str) -> Conversation:
        """Fold a system turn into the first user turn for templates that refuse one (Gemma 2)."""
        messages = conversation.messages
        if messages[0]["role"] != "system":
            return conversation
        try:
            self.render(messages, conversation.tools)
            return conversation
        except Exception:
            pass
        system, rest, trained = messages[0], [dict(m) for m in messages[1:]], conversation.trained[1:]
        if not rest or rest[0]["role"] != "user":
            return conversation  # nothing to fold it into; the render error names the problem
        rest[0]["content"] = system["content"] + "\n\n" + rest[0]["content"]
        notes = conversation.notes + ["the chat template refuses a system turn; the system prompt is put before "
                                      "the first user message"]
        return Conversation(rest, trained, conversation.tools, notes)

    def prompt(self, messages: list[dict], tools=None) -> str:
        """What a model is given to answer the last message: the conversation and the generation prompt."""
        adapted = adapt(Conversation(messages, [False] * len(messages), tools), self.traits)
        adapted = self._renderable(adapted, "prompt")
        return self.render(adapted.messages, adapted.tools, generation_prompt=True)


def encode(text: str, spans: list[tuple[int, int, int]], tokenizer) -> tuple[list[int], list[int]]:
    """Token ids of the whole text and labels: -100 but on the tokens that touch a reply (``start`` to
    ``body_end``: a leading-space token like Mistral's ``▁Hi`` trains) or lie inside its end marker (``body_end``
    to ``end``: the marker was matched by characters, so a token it only begins, ``<|user|>`` after
    Phi-3's ``<|end|>\n<|``, stays prompt)."""
    if not getattr(tokenizer, "is_fast", False):
        return _encode_in_pieces(text, spans, tokenizer)
    encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    ids, labels, k = encoded["input_ids"], [], 0
    for token, (a, b) in zip(ids, encoded["offset_mapping"]):
        while k < len(spans) and spans[k][2] <= a:
            k += 1
        trained = False
        if k < len(spans) and b > a:
            start, body_end, end = spans[k]
            trained = (a < body_end and b > start) or (body_end <= a and b <= end)
        labels.append(token if trained else IGNORE_INDEX)
    return ids, labels


def _encode_in_pieces(text: str, spans, tokenizer) -> tuple[list[int], list[int]]:
    """Slow (Python) tokenizers have no offsets: tokenize prompt and trained pieces one after another."""
    ids, labels, at = [], [], 0
    for start, _, end in [*spans, (len(text), len(text), len(text))]:
        for piece, trained in ((text[at:start], False), (text[start:end], True)):
            piece_ids = tokenizer(piece, add_special_tokens=False)["input_ids"] if piece else []
            ids += piece_ids
            labels += piece_ids if trained else [IGNORE_INDEX] * len(piece_ids)
        at = end
    return ids, labels


TEMPLATE_FORMATS = ("alpaca", "chat", "prompt-completion", "preference", "unpaired")


def end_marker(tokenizer) -> str | None:
    """The token a template writes to end an assistant turn (``<|im_end|>``...), if it is one token."""
    renderer = Renderer(tokenizer)
    try:
        text = renderer.render([{"role": "user", "content": "x"}, {"role": "assistant", "content": PROBE}])
    except Exception:
        return None
    marker = text[text.rindex(PROBE) + 1:].strip() if PROBE in text else ""
    if not marker:
        return None
    ids = tokenizer(marker, add_special_tokens=False)["input_ids"]
    return marker if len(ids) == 1 and ids[0] != tokenizer.unk_token_id else None


def fit_tokenizer(tokenizer, task: str, fmt: str) -> list[str]:
    """Give the tokenizer what the run trains with and saves: a chat template (the fallback for models
    without one), an EOS token (the template's end marker, else SEP, with a warning) and a PAD token."""
    notes = []
    templated = task == "causal-lm" and fmt in TEMPLATE_FORMATS
    if templated and not getattr(tokenizer, "chat_template", None):
        tokenizer.chat_template = FALLBACK_TEMPLATE
    if tokenizer.eos_token is None:
        marker = end_marker(tokenizer) if templated else None
        token = marker or tokenizer.sep_token
        if token is None:
            raise ConfigError("the tokenizer has neither an EOS nor a SEP token, so a model cannot learn to stop",
                              "use a model whose tokenizer defines eos_token")
        tokenizer.eos_token = token
        if task == "causal-lm":
            why = "the chat template ends turns with it" if marker else "its SEP token"
            notes.append(f"the tokenizer has no EOS token: {token} ({why}) is used as EOS and saved with the model")
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "right"
    return notes


def stop_token_ids(tokenizer) -> list[int]:
    """EOS and the template's end-of-turn token: generation stops at either (Llama 3 ends turns with
    ``<|eot_id|>``, not with its EOS)."""
    ids = [tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else []
    marker = end_marker(tokenizer) if getattr(tokenizer, "chat_template", None) else None
    if marker is not None:
        marker_id = tokenizer.convert_tokens_to_ids(marker)
        if marker_id is not None and marker_id not in ids:
            ids.append(marker_id)
    return ids
