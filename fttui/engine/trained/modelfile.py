"""An Ollama Modelfile for an exported GGUF: the chat template the run trained with, its stop tokens, parameters.

Ollama templates are Go templates, and no general Jinja -> Go translation exists. So the template is learned
by rendering: probe conversations are rendered with the run's Jinja template, the text around each turn is read
off (system, user and assistant prefixes and suffixes, the generation prompt, a default system prompt), and the
Go template built from those pieces is accepted only when it reproduces the Jinja rendering of every probe
conversation exactly. Templates that do not fit that shape (Llama 2's ``[INST]``, which folds the system prompt
into the first user turn) get a single-turn TEMPLATE rendered from the Jinja one, and the Modelfile says so.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from fttui.engine.data.chat import Renderer, stop_token_ids

MARKS = [chr(0xE000 + i) for i in range(1, 8)]  # private-use characters no template writes
PARAMETERS = (("temperature", "0.7"), ("top_p", "0.9"), ("repeat_penalty", "1.1"))
MAX_CONTEXT = 4096


@dataclass(frozen=True)
class Turns:
    """The text a template writes around each turn's content, and between turns (fttui's fallback: a blank line)."""

    system: tuple[str, str]
    user: tuple[str, str]
    assistant: tuple[str, str]
    generation: str
    default_system: str  # written when a conversation has no system turn ("" for none)
    separator: str = ""  # before every turn but the first

    def render(self, messages: list[dict], system: str) -> str:
        """What Ollama will send the model, given the Go template below: the Python twin used to check it."""
        text = f"{self.system[0]}{system}{self.system[1]}" if system else ""
        for index, message in enumerate(messages):
            last, between = index == len(messages) - 1, self.separator if text else ""
            if message["role"] == "user":
                text += between + self.user[0] + message["content"] + self.user[1] + (self.generation if last else "")
            elif message["role"] == "assistant":
                text += between + self.assistant[0] + message["content"] + ("" if last else self.assistant[1])
        return text

    def go_template(self) -> str:
        """The same as a Go template (one line of actions: a ``{{-`` would eat the turns' own newlines)."""
        q = _literal
        between, mark = ("{{ $sep }}", "{{ $sep = " + json.dumps(self.separator, ensure_ascii=False) + " }}") \
            if self.separator else ("", "")
        return (('{{ $sep := "" }}' if self.separator else "")
                + "{{ if .System }}" + q(self.system[0]) + "{{ .System }}" + q(self.system[1]) + mark + "{{ end }}"
                "{{ range $i, $_ := .Messages }}{{ $last := eq (len (slice $.Messages $i)) 1 }}"
                '{{ if eq .Role "user" }}' + between + q(self.user[0]) + "{{ .Content }}" + q(self.user[1])
                + "{{ if $last }}" + q(self.generation) + "{{ end }}" + mark
                + '{{ else if eq .Role "assistant" }}' + between + q(self.assistant[0]) + "{{ .Content }}"
                "{{ if not $last }}" + q(self.assistant[1]) + "{{ end }}" + mark + "{{ end }}{{ end }}")


def _literal(text: str) -> str:
    """Literal text for a Go template: ``{{`` would open an action."""
    return text.replace("{{", '{{ "{{" }}')


def _split(text: str, marks: list[str]) -> list[str] | None:
    """The pieces of ``text`` between the marks, in order (None when one is missing)."""
    pieces = []
    for mark in marks:
        if mark not in text:
            return None
        head, text = text.split(mark, 1)
        pieces.append(head)
    return pieces + [text]


def _strip_bos(text: str, bos: str | None) -> str:
    """Without the BOS the template writes: llama.cpp adds it when it tokenizes (``tokenizer.ggml.add_bos_token``)."""
    return text[len(bos):] if bos and text.startswith(bos) else text


def template_bos(renderer: Renderer, tokenizer) -> str | None:
    """The BOS text the template writes itself (SmolLM2's BOS is ``<|im_start|>``, which its template writes
    literally as the start of a turn: that one stays)."""
    return tokenizer.bos_token if "bos_token" in renderer.template else None


def _renderings(renderer: Renderer, bos: str | None) -> tuple[list[str], str, str, str] | None:
    """Probe renderings cut at their marks: (system, user, reply, user, generation), the closed reply's end,
    the generation prompt, and what comes before the first user turn of a conversation without a system turn."""
    s, u1, a1, u2 = MARKS[:4]
    user, reply = {"role": "user", "content": u1}, {"role": "assistant", "content": a1}
    try:
        bare = renderer.render([user])
        generation = renderer.render([user], generation_prompt=True)
        full = renderer.render([{"role": "system", "content": s}, user, reply, {"role": "user", "content": u2}],
                               generation_prompt=True)
        closed = renderer.render([user, reply])
        unsystemed = renderer.render([user, reply, {"role": "user", "content": u2}], generation_prompt=True)
    except Exception:  # the template refuses a probe (a system turn, alternation)
        return None
    pieces, tail = _split(_strip_bos(full, bos), [s, u1, a1, u2]), _split(closed, [a1])
    opening = _split(_strip_bos(unsystemed, bos), [u1])
    if pieces is None or tail is None or opening is None or not generation.startswith(bare):
        return None
    return pieces, tail[1], generation[len(bare):], opening[0]


def learn_turns(renderer: Renderer, bos: str | None) -> Turns | None:
    """The turn pieces of the renderer's template, or None when its renderings do not decompose into them."""
    found = _renderings(renderer, bos)
    if found is None:
        return None
    (p0, p1, p2, p3, p4), assistant_end, gen, opening = found
    if not (p4.endswith(gen) and p3.startswith(assistant_end)):
        return None
    user_end, between_user = p4[: len(p4) - len(gen)], p3[len(assistant_end):]  # separator + user prefix
    guesses = [("", between_user)]
    if opening and between_user.endswith(opening) and between_user != opening:  # turns separated, none before the first
        guesses.append((between_user[: len(between_user) - len(opening)], opening))
    for separator, user_start in guesses:
        before_reply, before_user = user_end + separator, separator + user_start
        if not (p2.startswith(before_reply) and p1.endswith(before_user) and opening.endswith(user_start)):
            continue
        system = (p0, p1[: len(p1) - len(before_user)])
        default, default_text = opening[: len(opening) - len(user_start)], ""
        if default:
            if not (default.startswith(system[0]) and default.endswith(system[1] + separator)):
                continue
            default_text = default[len(system[0]): len(default) - len(system[1] + separator)]
        turns = Turns(system, (user_start, user_end), (p2[len(before_reply):], assistant_end), gen, default_text,
                      separator)
        if _reproduces(turns, renderer, bos):
            return turns
    return None


def _reproduces(turns: Turns, renderer: Renderer, bos: str | None) -> bool:
    """The Python twin of the Go template renders every probe conversation as the Jinja template does."""
    s, u1, a1, u2, a2, u3 = MARKS[:6]
    chats = [[u1], [u1, a1, u2], [u1, a1, u2, a2, u3], [u1, a1]]
    for words in chats:
        messages = [{"role": "user" if i % 2 == 0 else "assistant", "content": w} for i, w in enumerate(words)]
        for system in ("", s):
            given = ([{"role": "system", "content": system}] if system else []) + messages
            ends_with_user = messages[-1]["role"] == "user"
            try:
                want = _strip_bos(renderer.render(given, generation_prompt=ends_with_user), bos)
            except Exception:
                return False
            if not ends_with_user:  # Ollama leaves a last reply open, to be continued
                want = want.removesuffix(turns.assistant[1])
            if turns.render(messages, system or turns.default_system) != want:
                return False
    return True


def single_turn_template(renderer: Renderer, bos: str | None) -> str:
    """One question and its answer, rendered by the Jinja template with Ollama's ``.System``/``.Prompt`` in place."""
    s, p = MARKS[5], MARKS[6]
    try:
        text = renderer.render([{"role": "system", "content": s}, {"role": "user", "content": p}], generation_prompt=True)
    except Exception:
        text = renderer.render([{"role": "user", "content": p}], generation_prompt=True)
    text = _literal(_strip_bos(text, bos))
    return text.replace(s, "{{ .System }}").replace(p, "{{ .Prompt }}")


def modelfile(tokenizer, gguf_name: str, system_prompt: str | None, context: int | None) -> tuple[str, str]:
    """The Modelfile's text and how its template was made (``multi-turn`` or ``single-turn``)."""
    renderer = Renderer(tokenizer)
    bos = template_bos(renderer, tokenizer)
    turns = learn_turns(renderer, bos)
    lines = [f"# Made by fttui from the run's chat template; create it with: ollama create NAME -f Modelfile",
             f"FROM ./{gguf_name}", ""]
    if turns is not None:
        approach = "multi-turn"
        lines.append("# TEMPLATE: the chat template as a Go template, checked to render probe conversations as it does")
        lines.append(f'TEMPLATE """{turns.go_template()}"""')
        system_prompt = system_prompt or turns.default_system
    else:
        approach = "single-turn"
        lines.append("# TEMPLATE: single-turn (this chat template does not split into per-turn pieces Ollama can "
                     "repeat, so earlier turns of a conversation are not shown to the model)")
        lines.append(f'TEMPLATE """{single_turn_template(renderer, bos)}"""')
    if system_prompt:
        lines.append(f'SYSTEM """{system_prompt}"""')
    lines.append("")
    for token_id in stop_token_ids(tokenizer):
        lines.append(f'PARAMETER stop "{tokenizer.convert_ids_to_tokens(token_id)}"')
    for name, value in PARAMETERS:
        lines.append(f"PARAMETER {name} {value}")
    if context:
        lines.append(f"PARAMETER num_ctx {min(context, MAX_CONTEXT)}")
    return "\n".join(lines) + "\n", approach


def write_modelfile(folder: Path, tokenizer, gguf_name: str, system_prompt: str | None, context: int | None) -> str:
    text, approach = modelfile(tokenizer, gguf_name, system_prompt, context)
    (folder / "Modelfile").write_text(text, encoding="utf-8")
    return approach
