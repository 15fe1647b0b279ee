"""Loss masks against the real chat templates in ../shared/data/chat-templates (and the fallback): the trained
tokens decode to exactly the assistant replies and their end markers, and the text is tokenized as a whole."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from fttui.engine.data.chat import FALLBACK_TEMPLATE, IGNORE_INDEX, TOOL_RESULT, Renderer, encode, fit_tokenizer
from fttui.engine.data.messages import Conversation, read_conversation

TEMPLATES = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "chat-templates"
SPECIALS = ["<|im_start|>", "<|im_end|>", "<|endoftext|>", "<|begin_of_text|>", "<|start_header_id|>",
            "<|end_header_id|>", "<|eot_id|>", "<|eom_id|>", "<|python_tag|>", "<s>", "</s>", "[INST]", "[/INST]",
            "[AVAILABLE_TOOLS]", "[/AVAILABLE_TOOLS]", "[TOOL_CALLS]", "[TOOL_RESULTS]", "[/TOOL_RESULTS]", "<bos>",
            "<eos>", "<start_of_turn>", "<end_of_turn>", "<start_of_image>", "<|system|>", "<|user|>",
            "<|assistant|>", "<|end|>", "<|startoftext|>", "<|tool_call_start|>", "<|tool_call_end|>"]
# From the folder's README: each family's BOS / EOS and what ends an assistant turn (and, for Phi, the EOS
# the template adds after the last turn).
FAMILIES = {
    "Qwen--": (None, "<|im_end|>", "<|im_end|>\n", ""),
    "trl--qwen": (None, "<|im_end|>", "<|im_end|>\n", ""),
    "meta-llama--": ("<|begin_of_text|>", "<|eot_id|>", "<|eot_id|>", ""),
    "trl--llama3": ("<|begin_of_text|>", "<|eot_id|>", "<|eot_id|>", ""),
    "mistralai--": ("<s>", "</s>", "</s>", ""),
    "google--": ("<bos>", "<eos>", "<end_of_turn>\n", ""),
    "trl--gemma3": ("<bos>", "<eos>", "<end_of_turn>\n", ""),
    "microsoft--": ("<s>", "<|endoftext|>", "<|end|>\n", "<|endoftext|>"),
    "trl--phi3_5": ("<s>", "<|endoftext|>", "<|end|>\n", "<|endoftext|>"),
    "LiquidAI--": ("<|startoftext|>", "<|im_end|>", "<|im_end|>\n", ""),
}
CALL_OPENERS = {"Qwen--": "<tool_call>\n", "trl--qwen": "<tool_call>\n", "mistralai--": "[TOOL_CALLS]",
                "LiquidAI--": "<|tool_call_start|>"}  # elsewhere the call is JSON: {"name": "get_weather", ...
NO_TOOL_TURN = ("microsoft--", "trl--phi3_5", "google--", "trl--gemma3")  # drop or refuse a tool role
SYSTEM, REPLIES = "You are a helpful assistant.", ["Hi! How can I help?", "Why did the chicken cross the road?"]
CONVERSATION = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "Hello!"},
                {"role": "assistant", "content": REPLIES[0]}, {"role": "user", "content": "Tell me a joke."},
                {"role": "assistant", "content": REPLIES[1]}]
WEATHER = {"type": "function", "function": {"name": "get_weather", "description": "Weather in a city",
                                            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}
TOOL_ROW = {"tools": [WEATHER], "messages": [
    {"role": "user", "content": "Weather in Paris?"},
    {"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_abc", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}]},
    {"role": "tool", "tool_call_id": "call_abc", "content": "rainy and 18 degrees"},
    {"role": "assistant", "content": "It is rainy in Paris."}]}


def template_files():
    if not TEMPLATES.is_dir():
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"{TEMPLATES} is absent"))]
    return sorted(TEMPLATES.glob("*.jinja"), key=lambda path: path.name)


def tokenizer_for(bos, eos, template):
    """A small byte-level BPE tokenizer with every template's special tokens (nothing can be downloaded)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=420, special_tokens=SPECIALS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator([SYSTEM, *REPLIES, "Hello! Tell me a joke. Weather in Paris? rainy and 18 degrees"], trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=bos, eos_token=eos)
    fast.chat_template = template
    return fast


def family(path: Path):
    return next(FAMILIES[prefix] for prefix in sorted(FAMILIES, key=len, reverse=True) if path.name.startswith(prefix))


def trained_runs(tokenizer, text, spans) -> tuple[list[str], list[int]]:
    """Each run of consecutive trained tokens, decoded; and the ids (checked to be the whole text's tokens)."""
    ids, labels = encode(text, spans, tokenizer)
    assert ids == tokenizer(text, add_special_tokens=False)["input_ids"]  # tokenized whole, nothing lost
    assert all(label in (IGNORE_INDEX, token) for token, label in zip(ids, labels))
    runs, current = [], []
    for token, label in zip(ids, labels):
        if label == IGNORE_INDEX and current:
            runs.append(current)
            current = []
        elif label != IGNORE_INDEX:
            current.append(token)
    runs += [current] if current else []
    prompt = tokenizer.decode([t for t, label in zip(ids, labels) if label == IGNORE_INDEX], skip_special_tokens=False)
    return [tokenizer.decode(run, skip_special_tokens=False) for run in runs], prompt


def assert_reply(decoded: str, expected: str):
    """The run is the reply and its marker; only a space the template writes before the reply may lead."""
    assert decoded in (expected, " " + expected), (decoded, expected)


@pytest.mark.parametrize("path", template_files(), ids=lambda p: p.stem if p else "absent")
def test_only_the_replies_and_their_end_markers_train(path):
    bos, eos, marker, final = family(path)
    tokenizer = tokenizer_for(bos, eos, path.read_text(encoding="utf-8"))
    conversation = Conversation([dict(m) for m in CONVERSATION], [m["role"] == "assistant" for m in CONVERSATION])
    text, spans, notes = Renderer(tokenizer).spans(conversation, "t.jsonl line 1")
    runs, prompt = trained_runs(tokenizer, text, spans)
    assert len(runs) == 2
    assert_reply(runs[0], REPLIES[0] + marker)
    assert_reply(runs[1], REPLIES[1] + marker + final)
    assert "Hello!" in prompt and "Tell me a joke." in prompt
    if path.name.startswith("mistralai--"):
        assert SYSTEM not in text and any("system prompt" in note for note in notes)  # the template drops it
    else:
        assert SYSTEM in prompt  # Gemma 2 refuses a system turn: it is folded into the first user turn


@pytest.mark.parametrize("path", template_files(), ids=lambda p: p.stem if p else "absent")
def test_tool_calls_train_and_tool_results_are_prompt(path):
    bos, eos, marker, final = family(path)
    tokenizer = tokenizer_for(bos, eos, path.read_text(encoding="utf-8"))
    conversation = read_conversation(TOOL_ROW, "chat", "t.jsonl line 3", None)
    text, spans, _ = Renderer(tokenizer).spans(conversation, "t.jsonl line 3")
    runs, prompt = trained_runs(tokenizer, text, spans)
    assert len(runs) == 2
    call, reply = runs
    opener = next((o for prefix, o in CALL_OPENERS.items() if path.name.startswith(prefix)), '{"name": "get_weather"')
    assert call.startswith(opener) and "get_weather" in call and "Paris" in call and call.endswith(marker)
    assert_reply(reply, "It is rainy in Paris." + marker + final)
    assert "rainy and 18 degrees" in prompt and "rainy and 18 degrees" not in call + reply
    assert '"description": "Weather in a city"' in prompt or "Weather in a city" in prompt  # the schema is shown
    assert (TOOL_RESULT in prompt) == path.name.startswith(NO_TOOL_TURN)  # there results become user turns


def test_the_fallback_template_is_a_real_template_and_trains_reply_and_eos():
    tokenizer = tokenizer_for(None, "</s>", None)
    assert fit_tokenizer(tokenizer, "causal-lm", "chat") == [] and tokenizer.chat_template == FALLBACK_TEMPLATE
    conversation = Conversation([dict(m) for m in CONVERSATION], [m["role"] == "assistant" for m in CONVERSATION])
    text, spans, _ = Renderer(tokenizer).spans(conversation, "w")
    runs, prompt = trained_runs(tokenizer, text, spans)
    assert runs == [REPLIES[0] + "</s>", REPLIES[1] + "</s>"]
    assert text.startswith("### System:\n" + SYSTEM + "\n\n### User:\nHello!\n\n### Assistant:\n")
    prompt_text = Renderer(tokenizer).prompt(CONVERSATION[:2])
    assert text.startswith(prompt_text) and prompt_text.endswith("### Assistant:\n")


def test_the_fallback_puts_tools_in_the_system_turn_as_json():
    tokenizer = tokenizer_for(None, "</s>", None)
    fit_tokenizer(tokenizer, "causal-lm", "chat")
    text, spans, _ = Renderer(tokenizer).spans(read_conversation(TOOL_ROW, "chat", "w", None), "w")
    system = text.split("\n\n### User:")[0]
    assert json.dumps([WEATHER]) in system
    runs, prompt = trained_runs(tokenizer, text, spans)
    assert json.loads(runs[0].removesuffix("</s>")) == {"name": "get_weather", "arguments": {"city": "Paris"}}
    assert "### Tool:\nrainy and 18 degrees" in prompt


def test_a_tokenizer_without_eos_gets_the_templates_end_marker_with_a_warning():
    qwen = TEMPLATES / "Qwen--Qwen2.5-7B-Instruct.jinja"
    if not qwen.is_file():
        pytest.skip(f"{TEMPLATES} is absent")
    tokenizer = tokenizer_for(None, None, qwen.read_text(encoding="utf-8"))
    notes = fit_tokenizer(tokenizer, "causal-lm", "chat")
    assert tokenizer.eos_token == "<|im_end|>" and tokenizer.pad_token == "<|im_end|>"
    assert len(notes) == 1 and "<|im_end|>" in notes[0]
