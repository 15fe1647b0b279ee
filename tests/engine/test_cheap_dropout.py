"""LoRA's cheaper CPU dropout is still dropout: the rate, the scaling, the gradient, the seed, every lane of the
random words, and every LoRA layer of a real peft model."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from fttui.engine.methods.cheap_dropout import CheapDropout, cheapen_lora_dropout, drop_mask


def test_it_drops_at_the_rate_asked_and_scales_what_it_keeps():
    torch.manual_seed(0)
    x = torch.rand(400, 1000) + 0.5
    layer = CheapDropout(0.1).train()
    out = layer(x)
    dropped = out == 0
    assert abs(dropped.float().mean().item() - 0.1) < 0.003
    assert torch.allclose(out[~dropped], x[~dropped] / 0.9)
    assert abs(out.mean().item() / x.mean().item() - 1) < 0.005  # expectation kept, as nn.Dropout


@pytest.mark.parametrize("p", [0.05, 0.3, 0.5])
def test_every_16_bit_lane_of_a_random_word_is_used(p):
    # four draws come from one 64-bit word: a lane whose sign bit never varies would drop never (or always)
    torch.manual_seed(1)
    dropped = drop_mask(torch.Size([4 * 100_000]), p).view(-1, 4).float().mean(0)
    assert torch.all((dropped - p).abs() < 0.006), dropped


def test_the_gradient_flows_through_what_was_kept_only():
    torch.manual_seed(2)
    x = torch.randn(64, 64, requires_grad=True)
    out = CheapDropout(0.2).train()(x)
    out.sum().backward()
    kept = out.detach() != 0
    assert torch.allclose(x.grad[kept], torch.full_like(x.grad[kept], 1 / 0.8))
    assert torch.all(x.grad[~kept] == 0)


def test_the_same_seed_draws_the_same_mask_and_the_next_call_another():
    x = torch.ones(1000)
    layer = CheapDropout(0.3).train()
    torch.manual_seed(3)
    first, second = layer(x), layer(x)
    torch.manual_seed(3)
    assert torch.equal(layer(x), first) and not torch.equal(first, second)


def test_in_eval_mode_or_at_rate_zero_it_is_the_identity():
    x = torch.randn(32, 32)
    assert torch.equal(CheapDropout(0.5).eval()(x), x)
    assert torch.equal(CheapDropout(0.0).train()(x), x)
    assert torch.equal(CheapDropout(1.0).train()(x), torch.zeros_like(x))


def test_every_lora_layer_of_a_peft_model_gets_it_and_the_adapter_still_saves(tiny_llama, tmp_path):
    from peft import LoraConfig, PeftModel, get_peft_model
    from transformers import AutoModelForCausalLM

    model = get_peft_model(AutoModelForCausalLM.from_pretrained(tiny_llama),
                           LoraConfig(r=4, lora_dropout=0.1, target_modules="all-linear", task_type="CAUSAL_LM"))
    layers = [m for m in model.modules() if isinstance(getattr(m, "lora_dropout", None), nn.ModuleDict)]
    assert cheapen_lora_dropout(model) == len(layers) == 14  # 2 blocks x (q, k, v, o, gate, up, down)
    assert all(isinstance(m.lora_dropout["default"], CheapDropout) and m.lora_dropout["default"].p == 0.1
               for m in layers)
    assert cheapen_lora_dropout(model) == 0  # already swapped
    model.train()
    ids = torch.randint(0, 1000, (2, 16))
    model(input_ids=ids, labels=ids).loss.backward()
    assert all(p.grad is not None for n, p in model.named_parameters() if "lora_A" in n)
    model.save_pretrained(tmp_path / "adapter")
    reloaded = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_llama), tmp_path / "adapter")
    assert reloaded.peft_config["default"].lora_dropout == 0.1


def test_the_engine_applies_it_to_lora_runs(tiny_llama):
    from transformers import AutoModelForCausalLM

    from fttui.config import validate_config
    from fttui.engine.methods.peft_methods import apply_peft

    config = validate_config({"model": {"name": tiny_llama, "task": "causal-lm"}, "data": {"train": "unused.jsonl"},
                              "method": {"name": "lora"}})  # lora_dropout: its default, 0.05
    model = apply_peft(AutoModelForCausalLM.from_pretrained(tiny_llama), config, "causal-lm", tiny_llama)
    dropouts = [m.lora_dropout["default"] for m in model.modules()
                if isinstance(getattr(m, "lora_dropout", None), nn.ModuleDict)]
    assert dropouts and all(type(d) is CheapDropout for d in dropouts)
