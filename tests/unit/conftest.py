"""Model configs several unit-test files plan against (written as the hub's config.json has them)."""
from __future__ import annotations

import pytest

from fttui.planning.shape import shape_from_config

LLAMA_8B = dict(model_type="llama", hidden_size=4096, intermediate_size=14336, num_attention_heads=32,
                num_key_value_heads=8, num_hidden_layers=32, vocab_size=128256, max_position_embeddings=8192,
                tie_word_embeddings=False)  # Meta-Llama-3-8B


@pytest.fixture
def llama8b_config() -> dict:
    """Meta-Llama-3-8B's config.json, a fresh copy per test."""
    return dict(LLAMA_8B)


@pytest.fixture(scope="session")
def llama8b():
    return shape_from_config(LLAMA_8B, source="llama-3-8b")
