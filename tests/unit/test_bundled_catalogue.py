"""The bundled configs: real shapes (the planner's count matches each published size) and honest sources."""
from __future__ import annotations

import json

import pytest

from fttui.planning.bundled import CATALOGUE, bundled, catalogue_ids
from fttui.planning.shape import shape_from_config

# Published sizes, from each model card or report (the source after each figure).
PUBLISHED = {
    "meta-llama/Meta-Llama-3-8B": 8.03e9,  # Llama 3 model card: 8B (the hub page: 8.03B)
    "meta-llama/Llama-3.1-8B": 8.03e9,  # Llama 3.1 model card: 8B
    "meta-llama/Llama-3.2-1B": 1.23e9,  # Llama 3.2 model card: 1.23B
    "meta-llama/Llama-3.2-3B": 3.21e9,  # Llama 3.2 model card: 3.21B
    "Qwen/Qwen2.5-0.5B": 0.49e9,  # Qwen2.5-0.5B model card: 0.49B
    "Qwen/Qwen2.5-1.5B": 1.54e9,  # Qwen2.5-1.5B model card: 1.54B
    "Qwen/Qwen2.5-7B": 7.61e9,  # Qwen2.5-7B model card: 7.61B
    "Qwen/Qwen3-4B": 4.0e9,  # Qwen3-4B model card: 4.0B
    "Qwen/Qwen3-8B": 8.2e9,  # Qwen3-8B model card: 8.2B
    "mistralai/Mistral-7B-v0.1": 7.3e9,  # Mistral AI's release announcement: 7.3B
    "google/gemma-2-2b": 2_614_341_888,  # Gemma 2 technical report, table of parameter counts
    "google/gemma-2-9b": 9_241_705_984,  # Gemma 2 technical report: 917,504,000 embedding + 8,324,201,984
    "microsoft/Phi-3-mini-4k-instruct": 3.8e9,  # Phi-3 technical report (arXiv:2404.14219): 3.8B
    "microsoft/phi-4": 14.7e9,  # the hub model page (14.7B; the card rounds it to "14B")
    "HuggingFaceTB/SmolLM2-135M": 135e6,  # SmolLM2 model card: 135M
    "openai-community/gpt2": 124e6,  # gpt2 model card: 124M
    "google-bert/bert-base-uncased": 110e6,  # BERT paper: BERT-BASE 110M
    "FacebookAI/roberta-base": 125e6,  # RoBERTa / fairseq model list: 125M
    "TinyLlama/TinyLlama-1.1B-Chat-v1.0": 1.1e9,  # TinyLlama model card: 1.1B
    "google/gemma-3-1b-it": 1.0e9,  # Gemma 3 model card: 1B (keras-hub's gemma3_1b preset: 999,885,952)
    "mistralai/Mistral-7B-v0.3": 7.25e9,  # the hub model page: 7.25B
    "Qwen/Qwen3-0.6B": 0.6e9,  # Qwen3-0.6B model card: 0.6B (0.44B non-embedding)
    "Qwen/Qwen3-1.7B": 1.7e9,  # Qwen3-1.7B model card: 1.7B (1.4B non-embedding)
    "microsoft/Phi-3.5-mini-instruct": 3.8e9,  # Phi-3.5-mini-instruct model card: 3.8B
    "HuggingFaceTB/SmolLM2-360M-Instruct": 360e6,  # SmolLM2 model card: 360M
    "HuggingFaceTB/SmolLM2-1.7B-Instruct": 1.7e9,  # SmolLM2 model card: 1.7B
}
SOURCE_KEYS = {"hub_id", "same_shape", "repository", "path", "commit", "form", "taken", "cross_checked"}


def test_every_bundled_config_has_a_published_size_the_planner_reproduces():
    assert sorted(PUBLISHED, key=str.lower) == catalogue_ids()  # a new file needs its published size here
    off = {}
    for hub_id, published in PUBLISHED.items():
        shape = shape_from_config(bundled(hub_id).config(), hub_id)
        if abs(shape.total_params / published - 1) > 0.02:
            off[hub_id] = f"{shape.total_params:,} vs {published:,.0f}"
    assert not off, off


def test_every_file_says_where_it_came_from_and_is_named_after_its_hub_id():
    for path in sorted(CATALOGUE.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        source = data["_source"]
        assert SOURCE_KEYS <= set(source), path.name
        assert path.name == source["hub_id"].replace("/", "--") + ".json"
        assert len(source["commit"]) == 40 and source["taken"].count("-") == 2
        assert path.stat().st_size < 8_000  # a few KB each
        assert "model_type" in data and "architectures" in data


def test_lookup_is_case_insensitive_and_knows_twins():
    entry = bundled("meta-llama/meta-llama-3-8b-instruct")
    assert entry.hub_id == "meta-llama/Meta-Llama-3-8B"
    assert entry.note.startswith("planned from the bundled config of meta-llama/Meta-Llama-3-8B (same shape as")
    assert "_source" not in entry.config()
    assert bundled("gpt2").hub_id == "openai-community/gpt2"
    assert bundled("nobody/nothing") is None


@pytest.mark.skipif(not (CATALOGUE.parents[2].parent / "shared" / "data" / "model-configs").is_dir(),
                    reason="../shared/data is not here")
def test_bundled_shapes_agree_with_the_shared_copies():
    """Where ../shared/data/model-configs holds an independent copy, the architectures agree exactly."""
    shared = CATALOGUE.parents[2].parent / "shared" / "data" / "model-configs"
    compared = 0
    for hub_id in catalogue_ids():
        other = shared / (hub_id.replace("/", "--") + ".json")
        if other.is_file():
            mine = shape_from_config(bundled(hub_id).config(), hub_id).total_params
            assert shape_from_config(json.loads(other.read_text()), hub_id).total_params == mine, hub_id
            compared += 1
    assert compared >= 5
