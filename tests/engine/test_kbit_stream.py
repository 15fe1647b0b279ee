"""The dtype facts the QLoRA memory estimate rests on, checked on PEFT and bitsandbytes as installed.

planning/memory.py counts the residual stream of k-bit training, and the MLP inputs it saves, in fp32 after
``prepare_model_for_kbit_training`` (it upcasts the embeddings, and bitsandbytes' linears return their input's dtype)
and in half precision without it. If a release changes either, the estimate's activations are off by 2x: this test says so first.
"""
from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("bitsandbytes")


def _block_input_dtypes(path: str, bits: int, upcast: bool) -> tuple[set, set]:
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    quant = (BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=torch.bfloat16)
             if bits == 4 else BitsAndBytesConfig(load_in_8bit=True))
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.bfloat16, quantization_config=quant)
    if upcast:
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)
    model = get_peft_model(model, LoraConfig(r=4, target_modules="all-linear"))
    blocks, mlp = set(), set()
    for layer in model.base_model.model.model.layers:
        layer.register_forward_pre_hook(lambda mod, args, kwargs: blocks.add(kwargs["hidden_states"].dtype)
                                        if "hidden_states" in kwargs else blocks.add(args[0].dtype), with_kwargs=True)
        layer.mlp.act_fn.register_forward_pre_hook(lambda mod, args: mlp.add(args[0].dtype))
    ids = torch.randint(0, 1000, (1, 12))
    with torch.autocast("cpu", dtype=torch.bfloat16):  # what Trainer's bf16=True wraps the forward in
        model(input_ids=ids, labels=ids).loss.backward()
    return blocks, mlp


@pytest.mark.parametrize("bits", [4, 8])
def test_prepared_kbit_model_runs_its_blocks_in_fp32(tiny_llama, bits):
    """Block inputs (what checkpointing keeps) and the MLP's activation input follow the upcast embeddings."""
    assert _block_input_dtypes(tiny_llama, bits, upcast=True) == ({torch.float32}, {torch.float32})
    assert _block_input_dtypes(tiny_llama, bits, upcast=False) == ({torch.bfloat16}, {torch.bfloat16})
