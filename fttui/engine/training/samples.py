"""Sample generations from fixed eval prompts, so each evaluation shows what the model now writes."""
from __future__ import annotations

import torch

from fttui.engine.data.chat import stop_token_ids


def generate_reply(model, tokenizer, prompt: str, max_new_tokens: int, streamer=None, stops=None) -> str:
    """Greedy continuation of ``prompt`` up to a stop token: the one generation call of samples, Try it and
    ``fttui chat`` (a ``streamer``, such as transformers' TextIteratorStreamer, hears each token as it comes)."""
    stops = stop_token_ids(tokenizer) if stops is None else stops
    device = next(model.parameters()).device
    encoded = tokenizer(prompt, return_tensors="pt", add_special_tokens=False)
    # Only ids and mask: encoder tokenizers add token_type_ids, which decoders reject.
    inputs = {k: encoded[k].to(device) for k in ("input_ids", "attention_mask") if k in encoded}
    with torch.no_grad():
        output = model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False, streamer=streamer,
                                pad_token_id=tokenizer.pad_token_id, eos_token_id=stops or None)
    return tokenizer.decode(output[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True)


def make_sampler(tokenizer, prompts: list[str], max_new_tokens: int):
    """A callable(model) -> [{prompt, output}] using greedy decoding (deterministic, comparable across evals)."""
    if not prompts:
        return None
    stops = stop_token_ids(tokenizer)

    def sample(model) -> list[dict]:
        was_training = model.training
        model.eval()
        try:
            return [{"prompt": prompt, "output": generate_reply(model, tokenizer, prompt, max_new_tokens, stops=stops)}
                    for prompt in prompts]
        finally:
            model.train(was_training)

    return sample
