"""Recommendation: ordering, fit decisions against a memory budget, batch sizes, multi-GPU and CPU."""
from __future__ import annotations

from types import SimpleNamespace

from fttui.planning import load_shape
from fttui.planning.memory import METHODS, Settings
from fttui.planning.recommend import Budget, budget_from_hardware, measured_cpu_seconds, rank


def plans(result):
    return {p.method: p for p in result.methods}


def test_24gb_gpu_fits_lora_not_full(llama8b):
    result = rank(llama8b, Budget("cuda", 24.0, 1, "--gpu-memory"), Settings(seq_len=512))
    by = plans(result)
    assert result.recommended == "lora"
    assert not by["full"].fits and by["full"].estimated_gb > 100
    assert by["lora"].fits and by["qlora"].fits
    assert "Full would need" in by["lora"].reason and "of 24 GB" in by["lora"].reason
    assert by["qlora"].batch_size >= by["lora"].batch_size


def test_12gb_gpu_recommends_qlora_and_names_what_does_not_fit(llama8b):
    result = rank(llama8b, Budget("cuda", 12.0, 1, "--gpu-memory"), Settings(seq_len=512))
    by = plans(result)
    assert result.recommended == "qlora"
    assert not by["lora"].fits and by["qlora"].fits
    assert by["qlora"].reason.startswith("QLoRA: ") and "of 12 GB" in by["qlora"].reason
    assert f"LoRA would need {by['lora'].estimated_gb:.1f} GB" in by["qlora"].reason  # the nearest better method


def test_nothing_fits_on_a_tiny_gpu(llama8b):
    result = rank(llama8b, Budget("cuda", 4.0, 1, "--gpu-memory"), Settings(seq_len=512))
    assert result.recommended is None and not any(p.fits for p in result.methods)


def test_order_fitting_first_then_quality(llama8b):
    result = rank(llama8b, Budget("cuda", 24.0, 1, "x"), Settings(seq_len=512))
    fits = [p.fits for p in result.methods if p.applicable]
    assert fits == sorted(fits, reverse=True)
    fitting = [p.method for p in result.methods if p.fits and p.headroom and p.applicable]
    assert fitting == sorted(fitting, key=METHODS.index)
    assert result.methods[-1].method == "bitfit" and not result.methods[-1].applicable  # llama has no biases


def test_every_method_is_ranked_in_the_documented_quality_order(llama8b):
    """full, then LoRA, then QLoRA, then prompt tuning; the newer methods slot in between (recommend's docstring)."""
    assert METHODS == ("full", "lora", "dora", "qlora-8bit", "qlora", "adapter", "freeze", "ia3", "prefix", "ptuning",
                       "prompt", "bitfit")
    result = rank(llama8b, Budget("cuda", 80.0, 1, "x"), Settings(seq_len=512))
    by = plans(result)
    assert set(by) == set(METHODS)
    assert by["adapter"].reason.startswith("Adapter: ") and by["ptuning"].reason.startswith("P-tuning: ")
    assert not by["ptuning"].gradient_checkpointing and not by["prefix"].gradient_checkpointing


def test_batch_size_is_a_power_of_two_that_grows_with_memory(llama8b):
    small = plans(rank(llama8b, Budget("cuda", 24.0, 1, "x"), Settings(seq_len=512)))["qlora"]
    large = plans(rank(llama8b, Budget("cuda", 80.0, 1, "x"), Settings(seq_len=512)))["qlora"]
    for p in (small, large):
        assert p.batch_size in (1, 2, 4, 8, 16, 32, 64) and p.estimated_gb <= 0.9 * (24 if p is small else 80)
    assert large.batch_size >= small.batch_size


def test_fixed_batch_size_and_checkpointing_are_respected(llama8b):
    by = plans(rank(llama8b, Budget("cuda", 80.0, 1, "x"), Settings(seq_len=512), batch_size=4,
                    gradient_checkpointing=False))
    assert all(p.batch_size == 4 and not p.gradient_checkpointing for p in by.values())


def test_fsdp_makes_full_fit_on_eight_gpus(llama8b):
    one = plans(rank(llama8b, Budget("cuda", 80.0, 1, "x"), Settings(seq_len=1024)))
    eight = rank(llama8b, Budget("cuda", 80.0, 8, "x"), Settings(seq_len=1024))
    assert not one["full"].fits
    assert eight.recommended == "full" and "FSDP" in plans(eight)["full"].multi_gpu
    assert "DDP" in plans(eight)["qlora"].multi_gpu


def test_cpu_budget_reports_slow_steps():
    report = SimpleNamespace(gpus=[], ram_available_gb=16.0,
                             cpu=SimpleNamespace(features=["avx2"], physical_cores=2, logical_cores=4, bf16=False))
    budget = budget_from_hardware(report)
    assert (budget.device, budget.memory_gb, budget.cpu_gflops) == ("cpu", 16.0, 50.0)
    result = rank(load_shape("builtin"), budget, Settings(seq_len=128, precision="fp32", device="cpu"), cpu=report.cpu)
    assert result.recommended is not None and result.notes
    best = plans(result)[result.recommended]
    assert best.seconds_per_step > 0 and "rough estimate" in best.reason and "GB RAM" in best.reason
    assert plans(result)["full"].seconds_per_step > plans(result)["lora"].seconds_per_step


def test_measured_step_time_replaces_the_estimate(tmp_path):
    run = tmp_path / "run-1"
    run.mkdir()
    (run / "summary.json").write_text('{"model": "builtin", "method": "lora", "device": "cpu", '
                                      '"batch_size": 4, "seconds_per_step": 2.0}')
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "summary.json").write_text("{")
    measured = measured_cpu_seconds(tmp_path, "builtin")
    assert measured == {"lora": 0.5}
    budget = Budget("cpu", 16.0, 1, "RAM", cpu_gflops=50.0)
    lora = plans(rank(load_shape("builtin"), budget, Settings(seq_len=128, device="cpu"), batch_size=8,
                      measured_seconds=measured))["lora"]
    assert lora.seconds_per_step == 4.0 and lora.time_source == "measured" and "measured" in lora.reason


def test_gpu_memory_override_ignores_detected_hardware():
    report = SimpleNamespace(gpus=[SimpleNamespace(memory_total_gb=8.0)] * 2)
    assert budget_from_hardware(report, 48.0).memory_gb == 48.0
    assert budget_from_hardware(report, 48.0).count == 2
    assert budget_from_hardware(None, 48.0, 4).count == 4
    assert budget_from_hardware(report).memory_gb == 8.0


def test_with_little_data_lora_is_recommended_over_a_full_fine_tune_that_fits():
    """The quickstart's 480 rows on a machine where Full fits: LoRA, and the note says why (issue 17)."""
    shape = load_shape("builtin")
    budget, settings = Budget("cuda", 80.0, 1, "--gpu-memory"), Settings(seq_len=128)
    assert rank(shape, budget, settings).recommended == "full"  # the data unknown: memory and quality decide
    small = rank(shape, budget, settings, train_rows=480)
    assert small.recommended == "lora" and plans(small)["full"].fits
    assert any("480 training rows" in note and "LoRA" in note and "Full fits too" in note for note in small.notes)
    assert rank(shape, budget, settings, train_rows=200_000).recommended == "full"  # plenty of data


def test_the_small_data_rule_never_picks_a_method_that_does_not_fit(llama8b):
    result = rank(llama8b, Budget("cuda", 12.0, 1, "--gpu-memory"), Settings(seq_len=512), train_rows=100)
    assert result.recommended == "qlora"  # memory decides first
