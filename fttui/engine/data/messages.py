"""Instruction and chat rows as the messages chat templates take, and which of them train.

Read here: OpenAI-style ``messages`` (``tool_calls`` on assistant turns, a ``tool`` role), ShareGPT
``conversations`` with LLaMA-Factory's ``function_call``/``observation`` roles, a ``tools`` column and a
``system`` column, alpaca rows, and ``prompt``/``completion`` rows whose values are lists of messages (as
TRL writes them). Assistant turns train, tool calls included; system, user and tool results are prompt.
A row that cannot be read raises DataError naming its file and line (the caller counts it as bad).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

from fttui.errors import DataError

ROLES = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant", "model": "assistant",
         "bot": "assistant", "system": "system", "function_call": "assistant", "tool_call": "assistant",
         "observation": "tool", "tool": "tool", "function": "tool", "ipython": "tool"}
CALL_ID_LENGTH = 9  # Mistral's templates refuse any other length; other templates ignore ids or print them


@dataclass
class Conversation:
    """Messages in chat-template form, whether each one trains, and the tool schemas (or None)."""

    messages: list[dict]
    trained: list[bool]
    tools: list[dict] | None = None
    notes: list[str] = field(default_factory=list)


def _text(content, where: str) -> str:
    """Message content as text: a string, or OpenAI-style parts whose text is joined."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list) and all(isinstance(part, dict) for part in content):
        return "".join(str(part.get("text", "")) for part in content if part.get("type", "text") == "text")
    raise DataError(f"{where}: message content must be text, got {type(content).__name__}")


def _arguments(value, where: str):
    """Tool-call arguments as a dict when they are JSON (templates print them with tojson)."""
    if isinstance(value, str):
        try:
            return json.loads(value) if value.strip() else {}
        except json.JSONDecodeError:
            raise DataError(f"{where}: tool call arguments are not JSON: {value[:60]!r}") from None
    return value if value is not None else {}


def _calls(raw, where: str) -> list[dict]:
    """OpenAI ``tool_calls``, or a ShareGPT ``function_call`` value ({name, arguments} or a list of them)."""
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError:
            raise DataError(f"{where}: a function_call turn must hold JSON like "
                            '{"name": ..., "arguments": {...}}') from None
    items = raw if isinstance(raw, list) else [raw]
    calls = []
    for item in items:
        function = item.get("function", item) if isinstance(item, dict) else None
        if not isinstance(function, dict) or not isinstance(function.get("name"), str) or not function["name"]:
            raise DataError(f"{where}: a tool call needs a function name")
        args = function.get("arguments", function.get("parameters"))
        calls.append({"id": item.get("id"), "type": "function",
                      "function": {"name": function["name"], "arguments": _arguments(args, where)}})
    if not calls:
        raise DataError(f"{where}: a function_call turn holds no call")
    return calls


def read_tools(value, where: str) -> list[dict] | None:
    """A ``tools`` column (a list, or the JSON string LLaMA-Factory writes) in OpenAI's {type, function} form."""
    if value is None or value == "" or value == []:
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise DataError(f"{where}: the 'tools' column is not JSON") from None
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(tool, dict) for tool in value):
        raise DataError(f"{where}: 'tools' must be a list of function schemas")
    return [tool if "function" in tool else {"type": "function", "function": tool} for tool in value] or None


def _turns(raw, where: str) -> list[dict]:
    if not isinstance(raw, list) or not raw:
        raise DataError(f"{where}: 'messages' must be a non-empty list of {{role, content}} objects")
    messages = []
    for turn in raw:
        if not isinstance(turn, dict):
            raise DataError(f"{where}: each message must be an object with role and content")
        given = turn.get("role", turn.get("from"))
        role = ROLES.get(str(given).lower())
        if role is None:
            raise DataError(f"{where}: a message has role {given!r}; use system/user/assistant/tool "
                            "(or ShareGPT's human/gpt/function_call/observation)")
        content = turn.get("content", turn.get("value"))
        message = {"role": role}
        if str(given).lower() in ("function_call", "tool_call"):
            message.update(content="", tool_calls=_calls(content, where))
        else:
            message["content"] = _text(content, where)
            if role == "assistant" and turn.get("tool_calls"):
                message["tool_calls"] = _calls(turn["tool_calls"], where)
            if role == "tool" and turn.get("tool_call_id") is not None:
                message["tool_call_id"] = str(turn["tool_call_id"])
            if role == "tool" and turn.get("name"):
                message["name"] = str(turn["name"])
        messages.append(message)
    return messages


def _number_calls(messages: list[dict]) -> None:
    """Give every tool call a 9-character id and every tool result the id of the call it answers."""
    renamed, pending, count = {}, [], 0
    for message in messages:
        for call in message.get("tool_calls", []):
            count += 1
            new = f"call{count:05d}"
            if call.get("id") is not None:
                renamed[str(call["id"])] = new
            call["id"] = new
            pending.append(new)
        if message["role"] == "tool":
            given = message.get("tool_call_id")
            if given in renamed:
                message["tool_call_id"] = renamed[given]
                if renamed[given] in pending:
                    pending.remove(renamed[given])
            elif pending:
                message["tool_call_id"] = pending.pop(0)
            elif count:  # nothing left unanswered: it answers the latest call
                message["tool_call_id"] = f"call{count:05d}"


def _check(messages: list[dict], trained: list[bool], where: str) -> None:
    if not any(trained):
        raise DataError(f"{where}: the conversation has no assistant reply to learn from")
    for message, train in zip(messages, trained):
        if train and not message.get("content", "").strip() and not message.get("tool_calls"):
            raise DataError(f"{where}: an assistant reply is empty")


def read_conversation(row: dict, fmt: str, where: str, system_prompt: str | None) -> Conversation:
    """An alpaca, chat or conversational prompt/completion row as a Conversation."""
    if fmt == "alpaca":
        instruction, extra, output = row.get("instruction"), row.get("input") or "", row.get("output")
        if not isinstance(instruction, str) or not isinstance(output, str) or not output.strip():
            raise DataError(f"{where}: alpaca rows need a non-empty 'instruction' and 'output'")
        prompt = f"{instruction}\n\n{extra}" if str(extra).strip() else instruction
        messages = [{"role": "user", "content": prompt}, {"role": "assistant", "content": output}]
        trained = [False, True]
    elif fmt == "prompt-completion":
        prompt, completion = row.get("prompt"), row.get("completion")
        if isinstance(prompt, str):
            prompt = [{"role": "user", "content": prompt}]
        if isinstance(completion, str):
            completion = [{"role": "assistant", "content": completion}]
        head, tail = _turns(prompt, where), _turns(completion, where)
        messages, trained = head + tail, [False] * len(head) + [m["role"] == "assistant" for m in tail]
    else:
        messages = _turns(row.get("messages") if "messages" in row else row.get("conversations"), where)
        trained = [m["role"] == "assistant" for m in messages]
    system = row.get("system") if isinstance(row.get("system"), str) and row["system"].strip() else system_prompt
    if system and messages[0]["role"] != "system":
        messages.insert(0, {"role": "system", "content": system})
        trained.insert(0, False)
    while trained and not trained[-1]:  # a trailing prompt turn has nothing to learn from
        messages.pop()
        trained.pop()
    _check(messages, trained, where)
    _number_calls(messages)
    return Conversation(messages, trained, read_tools(row.get("tools"), where))


def to_messages(row: dict, layout, where: str, system_prompt: str | None) -> list[dict]:
    """The row's messages only (for callers that render a prompt)."""
    return read_conversation(row, layout.format, where, system_prompt).messages
