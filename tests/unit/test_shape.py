"""ModelShape: exact parameter counts for the reference configs, LoRA arithmetic, and clear errors."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

import fttui.planning as planning
from fttui.errors import ConfigError
from fttui.planning import load_shape
from fttui.planning.shape import shape_from_config

DATA = Path(__file__).parents[2].parent / "shared" / "data"
CONFIGS = DATA / "model-configs"
README_COMPUTED = {  # ../shared/data/model-configs/README.md, "computed from this config"
    "meta-llama--Llama-2-7b-hf.json": 6_738_415_616,
    "meta-llama--Llama-2-13b-hf.json": 13_015_864_320,
    "meta-llama--Llama-2-70b-hf.json": 68_976_648_192,
    "meta-llama--Meta-Llama-3-8B.json": 8_030_261_248,
    "mistralai--Mistral-7B-v0.1.json": 7_241_732_096,
    "Qwen--Qwen2.5-0.5B.json": 494_032_768,
    "Qwen--Qwen2.5-7B.json": 7_615_616_512,
    "google--gemma-2-9b.json": 9_241_705_984,
    "microsoft--Phi-3-mini-4k-instruct.json": 3_821_079_552,
    "microsoft--phi-2.json": 2_779_683_840,
    "openai-community--gpt2.json": 124_439_808,
    "google-bert--bert-base-uncased.json": 109_482_240,
    "FacebookAI--roberta-base.json": 124_645_632,
    "google-t5--t5-small.json": 60_506_624,
    "google--flan-t5-base.json": 247_577_856,
}


def reference(name: str) -> dict:
    if not CONFIGS.is_dir():
        pytest.skip(f"{CONFIGS} is not on this machine")
    return json.loads((CONFIGS / name).read_text())


@pytest.mark.parametrize("name,computed", sorted(README_COMPUTED.items()))
def test_parameter_count_matches_readme(name, computed):
    shape = shape_from_config(reference(name))
    assert shape.total_params == computed
    assert abs(shape.total_params - computed) / computed < 0.02


def test_every_reference_config_is_covered():
    if not CONFIGS.is_dir():
        pytest.skip("no reference data")
    assert {p.name for p in CONFIGS.glob("*.json")} == set(README_COMPUTED)


def test_grouped_query_attention_and_targets():
    shape = shape_from_config(reference("mistralai--Mistral-7B-v0.1.json"))
    linears = {m.name: m for m in shape.blocks[0].linears}
    assert (linears["k_proj"].in_features, linears["k_proj"].out_features) == (4096, 1024)
    assert shape.num_kv_heads == 8 and shape.num_layers == 32 and shape.context_length == 32768
    assert shape.lora_target_names == ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
    assert shape.resolve_targets(None) == shape.lora_target_names  # LoRA's default: every linear layer


def test_family_specific_module_names():
    assert shape_from_config(reference("openai-community--gpt2.json")).lora_target_names == ("c_attn", "c_proj", "c_fc")
    assert shape_from_config(reference("google-bert--bert-base-uncased.json")).lora_target_names == (
        "query", "key", "value", "dense")
    assert shape_from_config(reference("google--flan-t5-base.json")).lora_target_names == (
        "q", "k", "v", "o", "wi_0", "wi_1", "wo")
    t5_small = shape_from_config(reference("google-t5--t5-small.json"))
    assert t5_small.lora_target_names == ("q", "k", "v", "o", "wi", "wo")
    assert shape_from_config(reference("microsoft--Phi-3-mini-4k-instruct.json")).lora_target_names == (
        "qkv_proj", "o_proj", "gate_up_proj", "down_proj")


def test_tied_embeddings_defaults():
    gemma = reference("google--gemma-2-9b.json")
    assert "tie_word_embeddings" not in gemma
    shape = shape_from_config(gemma)
    assert shape.tied_embeddings and shape.lm_head_params == 0 and shape.head_dim == 256
    assert shape_from_config(reference("openai-community--gpt2.json")).tied_embeddings
    assert not shape_from_config(reference("google--flan-t5-base.json")).tied_embeddings
    untied = shape_from_config(dict(reference("Qwen--Qwen2.5-0.5B.json"), tie_word_embeddings=False))
    assert untied.total_params == README_COMPUTED["Qwen--Qwen2.5-0.5B.json"] + 151936 * 896


def test_lora_parameter_arithmetic():
    shape = shape_from_config(reference("meta-llama--Llama-2-7b-hf.json"))
    assert shape.lora_params(8, ["q_proj", "v_proj"]) == 32 * 2 * 8 * (4096 + 4096)
    assert shape.lora_params(8, ["all-linear"]) == 19_988_480  # what peft reports for r=8 on all linear layers
    assert shape.lora_params(8) == 19_988_480  # every linear layer by default
    assert shape.lora_params(8, ["q_proj"], dora=True) == 32 * (8 * 8192 + 4096)
    assert shape.ia3_params() == 32 * (4096 + 4096 + 11008)


def test_bias_counts_for_bitfit():
    assert shape_from_config(reference("google-bert--bert-base-uncased.json")).bias_params == 102_912
    assert shape_from_config(reference("meta-llama--Llama-2-7b-hf.json")).bias_params == 0
    assert shape_from_config(reference("Qwen--Qwen2.5-0.5B.json")).bias_params == 27_648


def test_unknown_architecture_counts_generically_with_warning():
    config = dict(model_type="mystery", hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                  intermediate_size=128, vocab_size=100)
    shape = shape_from_config(config)
    assert shape.family == "generic" and shape.warnings and "mystery" in shape.warnings[0]
    per_layer = 4 * 64 * 64 + 3 * 64 * 128 + 2 * 64
    assert shape.total_params == 2 * per_layer + 64 + 100 * 64  # tied by default, like PretrainedConfig


@pytest.mark.parametrize("missing", ["hidden_size", "num_hidden_layers", "vocab_size"])
def test_missing_fields_name_the_field(missing):
    config = dict(model_type="llama", hidden_size=64, num_hidden_layers=2, num_attention_heads=4, vocab_size=100)
    del config[missing]
    with pytest.raises(ConfigError, match=missing):
        shape_from_config(config, where="x/config.json")


def test_zero_sizes_are_rejected():
    with pytest.raises(ConfigError, match="positive"):
        shape_from_config(dict(model_type="gpt2", n_embd=0, n_layer=2, n_head=2, vocab_size=10))


def test_builtin_is_the_packaged_minilm():
    shape = load_shape("builtin")
    assert (shape.family, shape.kind, shape.total_params) == ("bert", "encoder", 22_713_216)


def test_local_folder_and_file(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps(dict(model_type="gpt2", n_embd=32, n_layer=2, n_head=2,
                                                          vocab_size=50, n_positions=64)))
    by_folder, by_file = load_shape(str(tmp_path)), load_shape(str(tmp_path / "config.json"))
    assert by_folder.total_params == by_file.total_params > 0 and by_folder.context_length == 64


def test_bad_local_paths(tmp_path):
    with pytest.raises(ConfigError, match="no such file"):
        load_shape(str(tmp_path / "missing"))
    with pytest.raises(ConfigError, match="no config.json"):
        load_shape(str(tmp_path))
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_shape(str(tmp_path / "config.json"))


def test_unreachable_hub(monkeypatch):
    import huggingface_hub

    monkeypatch.setattr(huggingface_hub, "try_to_load_from_cache", lambda *a, **k: None)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # the hub unreachable, known at once
    with pytest.raises(ConfigError, match="can't be reached") as info:
        load_shape("some-org/some-model")
    assert "builtin" in info.value.hint


def test_unknown_lora_target_lists_the_choices():
    with pytest.raises(ConfigError) as info:
        load_shape("builtin").resolve_targets(["q_proj"])
    assert "query" in info.value.hint
