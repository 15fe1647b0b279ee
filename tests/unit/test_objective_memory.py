"""Preference objectives in the planner: two sequences per pair, a reference pass, and what each objective adds."""
from __future__ import annotations

import json
from dataclasses import replace

import pytest

from fttui.cli import main
from fttui.config.schema import OBJECTIVES as SCHEMA_OBJECTIVES
from fttui.planning.memory import GB, Settings, estimate
from fttui.planning.objectives import OBJECTIVES, describe
from fttui.planning.recommend import Budget, rank, step_seconds
from fttui.planning.shape import shape_from_config

LLAMA = dict(model_type="llama", hidden_size=512, intermediate_size=1376, num_attention_heads=8,
             num_key_value_heads=2, num_hidden_layers=4, vocab_size=32000, max_position_embeddings=4096)


@pytest.fixture(scope="module")
def llama():
    return shape_from_config(LLAMA, source="tiny-llama")


def _est(shape, **settings):
    return estimate(shape, Settings(**{"batch_size": 4, "seq_len": 256, **settings}))


def test_every_objective_the_schema_offers_has_a_cost():
    assert set(SCHEMA_OBJECTIVES) <= set(OBJECTIVES)


@pytest.mark.parametrize("device", ["cuda", "cpu"])
def test_dpo_needs_more_than_sft_and_full_dpo_adds_a_copy_of_the_weights(llama, device):
    cpu = dict(device=device, base_fp32=device == "cpu")
    sft, dpo = _est(llama, objective="sft", **cpu), _est(llama, objective="dpo", **cpu)
    if device == "cpu":  # TRL's fused head on a CPU scores every position in fp32 tiles (on CUDA it is far lighter)
        assert dpo.total_gb > sft.total_gb
    assert dpo.total_gb - dpo.breakdown["logits"] > sft.total_gb - sft.breakdown["logits"]
    assert dpo.breakdown["activations"] == pytest.approx(2 * sft.breakdown["activations"], rel=1e-3)  # 2x the rows
    assert dpo.breakdown["reference"] == 0  # LoRA: the reference is the base with the adapter off
    assert dpo.breakdown["weights"] == sft.breakdown["weights"]
    full_sft, full_dpo = _est(llama, method="full", **cpu), _est(llama, method="full", objective="dpo", **cpu)
    copy = full_dpo.breakdown["reference"]
    assert copy == pytest.approx(4 * llama.total_params / GB, rel=1e-3)  # TRL's frozen copy, in the fp32 policy dtype
    without_head = [e.total_gb - e.breakdown["logits"] - e.breakdown["allocator_overhead"]
                    for e in (full_dpo, full_sft)]
    assert without_head[0] > without_head[1] + copy
    assert any("frozen copy" in note for note in full_dpo.notes)
    half = _est(llama, method="full", objective="dpo", pure_half=True, **cpu)
    assert half.breakdown["reference"] == pytest.approx(copy / 2, rel=1e-3)


def test_orpo_has_no_reference_and_kto_one_row_per_example(llama):
    orpo, dpo = _est(llama, method="full", objective="orpo"), _est(llama, method="full", objective="dpo")
    sft = _est(llama, method="full")
    assert "reference" not in orpo.breakdown and orpo.breakdown["activations"] == dpo.breakdown["activations"]
    assert orpo.breakdown["weights"] == sft.breakdown["weights"] and not any("frozen" in n for n in orpo.notes)
    # ORPO's trainer takes the model's whole logits, for both sequences of a pair (SFT on a GPU scores a tile)
    full_head = _est(llama, method="full", lm_head="full")
    assert orpo.breakdown["logits"] == pytest.approx(2 * full_head.breakdown["logits"], rel=1e-3)
    assert sft.breakdown["logits"] < full_head.breakdown["logits"] / 4
    kto, sft = _est(llama, objective="kto"), _est(llama)
    assert kto.breakdown["activations"] == sft.breakdown["activations"]  # single completions
    assert kto.breakdown["reference"] == 0


def test_the_fused_head_keeps_a_tile_not_the_logits(llama):
    """TRL's head scores at most 4,096 tokens at a time: past that, more tokens add no logits memory."""
    long = [_est(llama, objective="dpo", seq_len=s).breakdown["logits"] for s in (1024, 4096)]
    assert long[1] < 1.5 * long[0]  # grows only with the small per-token terms (hidden states and their gradient)
    # SFT on a GPU runs through TRL's SFTTrainer, which scores through the same fused head
    sft = [_est(llama, seq_len=s).breakdown["logits"] for s in (1024, 4096)]
    assert sft[1] < 1.5 * sft[0]
    # on a CPU fttui's own head (engine/training/cpu_lm_head.py) projects every labelled position: the full logits
    cpu = [_est(llama, seq_len=s, device="cpu", base_fp32=True).breakdown["logits"] for s in (1024, 4096)]
    assert cpu[1] == pytest.approx(4 * cpu[0], rel=1e-3)
    # DPO and KTO on a CPU score through that head too (trainer_setup.cpu_head_for_preference), not TRL's tiles
    for objective in ("dpo", "kto"):
        on_cpu = _est(llama, objective=objective, seq_len=1024, device="cpu", base_fp32=True).breakdown["logits"]
        sequences = OBJECTIVES[objective].sequences
        assert on_cpu == pytest.approx(sequences * cpu[0], rel=1e-3)
    full = [_est(llama, seq_len=s, lm_head="full").breakdown["logits"] for s in (1024, 4096)]
    assert full[1] == pytest.approx(4 * full[0], rel=1e-3) and full[0] > 4 * sft[0]


def test_the_objective_is_validated_and_the_line_says_its_share(llama):
    with pytest.raises(Exception, match="objective"):
        _est(llama, objective="ppo")
    assert describe("sft") is None
    assert describe("dpo", False) == ("DPO: 2 sequences per pair + reference pass "
                                      "(the base with the adapter off, no second copy)")
    assert "no reference model" in describe("orpo") and "KL pass" in describe("kto")


def test_recommend_marks_methods_that_cannot_train_the_objective_and_says_its_share(llama):
    budget = Budget(device="cuda", memory_gb=80.0, count=1, source="test")
    result = rank(llama, budget, Settings(objective="dpo", seq_len=256))
    by_method = {p.method: p for p in result.methods}
    assert by_method["lora"].applicable and by_method["full"].applicable
    assert not by_method["prompt"].applicable and "objective=dpo" in by_method["prompt"].reason
    assert result.notes[0].startswith("DPO: 2 sequences per pair")
    sft = {p.method: p for p in rank(llama, budget, Settings(seq_len=256)).methods}
    assert sft["prompt"].applicable and by_method["lora"].batch_size <= sft["lora"].batch_size


def test_a_step_of_dpo_takes_longer_than_one_of_sft(llama):
    base = Settings(batch_size=4, seq_len=256, device="cpu")
    seconds = {o: step_seconds(llama, replace(base, objective=o), 100.0) for o in ("sft", "orpo", "dpo", "kto")}
    assert seconds["sft"] < seconds["orpo"] < seconds["kto"] < seconds["dpo"]  # KTO: its KL pass on both models


def test_fttui_recommend_plans_the_objective(capsys):
    assert main(["recommend", "--model", "smollm2", "--objective", "dpo", "--gpu-memory", "24", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["notes"][0].startswith("DPO: 2 sequences per pair") and out["settings"]["objective"] == "dpo"


def test_a_classifier_is_planned_as_it_trains_whatever_the_objective():
    from fttui.planning import load_shape

    minilm = load_shape("builtin")  # an encoder: seq-cls
    dpo, sft = estimate(minilm, Settings(objective="dpo")), estimate(minilm, Settings())
    assert dpo.total_gb == sft.total_gb and "tunes a causal LM" in dpo.notes[0]
