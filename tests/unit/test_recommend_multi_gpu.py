"""Planning for several GPUs: batch sizes are per GPU, DDP adds gradient buckets to a full replica, FSDP divides
weights, gradients and optimizer states by N, and the recommendation says which one makes a method fit."""
from __future__ import annotations

import json

import pytest

from fttui.planning.memory import Settings, estimate
from fttui.planning.recommend import Budget, measured_cpu_seconds, rank
from fttui.planning.shape import shape_from_config

LLAMA_1B = dict(model_type="llama", hidden_size=2048, intermediate_size=5632, num_attention_heads=32,
                num_key_value_heads=4, num_hidden_layers=22, vocab_size=32000, max_position_embeddings=2048,
                tie_word_embeddings=False)  # TinyLlama-1.1B


@pytest.fixture(scope="module")
def llama1b():
    return shape_from_config(LLAMA_1B, source="llama-1b")


def by_method(result):
    return {p.method: p for p in result.methods}


def test_ddp_holds_a_replica_plus_gradient_buckets_at_the_per_gpu_batch(llama1b):
    settings = Settings(seq_len=512)
    one = by_method(rank(llama1b, Budget("cuda", 80.0, 1, "x"), settings, batch_size=4, gradient_checkpointing=True))
    four = by_method(rank(llama1b, Budget("cuda", 80.0, 4, "x"), settings, batch_size=4, gradient_checkpointing=True))
    full = four["full"]
    assert full.fits and full.multi_gpu.startswith("DDP over 4 GPUs")
    assert "batch 4 per GPU, 16 per step" in full.multi_gpu
    gradients = full.breakdown["gradients"]
    assert full.estimated_gb == pytest.approx(one["full"].estimated_gb + gradients, abs=0.01)


def test_fsdp_divides_the_states_by_the_number_of_gpus(llama8b):
    settings = Settings(seq_len=1024, method="full", batch_size=1, gradient_checkpointing=True)
    single = estimate(llama8b, settings)
    states = sum(single.breakdown[k] for k in ("weights", "gradients", "optimizer"))
    plans = {n: by_method(rank(llama8b, Budget("cuda", 80.0, n, "x"), Settings(seq_len=1024), batch_size=1,
                               gradient_checkpointing=True))["full"] for n in (4, 8)}
    assert all("FSDP" in p.multi_gpu for p in plans.values())
    # going from 4 to 8 GPUs removes an eighth of the states from each GPU; nothing else changes
    assert plans[4].estimated_gb - plans[8].estimated_gb == pytest.approx(states * (1 / 4 - 1 / 8), abs=0.02)
    assert plans[8].estimated_gb < single.total_gb / 4


def test_a_method_too_big_for_one_gpu_fits_with_fsdp_and_says_how_to_run_it(llama8b):
    one = rank(llama8b, Budget("cuda", 80.0, 1, "x"), Settings(seq_len=1024))
    eight = rank(llama8b, Budget("cuda", 80.0, 8, "x"), Settings(seq_len=1024))
    assert not by_method(one)["full"].fits
    full = by_method(eight)["full"]
    assert full.fits and " with FSDP" in full.reason and "one GPU would need" in full.multi_gpu
    assert any("--nproc 8 --set training.distributed=fsdp" in note for note in full.notes)
    assert any("--nproc 8" in note for note in eight.notes)


def test_ddp_buckets_can_tip_a_method_into_fsdp(llama1b):
    """Full fine-tuning that fits one GPU with 10% headroom, but not with DDP's extra gradient copy."""
    settings = Settings(seq_len=512)
    single = estimate(llama1b, Settings(seq_len=512, method="full", batch_size=1, gradient_checkpointing=True))
    memory = (single.total_gb + 0.5 * single.breakdown["gradients"]) / 0.9
    one = by_method(rank(llama1b, Budget("cuda", memory, 1, "x"), settings, batch_size=1, gradient_checkpointing=True))
    two = by_method(rank(llama1b, Budget("cuda", memory, 2, "x"), settings, batch_size=1, gradient_checkpointing=True))
    assert one["full"].fits and one["full"].headroom
    assert two["full"].fits and two["full"].multi_gpu.startswith("FSDP over 2 GPUs")


def test_qlora_is_never_planned_with_fsdp(llama8b_config):
    """The engine refuses FSDP for quantized weights, so planning must not count on it."""
    big = shape_from_config({**llama8b_config, "num_hidden_layers": 160}, source="llama-40b")
    plans = by_method(rank(big, Budget("cuda", 16.0, 8, "x"), Settings(seq_len=1024)))
    for method in ("qlora", "qlora-8bit"):
        assert not plans[method].fits and "cannot shard" in plans[method].multi_gpu
    assert "FSDP over 8 GPUs" in plans["lora"].multi_gpu  # while LoRA's 16-bit base can be sharded


def test_measured_cpu_times_come_from_single_process_runs(tmp_path):
    for name, world in (("one", 1), ("two", 2)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "summary.json").write_text(json.dumps(
            {"model": "builtin", "method": "lora" if world == 1 else "full", "device": "cpu", "batch_size": 4,
             "seconds_per_step": 2.0, "world_size": world}))
    assert measured_cpu_seconds(tmp_path, "builtin") == {"lora": 0.5}
