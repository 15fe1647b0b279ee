"""Memory estimates: the arithmetic behaves like training memory does, component by component."""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from fttui.errors import ConfigError
from fttui.planning import load_shape
from fttui.planning.memory import GB, METHODS, Settings, estimate
from fttui.planning.shape import shape_from_config

CONFIGS = Path(__file__).parents[2].parent / "shared" / "data" / "model-configs"
LLAMA = dict(model_type="llama", hidden_size=512, intermediate_size=1376, num_attention_heads=8,
             num_key_value_heads=2, num_hidden_layers=4, vocab_size=32000, max_position_embeddings=4096)


@pytest.fixture(scope="module")
def llama():
    return shape_from_config(LLAMA, source="tiny-llama")


@pytest.mark.parametrize("method", METHODS)
def test_monotonic_in_batch_and_sequence(llama, method):
    base = Settings(method=method, batch_size=1, seq_len=128)
    by_batch = [estimate(llama, replace(base, batch_size=b)).total_gb for b in (1, 2, 4, 8)]
    by_len = [estimate(llama, replace(base, seq_len=s)).total_gb for s in (64, 128, 512, 2048)]
    assert by_batch == sorted(by_batch) and by_batch[0] < by_batch[-1]
    assert by_len == sorted(by_len) and by_len[0] < by_len[-1]


@pytest.mark.parametrize("method", ["full", "lora", "qlora", "ia3"])
def test_gradient_checkpointing_lowers_activations(llama, method):
    plain = estimate(llama, Settings(method=method, batch_size=8, seq_len=1024))
    checkpointed = estimate(llama, Settings(method=method, batch_size=8, seq_len=1024, gradient_checkpointing=True))
    assert checkpointed.breakdown["activations"] < 0.5 * plain.breakdown["activations"]
    assert checkpointed.breakdown["weights"] == plain.breakdown["weights"]


def test_weights_order_qlora_below_lora_below_full():
    mid = shape_from_config(dict(LLAMA, hidden_size=2048, intermediate_size=5504, num_hidden_layers=16))
    methods = ("qlora", "qlora-8bit", "lora", "full")
    weights = {m: estimate(mid, Settings(method=m)).breakdown["weights"] for m in methods}
    assert weights["qlora"] < weights["qlora-8bit"] < weights["lora"] < weights["full"]


def test_full_fp32_counts_sixteen_bytes_per_parameter(llama):
    est = estimate(llama, Settings(method="full", precision="fp32", device="cpu"))
    n = llama.total_params
    assert est.trainable_params == n
    assert est.breakdown["weights"] == pytest.approx(4 * n / GB, abs=1e-3)
    assert est.breakdown["gradients"] == pytest.approx(4 * n / GB, abs=1e-3)
    assert est.breakdown["optimizer"] == pytest.approx(8 * n / GB, abs=1e-3)
    assert est.breakdown["cuda_context"] == 0  # no CUDA on CPU; glibc's heap holds 75% more than the transient memory
    transient = est.breakdown["activations"] + est.breakdown["logits"]
    assert est.breakdown["allocator_overhead"] == pytest.approx(0.75 * transient, abs=1e-3)


def test_optimizers(llama):
    adam, adam8 = (estimate(llama, Settings(method="full", optimizer=o)) for o in ("adamw", "adamw-8bit"))
    assert adam8.breakdown["optimizer"] == pytest.approx(adam.breakdown["optimizer"] / 4, rel=0.01)
    paged = estimate(llama, Settings(method="qlora", optimizer="paged-adamw", lora_r=64, lora_targets=("all-linear",)))
    assert paged.pageable_gb == paged.breakdown["optimizer"] > 0 and any("paged" in n for n in paged.notes)


def test_trainable_params_per_method(llama):
    assert estimate(llama, Settings(method="lora", lora_r=16)).trainable_params == llama.lora_params(16)
    lora, dora = (estimate(llama, Settings(method=m)).trainable_params for m in ("lora", "dora"))
    # one magnitude per output feature of every linear layer: q 512, k 128, v 128, o 512, gate/up 1376, down 512
    assert dora == lora + 4 * (512 + 128 + 128 + 512 + 1376 + 1376 + 512)
    assert estimate(llama, Settings(method="prompt", num_virtual_tokens=10)).trainable_params == 10 * 512
    # freeze trains the top block, the final norm and the (untied) LM head, like the engine does
    assert estimate(llama, Settings(method="freeze", freeze_layers=1)).trainable_params == (
        llama.blocks[0].params + 512 + 32000 * 512)
    bitfit = estimate(llama, Settings(method="bitfit"))
    assert bitfit.trainable_params == 0 and "no bias" in bitfit.notes[0]


@pytest.mark.parametrize("settings,expected", [
    # prefix: keys and values per layer at the grouped-query kv width (4 layers x 2 x 128), as peft sizes it
    (dict(method="prefix", num_virtual_tokens=10), 10 * 2 * 128 * 4),
    # prefix with projection: 10 x 128 embedding, 128 -> 128 -> 4 x 2 x 128 MLP (with biases)
    (dict(method="prefix", num_virtual_tokens=10, prefix_projection=True), 10 * 128 + 128 * 128 + 128 + 128 * 1024 + 1024),
    # P-tuning: 10 x 512 embedding, then 512 -> 64 -> 64 -> 512 with biases
    (dict(method="ptuning", num_virtual_tokens=10, encoder_hidden_size=64),
     10 * 512 + 512 * 64 + 64 + 64 * 64 + 64 + 64 * 512 + 512),
    # bottleneck adapters, width 512 / 16 = 32: down + up with biases after the FFN (pfeiffer) or both (houlsby)
    (dict(method="adapter"), 4 * (2 * 512 * 32 + 32 + 512)),
    (dict(method="adapter", adapter_placement="houlsby", adapter_reduction=64), 8 * (2 * 512 * 8 + 8 + 512)),
    # IA3: k and v outputs (128 each) and down_proj's input (1376) per layer
    (dict(method="ia3"), 4 * (128 + 128 + 1376)),
])
def test_trainable_params_of_the_newer_methods(llama, settings, expected):
    assert estimate(llama, Settings(**settings)).trainable_params == expected


def test_qlora_wraps_every_linear_layer_by_default(llama):
    """As the engine does (the QLoRA paper's recipe); LoRA keeps the family's attention targets."""
    assert estimate(llama, Settings(method="qlora")).trainable_params == llama.lora_params(8, ("all-linear",))
    assert estimate(llama, Settings(method="lora")).trainable_params == llama.lora_params(8)


def test_freeze_on_an_encoder_trains_top_blocks_pooler_and_head():
    minilm = load_shape("builtin")  # 6 layers, hidden 384, pooler 384 x 384 + 384
    est = estimate(minilm, Settings(method="freeze", freeze_layers=2, device="cpu", precision="fp32"))
    assert est.trainable_params == 2 * minilm.blocks[0].params + 384 * 384 + 384 + 384 * 2 + 2


def test_adapter_settings_are_validated(llama):
    with pytest.raises(ConfigError, match="adapter placement"):
        estimate(llama, Settings(method="adapter", adapter_placement="middle"))
    with pytest.raises(ConfigError, match="adapter reduction"):
        estimate(llama, Settings(method="adapter", adapter_reduction=0))


def test_eager_attention_keeps_more_than_sdpa(llama):
    sdpa = estimate(llama, Settings(method="lora", seq_len=2048))
    eager = estimate(llama, Settings(method="lora", seq_len=2048, attention="eager"))
    assert eager.breakdown["activations"] > 2 * sdpa.breakdown["activations"]


def test_breakdown_adds_up_and_cuda_overheads(llama):
    est = estimate(llama, Settings(method="lora", batch_size=4, seq_len=512))
    assert sum(est.breakdown.values()) == pytest.approx(est.total_gb, abs=0.01)
    assert est.breakdown["cuda_context"] > 0 and est.breakdown["allocator_overhead"] > 0


def test_seq_cls_on_encoder_has_tiny_logits_and_trains_the_head():
    minilm = load_shape("builtin")
    est = estimate(minilm, Settings(method="lora", task="auto", device="cpu", precision="fp32"))
    assert est.settings["task"] == "seq-cls" and est.breakdown["logits"] < 0.001
    assert est.trainable_params == minilm.lora_params(8) + 384 * 2 + 2


def test_causal_lm_on_an_encoder_is_a_config_error():
    with pytest.raises(ConfigError, match="encoder"):
        estimate(load_shape("builtin"), Settings(task="causal-lm"))


@pytest.mark.parametrize("field,value", [("batch_size", 0), ("seq_len", -5), ("lora_r", 0), ("method", "magic"),
                                         ("optimizer", "sgd"), ("precision", "int4")])
def test_invalid_settings(llama, field, value):
    with pytest.raises(ConfigError):
        estimate(llama, replace(Settings(), **{field: value}))


def test_a_run_config_maps_to_the_planners_method_names(llama):
    from fttui.config import validate_config
    from fttui.planning import Compute, estimate_run

    def run(method, device="cuda", **fields):
        config = validate_config({"data": {"train": "x.jsonl"}, "method": {"name": method, **fields},
                                  "training": {"batch_size": 2, "max_length": 256}})
        return estimate_run(config, llama, Compute(device, bf16=True))

    eight, four = run("qlora", quant_bits=8), run("qlora")
    assert eight.method == "qlora-8bit" and four.method == "qlora"
    assert eight.breakdown["weights"] > four.breakdown["weights"]
    assert run("full", device="cpu").breakdown["cuda_context"] == 0
    upcast, kept = (estimate(llama, Settings(method="qlora", seq_len=64, kbit_upcast=flag)) for flag in (True, False))
    assert upcast.breakdown["weights"] > kept.breakdown["weights"]


def test_kbit_training_keeps_the_checkpointed_residual_stream_in_fp32(llama):
    """prepare_model_for_kbit_training's fp32 embeddings make every block input fp32 (tests/engine/
    test_kbit_stream.py checks it on PEFT): 2 more bytes per hidden value a checkpoint keeps; GPTQ skips the upcast."""
    base = Settings(method="qlora", batch_size=2, seq_len=256, gradient_checkpointing=True)
    upcast, kept = estimate(llama, base), estimate(llama, replace(base, kbit_upcast=False))
    stream = 2 * 2 * 256 * 512 * 4  # bytes x batch x tokens x hidden x layers
    assert (upcast.breakdown["activations"] - kept.breakdown["activations"]) * GB >= stream
    lora = estimate(llama, replace(base, method="lora"))  # a half-precision base keeps a half stream
    assert lora.breakdown["activations"] == pytest.approx(kept.breakdown["activations"], rel=0.05)
    # bitsandbytes' linears return their input's dtype, so the MLP saves fp32 inputs (gate, up, their product):
    # 2 more bytes x 3 x intermediate per token, in every block plus the one of backward workspace
    whole = replace(base, gradient_checkpointing=False)
    extra = estimate(llama, whole).breakdown["activations"] - estimate(llama, replace(whole, kbit_upcast=False)).breakdown[
        "activations"]
    assert extra * GB == pytest.approx((4 + 1) * 2 * 256 * 2 * 3 * 1376, rel=1e-3)


def test_published_long_context_qlora_point():
    """Unsloth README: HF + FA2 fit Llama 3.1 8B QLoRA (r=32, all linear) at 5,789 tokens in 24 GB."""
    if not CONFIGS.is_dir():
        pytest.skip("no reference data")
    shape = shape_from_config(json.loads((CONFIGS / "meta-llama--Meta-Llama-3-8B.json").read_text()))
    est = estimate(shape, Settings(method="qlora", lora_r=32, lora_targets=("all-linear",), lora_dropout=0.0,
                                   seq_len=5789, gradient_checkpointing=True, optimizer="adamw-8bit",
                                   lm_head="full"))  # HF + FA2 of the time: transformers' fp32-upcast loss
    assert abs(est.total_gb - 24) / 24 < 0.2


@pytest.mark.parametrize("method", ["lora", "ia3", "freeze"])
def test_an_fp32_base_under_cpu_autocast_counts_the_half_weight_copies_and_an_fp32_residual(llama, method):
    """fttui on CPU: fp32 base, bf16 autocast casts each linear weight on the backward path and keeps it."""
    half = Settings(method=method, device="cpu", precision="bf16", batch_size=4, seq_len=256)
    fp32_base = replace(half, base_fp32=True)
    a, b = estimate(llama, half), estimate(llama, fp32_base)
    base = a.total_params - a.trainable_params if method == "freeze" else a.total_params  # 4 bytes instead of 2
    cast = a.trainable_params if method == "freeze" else llama.linear_weight_params
    assert (b.breakdown["weights"] - a.breakdown["weights"]) * GB == pytest.approx(2 * base + 2 * cast, rel=1e-3)
    minilm = load_shape("builtin")  # LayerNorm and dropout on the residual stream, which is fp32 too
    assert estimate(minilm, fp32_base).breakdown["activations"] > estimate(minilm, half).breakdown["activations"]
    fp32 = estimate(llama, replace(fp32_base, precision="fp32"))
    adapters = 0 if method == "freeze" else fp32.trainable_params  # stored beside the base
    assert fp32.breakdown["weights"] * GB == pytest.approx(4 * (fp32.total_params + adapters), rel=1e-3)  # no copies


def test_the_lm_head_term_follows_the_head_that_scores_the_tokens():
    """auto: TRL's fused head for SFT on a GPU (a tile), the full logits on a CPU; unknown heads are refused."""
    shape = shape_from_config(dict(model_type="llama", hidden_size=512, intermediate_size=1376, num_hidden_layers=4,
                                   num_attention_heads=8, vocab_size=128256, max_position_embeddings=8192))
    logits = {head: estimate(shape, Settings(seq_len=2048, batch_size=2, lm_head=head)).breakdown["logits"]
              for head in ("auto", "fused", "full", "half", "chunked")}
    assert logits["auto"] == logits["fused"]
    assert logits["fused"] < logits["chunked"] < logits["half"] < logits["full"]
    full_gb = 2 * 2048 * 128256 * (2 + 12) / 2**30  # bf16 logits + fp32 copy, log-softmax and their gradients
    assert logits["full"] == pytest.approx(full_gb, rel=1e-3)
    cpu = estimate(shape, Settings(seq_len=2048, batch_size=2, device="cpu", base_fp32=True))
    assert cpu.breakdown["logits"] == pytest.approx(full_gb, rel=1e-3)
    with pytest.raises(ConfigError, match="LM head"):
        estimate(shape, Settings(lm_head="liger"))


def test_qlora_counts_one_dequantized_weight():
    """bitsandbytes dequantizes each 4-bit weight to half precision per matmul: the widest linear at the peak."""
    shape = shape_from_config(dict(model_type="llama", hidden_size=512, intermediate_size=1376, num_hidden_layers=4,
                                   num_attention_heads=8, vocab_size=32000))
    qlora, lora = (estimate(shape, Settings(method=m)) for m in ("qlora", "lora"))
    assert qlora.breakdown["dequantized"] == pytest.approx(2 * 512 * 1376 / 2**30, abs=1e-4)
    assert "dequantized" not in lora.breakdown
