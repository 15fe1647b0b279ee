"""How close fttui's memory estimates and parameter counts are to published figures.

Run from the repository root: ``python bench/estimate_accuracy.py``. It prints, for every reference case, the
settings, the published figure, our estimate and the relative error, then the median error. Sources:

* HF transformers docs, "Model training anatomy" + "Methods and tools for efficient training on a single GPU"
  (docs/source/en/model_memory_anatomy.md, perf_train_gpu_one.md): bert-large-uncased on a V100, nvidia-smi
  totals, CUDA kernels measured at 1343 MB.
* PEFT README, "High performance on consumer hardware": A100 80GB, peak ``torch.cuda.max_memory_allocated`` of
  examples/*/peft_lora_*_accelerate_ds_zero3_offload.py (batch 8, fp32, LoRA r=8; tweets ~64 tokens).
* Unsloth README, "Hugging Face + FA2" column: the longest context that trained in a given VRAM (Llama 3.1 8B /
  Llama 3.3 70B, 4-bit QLoRA on all linear layers, r=32, batch 1).
* QLoRA paper (Dettmers et al. 2023): 65B on one 48 GB GPU, 33B on one 24 GB GPU (scripts/finetune_guanaco_*).
* axolotl docs/choosing_method.qmd "Hardware Mapping" ranges (512-2048 tokens, micro batch 1-2).
* LLaMA-Factory README "Hardware Requirement" (marked *estimated*, no settings): reported apart.
* Parameter counts: ../shared/data/model-configs/README.md (published and computed counts of 15 configs).

Two halves (issue 17): the cases above are the *tuning* half, with every second case found for issue 17 (``FOUND``,
in the order found: the Qwen README's profiling table row by row, then torchtune's README); the others are the
*held-out* half. The split was fixed by that rule before the estimator's errors on the new cases were seen, and no
term of the estimator is changed to fit a held-out case. Each half prints its median and worst error.
Each source's head is set as it ran (``Settings.lm_head``): the tools here score the full logits (transformers'
fp32-upcast loss), Qwen-1's code the half-precision logits, torchtune chunks them; fttui's own runs on a GPU score
through TRL's fused head (the estimator's ``auto``).
Configs of models not in ../shared/data are written below from their published config.json values.
"""
from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CONFIGS = ROOT.parent / "shared" / "data" / "model-configs"

from fttui.planning import Settings, estimate, shape_from_config  # noqa: E402
from fttui.planning.memory import GB  # noqa: E402

LLAMA = dict(model_type="llama", tie_word_embeddings=False, vocab_size=32000, max_position_embeddings=2048)
EXTRA = {
    "bert-large-uncased": dict(model_type="bert", hidden_size=1024, num_hidden_layers=24, num_attention_heads=16,
                               intermediate_size=4096, vocab_size=30522, max_position_embeddings=512,
                               type_vocab_size=2),
    "bigscience/T0_3B": dict(model_type="t5", d_model=2048, d_ff=5120, d_kv=64, num_heads=32, num_layers=24,
                             vocab_size=32128, feed_forward_proj="gated-gelu", tie_word_embeddings=False),
    "bigscience/mt0-xxl": dict(model_type="mt5", d_model=4096, d_ff=10240, d_kv=64, num_heads=64, num_layers=24,
                               vocab_size=250112, feed_forward_proj="gated-gelu", tie_word_embeddings=False),
    "bigscience/bloomz-7b1": dict(model_type="bloom", hidden_size=4096, n_layer=30, n_head=32, vocab_size=250880),
    "LLaMA-33B": dict(LLAMA, hidden_size=6656, intermediate_size=17920, num_hidden_layers=60, num_attention_heads=52),
    "LLaMA-65B": dict(LLAMA, hidden_size=8192, intermediate_size=22016, num_hidden_layers=80, num_attention_heads=64),
    # Qwen-1 (custom modelling code): fused c_attn with a bias, as qwen2's q/k/v biases; untied 152k vocabulary
    "Qwen-7B": dict(model_type="qwen2", hidden_size=4096, intermediate_size=11008, num_hidden_layers=32,
                    num_attention_heads=32, vocab_size=151936, tie_word_embeddings=False, max_position_embeddings=8192),
    "Qwen-14B": dict(model_type="qwen2", hidden_size=5120, intermediate_size=13696, num_hidden_layers=40,
                     num_attention_heads=40, vocab_size=152064, tie_word_embeddings=False,
                     max_position_embeddings=8192),
    "Qwen-1.8B": dict(model_type="qwen2", hidden_size=2048, intermediate_size=5504, num_hidden_layers=24,
                      num_attention_heads=16, vocab_size=151936, tie_word_embeddings=False,
                      max_position_embeddings=8192),
    "Qwen-72B": dict(model_type="qwen2", hidden_size=8192, intermediate_size=24576, num_hidden_layers=80,
                     num_attention_heads=64, vocab_size=152064, tie_word_embeddings=False,
                     max_position_embeddings=32768),
    "Llama-3.3-70B": dict(LLAMA, hidden_size=8192, intermediate_size=28672, num_hidden_layers=80,
                          num_attention_heads=64, num_key_value_heads=8, vocab_size=128256,
                          max_position_embeddings=131072),
}
FILES = {"Llama-3.1-8B": "meta-llama--Meta-Llama-3-8B.json", "Llama-2-7B": "meta-llama--Llama-2-7b-hf.json",
         "Llama-2-13B": "meta-llama--Llama-2-13b-hf.json", "Llama-2-70B": "meta-llama--Llama-2-70b-hf.json",
         "Llama-3-8B": "meta-llama--Meta-Llama-3-8B.json", "Mistral-7B": "mistralai--Mistral-7B-v0.1.json",
         "phi-2": "microsoft--phi-2.json"}
README_COUNTS = [  # file, published, computed (../shared/data/model-configs/README.md)
    ("meta-llama--Llama-2-7b-hf.json", 6.74e9, 6_738_415_616),
    ("meta-llama--Llama-2-13b-hf.json", 13e9, 13_015_864_320),
    ("meta-llama--Llama-2-70b-hf.json", 70e9, 68_976_648_192),
    ("meta-llama--Meta-Llama-3-8B.json", 8e9, 8_030_261_248),
    ("mistralai--Mistral-7B-v0.1.json", 7.3e9, 7_241_732_096), ("Qwen--Qwen2.5-0.5B.json", 0.49e9, 494_032_768),
    ("Qwen--Qwen2.5-7B.json", 7.61e9, 7_615_616_512), ("google--gemma-2-9b.json", 9e9, 9_241_705_984),
    ("microsoft--Phi-3-mini-4k-instruct.json", 3.8e9, 3_821_079_552),
    ("microsoft--phi-2.json", 2.7e9, 2_779_683_840),
    ("openai-community--gpt2.json", 124e6, 124_439_808), ("google-bert--bert-base-uncased.json", 110e6, 109_482_240),
    ("FacebookAI--roberta-base.json", 125e6, 124_645_632), ("google-t5--t5-small.json", 60e6, 60_506_624),
    ("google--flan-t5-base.json", 250e6, 247_577_856),
]
FULL = dict(lm_head="full")  # the tools below score the full logits through transformers' fp32-upcast loss
HF = dict(task="seq-cls", seq_len=512, precision="fp32", attention="eager", cuda_context_gb=1343 / 1024)
PEFT = dict(FULL, precision="fp32", batch_size=8, seq_len=64, lora_r=8, lora_dropout=0.1)
T5_QV = ("q", "v")  # PEFT's default LoRA targets for T5 when those examples ran (fttui's default: all linear)
UNSLOTH = dict(FULL, method="qlora", lora_r=32, lora_targets=("all-linear",), lora_dropout=0.0, batch_size=1,
               gradient_checkpointing=True, optimizer="adamw-8bit", attention="flash")
QLORA = dict(FULL, method="qlora", lora_r=64, lora_targets=("all-linear",), lora_dropout=0.05, batch_size=1, seq_len=512,
             gradient_checkpointing=True, optimizer="paged-adamw", adapter_half=True, kbit_upcast=False)
AXOLOTL = dict(FULL, gradient_checkpointing=True, attention="flash", lora_r=32, lora_targets=("all-linear",),
               lora_dropout=0.05)  # as in axolotl's examples/llama-2/{qlora,lora}.yml
AX_QLORA = dict(AXOLOTL, method="qlora", optimizer="paged-adamw")
AX_LORA = dict(AXOLOTL, method="lora", optimizer="adamw-8bit")
AX_FULL = dict(AXOLOTL, method="full", pure_half=True)
AX_SPAN = (dict(seq_len=512, batch_size=1), dict(seq_len=2048, batch_size=2))  # the table's stated settings
FACTORY = dict(FULL, seq_len=512, batch_size=1, gradient_checkpointing=True)

# (source, model, settings, published GB, compare): compare is "total" (nvidia-smi), "allocated"
# (torch peak, no context/fragmentation) or "vram" (the card the run just fitted in).
BERT = "bert-large-uncased"
MEASURED = [
    ("HF docs", BERT, dict(HF, method="full", batch_size=4), 14949 / 1024, "total"),
    ("HF docs", BERT, dict(HF, method="full", batch_size=1), 8681 / 1024, "total"),
    ("HF docs", BERT, dict(HF, method="full", batch_size=1, gradient_checkpointing=True), 6775 / 1024, "total"),
    ("HF docs", BERT, dict(HF, method="full", batch_size=4, precision="fp16"), 13939 / 1024, "total"),
    ("HF docs", BERT, dict(HF, method="full", batch_size=1, gradient_checkpointing=True, precision="fp16"),
     7275 / 1024, "total"),
    ("HF docs", BERT, dict(HF, method="full", batch_size=4, optimizer="adamw-8bit"), 13085 / 1024, "total"),
    ("HF docs", BERT, dict(HF, method="full", batch_size=1, gradient_checkpointing=True, precision="fp16",
                           optimizer="adamw-8bit"), 5363 / 1024, "total"),
    ("PEFT README", "bigscience/T0_3B", dict(PEFT, method="full", target_len=4), 47.14 * 1000 / 1024, "allocated"),
    ("PEFT README", "bigscience/T0_3B", dict(PEFT, method="lora", target_len=4, lora_targets=T5_QV), 14.4 * 1000 / 1024,
     "allocated"),
    ("PEFT README", "bigscience/mt0-xxl", dict(PEFT, method="lora", target_len=4, lora_targets=T5_QV), 56 * 1000 / 1024,
     "allocated"),
    ("PEFT README", "bigscience/bloomz-7b1", dict(PEFT, method="lora", lora_targets=("query_key_value",)),
     32 * 1000 / 1024, "allocated"),
] + [("Unsloth README", "Llama-3.1-8B", dict(UNSLOTH, seq_len=ctx), vram, "vram")
     for vram, ctx in ((12, 932), (16, 2551), (24, 5789), (40, 12264), (48, 15502), (80, 28454))] + [
    ("Unsloth README", "Llama-3.3-70B", dict(UNSLOTH, seq_len=6916), 80, "vram"),
]
# Cases added for issue 17, in the order they were found, halves alternating (tuning, held out, tuning, ...); the
# split was fixed before the estimator's errors on them were seen. (source, model, settings, published GB, compare).
# Qwen README "Profiling of Memory and Speed" (github.com/QwenLM/Qwen, README.md): one A100 80GB, flash attention 2,
# batch 1, LoRA r=64 on c_attn/c_proj/w1/w2 (every linear), dropout 0.05, gradient checkpointing, Trainer AdamW
# (finetune/finetune_lora_single_gpu.sh, finetune_qlora_single_gpu.sh); Q-LoRA on the GPTQ Int4 checkpoint (4 bits
# + a scale per 128 weights, sized as NF4) after prepare_model_for_kbit_training; Qwen-1's own code takes the
# cross-entropy of the half logits, no fp32 upcast. The adapters are fp32: the table was added on 2023-10-07 with
# torch 2.0, for which the README pins peft>=0.5.0,<0.6.0, and PEFT 0.5.0's LoRA layers stay in torch's default
# dtype (update_layer moves them to the weight's device only; the cast to the weight's dtype came in b786b884,
# 2023-09-12, first released in 0.6.0). Corrected on 2026-12-02, after the errors had been seen (the earlier
# description said half-precision adapters): a fact about the runs, read in PEFT's source, not a term of the estimate.
# Its Q-LoRA rows ran otherwise (read on 2026-12-02, after the errors had been seen; facts of the runs, not terms of the
# estimate): finetune_qlora_single_gpu.sh at the table's commits (b5fad3d, e8e1596) trains under DeepSpeed ZeRO-2 in
# fp16, whose engine calls module.half() (fp16 adapters) and whose optimizer adds fp32 master copies, an fp32
# gradient partition and 2e8-element buckets, none of which fttui (DDP, no DeepSpeed) has or models; and PEFT 0.5.0's
# prepare_model_for_kbit_training skips the fp32 upcast for GPTQ models. Like the table's other DeepSpeed rows, these
# are not cases our settings can describe: kept in the list (so every other case keeps its half) and reported apart.
QWEN = dict(lm_head="half", batch_size=1, gradient_checkpointing=True, attention="flash", lora_r=64,
            lora_dropout=0.05)
QWEN_LORA = dict(QWEN, method="lora")
QWEN_QLORA = dict(QWEN, method="qlora", precision="fp16", kbit_upcast=False, adapter_half=True)
QWEN_ZERO2 = "Qwen ZeRO-2"  # the source label of the Q-LoRA rows
QWEN_ROWS = [("Qwen-7B", QWEN_LORA, (20.1, 20.4, 21.5, 23.8, 29.7, 36.6)),
             ("Qwen-7B", QWEN_QLORA, (11.5, 11.5, 12.3, 13.9, 16.9, 23.5)),
             ("Qwen-14B", QWEN_LORA, (34.6, 35.1, 35.3, 37.4, 42.5, 55.2)),
             ("Qwen-14B", QWEN_QLORA, (18.7, 18.4, 18.9, 19.9, 23.0, 27.9))]
# Found later in the same table (the rows our settings can describe; LoRA (emb) trains the embeddings and the head
# in full, the full-parameter and 72B LoRA rows span several GPUs under DeepSpeed): appended in table order.
QWEN_MORE_ROWS = [("Qwen-1.8B", QWEN_LORA, (6.7, 7.4, 8.4, 11.0, 16.2, 21.8)),
                  ("Qwen-1.8B", QWEN_QLORA, (5.8, 6.0, 6.6, 7.8, 10.2, 15.8)),
                  ("Qwen-72B", QWEN_QLORA, (61.4, 61.4, 62.9, 64.1, 68.0, 75.6))]
# torchtune README "Memory and training speed" (github.com/pytorch/torchtune): Llama 3.1 8B on one RTX 4090, batch 2,
# packed to 2048 tokens, torch.compile; recipes/configs/llama3_1/8B_{lora,qlora}_single_device.yaml: LoRA r=8 on
# q/v/output + MLP, dropout 0, activation checkpointing, AdamW, the whole model (adapters too) in bf16, the loss
# CEWithChunkedOutputLoss; peak memory reserved (torch's, no CUDA context); torchao NF4 keeps the rest in bf16.
TORCHTUNE = dict(lm_head="chunked", batch_size=2, seq_len=2048, gradient_checkpointing=True, lora_r=8,
                 lora_targets=("q_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"), lora_dropout=0.0,
                 adapter_half=True)
def qwen_cases(rows) -> list:
    """A Qwen table's rows as cases, row by row, one per sequence length; the Q-LoRA rows under their ZeRO-2 label."""
    return [(QWEN_ZERO2 if settings is QWEN_QLORA else "Qwen README", model, dict(settings, seq_len=length), published,
             "total") for model, settings, row in rows
            for length, published in zip((256, 512, 1024, 2048, 4096, 8192), row, strict=True)]


FOUND = qwen_cases(QWEN_ROWS) + [
    ("torchtune README", "Llama-3.1-8B", dict(TORCHTUNE, method="lora"), 16.2, "reserved"),
    ("torchtune README", "Llama-3.1-8B", dict(TORCHTUNE, method="qlora", kbit_upcast=False), 7.4, "reserved"),
] + qwen_cases(QWEN_MORE_ROWS)  # the same table's other rows
NOT_DESCRIBED = {QWEN_ZERO2: "DeepSpeed ZeRO-2 (fp16 adapters, fp32 master copies and gradient partition, buckets)"}
TUNING, HELD_OUT = ([case for case in half if case[0] not in NOT_DESCRIBED]  # halves fixed by position first
                    for half in (MEASURED + FOUND[0::2], FOUND[1::2]))
APART = [case for case in FOUND if case[0] in NOT_DESCRIBED]

# (source, model, settings, low, high[, span]): the estimate must land inside [low, high] (None = unbounded);
# with a span of two settings (the smallest and largest the source states), the two estimates must overlap it.
RANGES = [
    ("QLoRA paper", "LLaMA-65B", dict(QLORA, lora_dropout=0.1), None, 48),
    ("QLoRA paper", "LLaMA-33B", dict(QLORA, lora_dropout=0.1), None, 24),
    ("PEFT README: OOM on A100 80GB", "bigscience/mt0-xxl", dict(PEFT, method="full", target_len=4), 80, None),
    ("PEFT README: OOM on A100 80GB", "bigscience/bloomz-7b1", dict(PEFT, method="full"), 80, None),
    ("Unsloth README: HF OOM", "Llama-3.1-8B", dict(UNSLOTH, seq_len=512), 8, None),
    ("Unsloth README: HF OOM", "Llama-3.3-70B", dict(UNSLOTH, seq_len=512), 48, None),
] + [("axolotl docs", model, settings, low, high, AX_SPAN) for model, settings, low, high in (
    ("phi-2", AX_QLORA, 6, 8), ("phi-2", AX_LORA, 8, 12), ("phi-2", AX_FULL, 24, 32),
    ("Llama-2-7B", AX_QLORA, 10, 14), ("Llama-2-7B", AX_LORA, 16, 24), ("Llama-2-7B", AX_FULL, 60, 80),
    ("Mistral-7B", AX_QLORA, 10, 14), ("Mistral-7B", AX_LORA, 16, 24), ("Mistral-7B", AX_FULL, 60, 80),
    ("Llama-3-8B", AX_QLORA, 10, 14), ("Llama-3-8B", AX_LORA, 16, 24), ("Llama-3-8B", AX_FULL, 60, 80),
    ("Llama-2-13B", AX_QLORA, 16, 20), ("Llama-2-13B", AX_LORA, 28, 40), ("Llama-2-13B", AX_FULL, 120, None),
    ("LLaMA-33B", AX_QLORA, 24, 32), ("LLaMA-33B", AX_LORA, 64, 80),
    ("Llama-2-70B", AX_QLORA, 40, 48), ("Llama-2-70B", AX_LORA, 80, 160),
)]
FACTORY_ROWS = [("full (mixed bf16)", dict(method="full"), 120, 1200),
                ("full (pure_bf16)", dict(method="full", pure_half=True), 60, 600),
                ("LoRA", dict(method="lora"), 16, 160), ("QLoRA 8-bit", dict(method="qlora-8bit"), 10, 80),
                ("QLoRA 4-bit", dict(method="qlora"), 6, 48)]  # published GB for 7B and 70B


def shape_of(model: str):
    if model in EXTRA:
        return shape_from_config(EXTRA[model], source=model)
    return shape_from_config(json.loads((CONFIGS / FILES[model]).read_text()), source=model)


def describe(settings: dict, sizes: bool = True) -> str:
    """Settings in a few words: method, batch, length, precision, optimizer, LoRA rank and targets."""
    s = Settings(**settings)
    parts = [s.method] + ([f"bs{s.batch_size}", f"s{s.seq_len}"] if sizes else []) + [s.precision, s.optimizer]
    if s.method in ("lora", "dora", "qlora", "qlora-8bit"):
        parts += [f"r{s.lora_r}", ",".join(s.lora_targets) if s.lora_targets else "default-targets"]
    parts += ["gc"] * s.gradient_checkpointing + ["pure-bf16"] * s.pure_half
    return " ".join(parts)


def compared(shape, settings: dict, how: str) -> float:
    est = estimate(shape, Settings(**settings))
    if how == "allocated":
        return est.allocated_gb
    if how == "reserved":  # torch's reserved pool: the allocator's cache counted, the CUDA context not
        return est.total_gb - est.breakdown["cuda_context"]
    return est.total_gb


def measured_table(title: str, cases: list) -> None:
    print(f"Measured peaks with known settings, {title} (GB = GiB)")
    print(f"{'source':16} {'model':21} {'settings':62} {'published':>9} {'estimate':>9} {'error':>7}")
    errors = []
    for source, model, settings, published, how in cases:
        ours = compared(shape_of(model), settings, how)
        error = (ours - published) / published
        errors.append(abs(error))
        label = describe(settings) + {"allocated": " [allocated]", "vram": " [fits VRAM]",
                                      "reserved": " [reserved]"}.get(how, "")
        print(f"{source:16} {model:21} {label:62} {published:9.2f} {ours:9.2f} {error:+7.1%}")
    within = sum(e <= 0.20 for e in errors)
    print(f"{title}: median |error| {statistics.median(errors):.1%} over {len(errors)} cases; "
          f"within 20%: {within}/{len(errors)}; worst {max(errors):.1%}\n")


def main() -> int:
    if not CONFIGS.is_dir():
        print(f"skipped: {CONFIGS} not found (the shared reference data is not on this machine)")
        return 0
    for title, cases in (("tuning half", TUNING), ("held-out half (never tuned on)", HELD_OUT)):
        measured_table(title, cases)
    for source, why in NOT_DESCRIBED.items():
        measured_table(f"reported apart, in neither half: {source}, {why}",
                       [case for case in APART if case[0] == source])

    print("\nPublished ranges and bounds (inside = pass)")
    print(f"{'source':30} {'model':19} {'settings':58} {'range':>8} {'estimate':>11}  result")
    inside = 0
    for source, model, settings, low, high, *span in RANGES:
        shape = shape_of(model)
        corners = span[0] if span else [{}]
        points = [estimate(shape, Settings(**{**settings, **corner})).total_gb for corner in corners]
        lo_est, hi_est = min(points), max(points)
        ok = (low is None or hi_est >= low) and (high is None or lo_est <= high)
        inside += ok
        bounds = f"{'' if low is None else low}-{'' if high is None else high}"
        shown = f"{lo_est:.1f}" if len(points) == 1 else f"{lo_est:.1f}-{hi_est:.1f}"
        gap = [abs(lo_est - high) / high] if high is not None and lo_est > high else []
        gap += [abs(low - hi_est) / low] if low is not None and hi_est < low else []
        miss = f" (off by {max(gap):.1%})" if gap else ""
        label = describe(settings, sizes=not span) + (" bs1/s512..bs2/s2048" if span else "")
        print(f"{source:30} {model:19} {label:58} {bounds:>8} {shown:>11}  {'inside' if ok else 'OUTSIDE'}{miss}")
    print(f"inside: {inside}/{len(RANGES)}")
    print("axolotl's full fine-tuning rows against the same page's own rule ('roughly 4x model size in bf16 with "
          "AdamW': weights, gradients and two AdamW states, 8 bytes a parameter):")
    for source, model, settings, low, high, *span in RANGES:
        if source == "axolotl docs" and settings is AX_FULL:
            rule = 8 * shape_of(model).total_params / GB
            print(f"  {model:12} table {'' if low is None else low}-{'' if high is None else high}  rule {rule:6.1f}  "
                  f"{'inside' if (low is None or rule >= low) and (high is None or rule <= high) else 'OUTSIDE'}")

    print("\nLLaMA-Factory README rule of thumb (*estimated*, no settings published; we assume bs1 s512 gc)")
    factory_errors = []
    for label, extra, *published_gb in FACTORY_ROWS:
        for model, published in zip(("Llama-2-7B", "Llama-2-70B"), published_gb, strict=True):
            ours = estimate(shape_of(model), Settings(**FACTORY, **extra)).total_gb
            factory_errors.append(abs(ours - published) / published)
            error = (ours - published) / published
            print(f"  {model:12} {label:18} published {published:6.0f}  estimate {ours:8.1f}  {error:+7.1%}")
    print(f"  median |error| {statistics.median(factory_errors):.1%} (rule of thumb, not a measurement)")

    print("\nParameter counts vs ../shared/data/model-configs/README.md")
    worst, worst_name, exact = 0.0, "", 0
    for name, published, computed in README_COUNTS:
        ours = shape_from_config(json.loads((CONFIGS / name).read_text())).total_params
        error = (ours - published) / published
        if abs(error) > worst:
            worst, worst_name = abs(error), name
        exact += ours == computed
        print(f"  {name:40} published {published / 1e9:6.2f}B  README {computed:>14,}  ours {ours:>14,}  "
              f"{'exact' if ours == computed else 'DIFFERS'}  vs published {error:+6.2%}")
    print(f"exact matches with the README's computed counts: {exact}/{len(README_COUNTS)}; largest difference from a "
          f"headline figure: {worst:.2%} ({worst_name}; headline figures are rounded)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
