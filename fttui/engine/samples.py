"""Sample generations from fixed eval prompts, so each evaluation shows what the model now writes."""
from __future__ import annotations

import torch

from fttui.engine.chat import stop_token_ids


def make_sampler(tokenizer, prompts: list[str], max_new_tokens: int):
    """A callable(model) -> [{prompt, output}] using greedy decoding (deterministic, comparable across evals)."""
    if not prompts:
        return None
    stops = stop_token_ids(tokenizer)

    def sample(model) -> list[dict]:
        was_training = model.training
        model.eval()
        results = []
        device = next(model.parameters()).device
        try:
            with torch.no_grad():
                for prompt in prompts:
                    encoded = tokenizer(prompt, return_tensors="pt", add_special_tokens=False)
                    # Only ids and mask: encoder tokenizers add token_type_ids, which decoders reject.
                    inputs = {k: encoded[k].to(device) for k in ("input_ids", "attention_mask") if k in encoded}
                    output = model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False,
                                            pad_token_id=tokenizer.pad_token_id, eos_token_id=stops or None)
                    new_tokens = output[0, inputs["input_ids"].shape[1]:]
                    results.append({"prompt": prompt, "output": tokenizer.decode(new_tokens, skip_special_tokens=True)})
        finally:
            model.train(was_training)
        return results

    return sample
