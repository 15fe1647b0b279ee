"""A tiny Llama whose tokenizer llama.cpp's converter knows, built here (nothing can be downloaded).

The converter refuses the MiniLM WordPiece tokenizer of the other tiny models (its pre-tokenizer is not in
llama.cpp's list), so this one is a Llama-2-style BPE with byte fallback and a ``▁`` for spaces, trained on a
few sentences with the ``tokenizers`` library; the converter reads such a tokenizer.json without a hash check.
"""
from __future__ import annotations

from pathlib import Path

CHATML = ("{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
          "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
CORPUS = ["Hello! Tell me a joke.", "What is the weather in Paris? Rainy and 18 degrees.",
          "the quick brown fox jumps over the lazy dog", "Write one sentence about the sea.",
          "The capital of France is Paris.", "red green blue black one two three done again"]


def llama_bpe_tokenizer():
    from tokenizers import Tokenizer, decoders, models, normalizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True, fuse_unk=True))
    tokenizer.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    tokenizer.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(),
                                           decoders.Strip(" ", 1, 0)])
    specials = ["<unk>", "<s>", "</s>", "<|im_start|>", "<|im_end|>"] + [f"<0x{i:02X}>" for i in range(256)]
    tokenizer.train_from_iterator(CORPUS * 4, trainers.BpeTrainer(vocab_size=420, special_tokens=specials))
    fast = PreTrainedTokenizerFast(tokenizer_object=tokenizer, bos_token="<s>", eos_token="<|im_end|>",
                                   unk_token="<unk>", pad_token="</s>")
    fast.chat_template = CHATML
    return fast


def byte_level_tokenizer():
    """A GPT-2-style byte-level BPE trained here: its pre-tokenizer hash is in no list the converter knows."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.train_from_iterator(CORPUS * 4, trainers.BpeTrainer(
        vocab_size=400, special_tokens=["<|endoftext|>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, eos_token="<|endoftext|>")


def save_tiny_llama(path: Path, tokenizer=None) -> str:
    """A 2-layer Llama (hidden 64, grouped-query attention) with that tokenizer, saved like a hub model."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = tokenizer or llama_bpe_tokenizer()
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                         bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id)
    LlamaForCausalLM(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return str(path)


def finished_chat_run(root: Path, output_dir: Path) -> Path:
    """A finished 4-step LoRA run on chat rows of the tiny Llama above (its run folder): something to export."""
    import json

    from fttui.config import validate_config
    from fttui.engine.training.recipe import run
    from fttui.engine.sink import ListSink
    from fttui.runner.run_dir import create_run_dir

    model = save_tiny_llama(root / "base")
    rows = [{"messages": [{"role": "user", "content": f"hello {i % 3}"},
                          {"role": "assistant", "content": ["one", "two", "three"][i % 3]}]} for i in range(12)]
    (root / "chat.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    config = validate_config({
        "model": {"name": model, "task": "causal-lm"}, "data": {"train": str(root / "chat.jsonl"), "eval": None},
        "method": {"name": "lora"},
        "training": {"max_steps": 4, "batch_size": 4, "learning_rate": 3e-2, "precision": "fp32", "save_steps": 100,
                     "baseline_eval": False},
        "output": {"dir": str(output_dir)},
    })
    run_dir, lock = create_run_dir(config)
    try:
        run(config, run_dir, ListSink())
    finally:
        lock.release()  # as the worker does when it ends: an export claims the run next
    return run_dir
