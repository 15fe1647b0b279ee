"""Planning reads the config: one task rule, one "auto" precision, one RunConfig -> Settings translation."""
from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path

import pytest

from fttui.config import load_config, validate_config
from fttui.errors import ConfigError
from fttui.planning import (Compute, compute_for, estimate_run, load_shape, resolve_precision, resolve_task,
                            settings_for, shape_from_config, trainable_task)
from fttui.planning.memory import Settings

SHARED_CONFIGS = Path(__file__).parents[2].parent / "shared" / "data" / "model-configs"
EXPECTED_TASK = {"t5": "causal-lm", "bert": "seq-cls", "roberta": "seq-cls"}  # every other family here: causal-lm


def _shared_configs() -> list[Path]:
    return sorted(SHARED_CONFIGS.glob("*.json")) if SHARED_CONFIGS.is_dir() else []


@pytest.mark.skipif(not _shared_configs(), reason="../shared/data/model-configs is not here")
@pytest.mark.parametrize("path", _shared_configs(), ids=lambda p: p.stem)
def test_task_from_a_config_and_from_its_shape_agree(path):
    config = json.loads(path.read_text())
    shape = shape_from_config(config, source=path.stem)
    task = resolve_task(config)
    assert task == resolve_task(shape) == EXPECTED_TASK.get(config["model_type"], "causal-lm")
    if config.get("is_encoder_decoder"):  # flan-t5, t5-small: generation is refused the same way everywhere
        for model in (config, shape):
            with pytest.raises(ConfigError, match="encoder-decoder") as raised:
                trainable_task(model)
            assert "model.task=seq-cls" in raised.value.hint
            assert trainable_task(model, "seq-cls") == "seq-cls"  # T5ForSequenceClassification trains
    else:
        assert trainable_task(config) == trainable_task(shape) == task


@pytest.mark.parametrize("architecture,model_type,expected", [
    ("LlamaForCausalLM", "llama", "causal-lm"),
    ("Qwen2ForSequenceClassification", "qwen2", "seq-cls"),  # a reward model or classifier checkpoint
    ("GPT2LMHeadModel", "gpt2", "causal-lm"),
    (None, "mistral", "causal-lm"),  # a decoder that names no head generates
    ("BertModel", "bert", "seq-cls"),
    ("DebertaV2ForMaskedLM", "deberta-v2", "seq-cls"),  # an unknown type classifies, as the engine always did
    ("FalconForCausalLM", "falcon", "causal-lm"),
])
def test_auto_reads_the_architecture_then_the_kind(architecture, model_type, expected):
    config = {"model_type": model_type, **({"architectures": [architecture]} if architecture else {})}
    assert resolve_task(config) == expected
    assert resolve_task(config, "seq-cls") == "seq-cls"  # an explicit task is kept


@pytest.mark.parametrize("requested,device,bf16,expected", [
    ("auto", "cuda", True, "bf16"), ("auto", "cuda", False, "fp16"),
    ("auto", "cpu", True, "bf16"), ("auto", "cpu", False, "fp32"),
    ("fp32", "cuda", True, "fp32"), ("bf16", "cpu", False, "bf16"),
])
def test_auto_precision(requested, device, bf16, expected):
    assert resolve_precision(requested, Compute(device, bf16)) == expected


def test_compute_from_a_hardware_report():
    class Gpu:
        def __init__(self, bf16):
            self.bf16 = bf16

    class Report:
        gpus = [Gpu(True), Gpu(False)]

        class cpu:
            bf16 = True

    assert compute_for(Report, "cuda") == Compute("cuda", False)  # one old GPU: fp16 for all
    assert compute_for(Report, "cpu") == Compute("cpu", True)
    assert compute_for(None, "cuda") == Compute("cuda", True)  # --gpu-memory: a planned GPU has bf16
    assert compute_for(None, "cpu") == Compute("cpu", False)


def test_every_method_field_that_moves_memory_reaches_the_estimator():
    shape = load_shape("builtin")
    config = validate_config({
        "model": {"task": "auto"}, "data": {"train": "x.jsonl", "labels": ["a", "b", "c"]},
        "method": {"name": "adapter", "lora_r": 32, "lora_targets": ["query"], "lora_dropout": 0.0,
                   "trainable_layers": 3, "num_virtual_tokens": 7, "prefix_projection": True,
                   "encoder_hidden_size": 64, "adapter_reduction": 8, "adapter_placement": "houlsby",
                   "double_quant": False},
        "training": {"batch_size": 3, "max_length": 4096, "precision": "auto", "gradient_checkpointing": True}})
    s = settings_for(config, shape, Compute("cpu", False))
    assert (s.method, s.task, s.batch_size, s.seq_len, s.precision) == ("adapter", "seq-cls", 3, 512, "fp32")
    assert (s.lora_r, s.lora_targets, s.lora_dropout, s.freeze_layers) == (32, ("query",), 0.0, 3)
    assert (s.num_virtual_tokens, s.prefix_projection, s.encoder_hidden_size) == (7, True, 64)
    assert (s.adapter_reduction, s.adapter_placement, s.num_labels, s.double_quant) == (8, "houlsby", 3, False)
    assert s.gradient_checkpointing and s.base_fp32 and s.device == "cpu"  # the engine's fp32 base on CPU
    gpu = settings_for(config, shape, Compute("cuda", True), seq_len=100, num_labels=5, task="seq-cls")
    assert (gpu.seq_len, gpu.num_labels, gpu.precision, gpu.base_fp32) == (104, 5, "bf16", False)  # padded to 8s
    assert {f.name for f in fields(Settings)} >= {"freeze_layers", "adapter_reduction", "base_fp32"}


def test_qlora_bits_pick_the_planning_row():
    shape = load_shape("builtin")
    eight = load_config("quickstart", ["method.name=qlora", "method.quant_bits=8"])
    assert settings_for(eight, shape, Compute("cpu", True)).method == "qlora-8bit"
    assert estimate_run(eight, shape, Compute("cpu", True)).method == "qlora-8bit"


@pytest.mark.parametrize(("tokens", "max_length", "objective", "padded"), [
    (23, 128, "sft", 24), (24, 128, "sft", 24), (1, 128, "dpo", 8), (128, 128, "kto", 128),
    (23, 100, "sft", 23),  # 100 is no multiple of 8: padding up could outgrow max_length (and the model's positions)
    (23, 128, "orpo", 23),  # TRL's ORPO collator cannot pad to a multiple
])
def test_batches_pad_to_a_multiple_of_eight_within_max_length(tokens, max_length, objective, padded):
    from fttui.planning import pad_multiple, padded_length

    assert padded_length(tokens, max_length, objective) == padded
    assert padded <= max_length
    assert (pad_multiple(max_length, objective) is None) == (padded == tokens and tokens % 8 != 0)


def test_the_estimate_is_of_the_padded_batch():
    """The engine passes the longest row; the estimate is of the batch the collator builds from it."""
    config = load_config("quickstart")
    shape = load_shape("builtin")
    compute = Compute("cpu", bf16=True)
    assert settings_for(config, shape, compute, seq_len=23).seq_len == 24
    assert estimate_run(config, shape, compute, seq_len=23).total_gb == estimate_run(config, shape, compute,
                                                                                      seq_len=24).total_gb
