"""Peak training memory per fine-tuning method, as pure arithmetic on a ModelShape (no torch).

The rows (one per method, two for QLoRA) come from the method registry (``config/methods.py``); what each row
trains and how it holds the base weights is its ``Formula`` in ``planning/formulas.py``; the sums are here.

Why each term is what it is (GB here means GiB, 2**30 bytes, as nvidia-smi and torch report):

* weights: parameters x bytes. Full fine-tuning in mixed precision keeps fp32 weights plus the half-precision
  copies autocast makes for matmuls (4 + 2 bytes; HF "Model training anatomy": 6 bytes/param); ``pure_half``
  keeps 2. PEFT methods hold the frozen base in half precision and adapters in fp32 (PEFT's
  ``autocast_adapter_dtype``). QLoRA stores block linears in NF4: 0.5 byte + one fp32 absmax per 64 weights,
  or with double quantization 8-bit absmax + one fp32 per 256 blocks = 0.516 byte (Dettmers et al. 2023,
  "QLoRA", sect. 3); LLM.int8 stores 1 byte. ``peft.prepare_model_for_kbit_training`` upcasts the rest
  (embeddings, norms, LM head) to fp32; the residual stream then runs in fp32 too, and so does every k-bit
  linear's output (bitsandbytes returns its input's dtype), so the MLP keeps fp32 inputs (activations below).
* gradients: trainable params x their dtype (fp32 for mixed precision and adapters).
* optimizer: AdamW keeps two states in the parameter dtype (8 bytes fp32); bitsandbytes 8-bit AdamW 2 bytes;
  paged variants the same bytes, but in unified memory that can spill to CPU RAM.
* activations: tensors autograd saves, counted per block from the modelling code (Korthikanti et al. 2022,
  "Reducing Activation Recomputation in Large Transformer Models": 34sbh + 5as^2b per GPT layer in 16-bit;
  our per-layer sums reproduce it for BERT). Frozen linears save no input (their weight gradient is not
  needed), so LoRA saves less than full fine-tuning. SDPA/flash attention save q, k, v, output and a
  log-sum-exp; eager attention also saves the (heads x s x s) probabilities (fp32 softmax + half copy).
  Gradient checkpointing keeps each block's input and recomputes one block at a time. One more block's worth
  is added as backward workspace.
* logits (``lm_head``, ``_logits_bytes``): where the LM head's output is scored decides it. fttui's SFT, DPO and
  KTO on a GPU run through TRL's fused LM head (``SFTTrainer`` patches the model with
  ``trl.trainer.utils.add_fused_lm_head``): a tile of at most 4,096 tokens x 32,768 vocabulary entries at a time,
  never the full logits (``planning/objectives.py``). transformers' own ``labels=`` loss (``ForCausalLMLoss``,
  ORPO, fttui's CPU head, most other tools) upcasts the full logits to fp32; at the backward peak the logits,
  the fp32 copy's log-softmax output, its gradient and the input gradient coexist: (out + 12) bytes per
  token x vocab. The bench sets ``lm_head`` to the head the tool that measured a figure used.
* objective (``planning/objectives.py``): preference pairs train two sequences per example (2x the rows'
  activations); DPO and KTO add a reference pass without gradients, which with full fine-tuning holds a frozen
  copy of the weights (``reference``) and otherwise only transient activations, freed before the backward peak.
* cuda_context + allocator_overhead: ~0.6 GB for the CUDA context, cuBLAS workspace and kernels (HF measured
  1.3 GB on CUDA 11; CUDA 12 lazy loading needs less), and 10% of the transient memory (activations, logits)
  for the caching allocator's fragmentation; weights and optimizer states are allocated once. On CPU, no
  context, and 75% of the transient memory: glibc's heap keeps and fragments around the freed activations of
  every step, and by step 40 of a run holds that much more than the live tensors (fitted on 120-step runs of
  three methods at two batch sizes, the other methods held out; ``bench/calibrate_cpu.py``).
* CPU (``base_fp32``): fttui keeps the frozen base in fp32 and trains under bf16 autocast, which casts each
  linear weight for its matmul and keeps the copy for backward (2 bytes per weight on the backward path);
  the residual stream stays fp32.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

from fttui.config.methods import PLAN_ROWS, ROW_METHOD
from fttui.errors import ConfigError
from fttui.planning.formulas import FORMULAS
from fttui.planning.objectives import OBJECTIVES, fused_head_bytes
from fttui.planning.shape import Block, ModelShape
from fttui.planning.task import resolve_task

GB = 2**30
METHODS = tuple(row.key for row in PLAN_ROWS)  # the planner's rows, best first (config/methods.py)
PLACEMENTS = ("pfeiffer", "houlsby")
OPTIMIZERS = ("adamw", "adamw-8bit", "paged-adamw", "paged-adamw-8bit")
PRECISIONS = ("fp32", "bf16", "fp16")
ATTENTIONS = ("sdpa", "flash", "eager")
# auto: what fttui's engine runs (below); fused: TRL's tiled head; full: transformers' fp32-upcast loss on the full
# logits; half: cross-entropy on the half-precision logits, no upcast (Qwen-1's own modelling code); chunked:
# torchtune's CEWithChunkedOutputLoss (the half logits in 8 chunks, each upcast to fp32 in turn)
LM_HEADS = ("auto", "fused", "full", "half", "chunked")
TASKS = ("auto", "causal-lm", "seq-cls")
CUDA_CONTEXT_GB = 0.6
ALLOCATOR_OVERHEAD = 0.10
TORCHTUNE_CHUNKS = 8  # torchtune.modules.loss.CEWithChunkedOutputLoss: num_output_chunks
# glibc's heap around a long run's freed activations: fitted on 120-step runs of LoRA, freeze and full at batch 16
# and 64 (bench/calibrate_cpu.py; the heap levels off by step 40); 6-step runs, fitted before, gave 0.20
CPU_ALLOCATOR_OVERHEAD = 0.75


@dataclass(frozen=True)
class Settings:
    """Everything besides the model that moves the memory peak."""

    method: str = "lora"
    task: str = "auto"
    objective: str = "sft"  # training.objective: what a step runs per example (planning/objectives.py)
    precompute_reference: bool = False  # DPO/KTO: reference log-probs scored before training, no frozen copy
    batch_size: int = 1
    seq_len: int = 512
    target_len: int | None = None  # decoder length of encoder-decoder models (default: seq_len)
    precision: str = "bf16"
    pure_half: bool = False  # full/freeze: weights and AdamW states in half precision, no fp32 master copy
    gradient_checkpointing: bool = False
    attention: str = "sdpa"
    optimizer: str = "adamw"
    lora_r: int = 8
    lora_targets: tuple[str, ...] | None = None  # None: every linear layer of the blocks (the engine's default)
    lora_dropout: float = 0.05
    adapter_half: bool = False  # adapters in half precision (the QLoRA repository) instead of fp32
    freeze_layers: int = 2  # freeze: how many top blocks train
    num_virtual_tokens: int = 20
    prefix_projection: bool = False  # prefix: learn the prefix through an MLP
    encoder_hidden_size: int | None = None  # ptuning / prefix projection MLP width (default: the model's)
    adapter_reduction: int = 16  # bottleneck adapters: width = hidden / reduction
    adapter_placement: str = "pfeiffer"  # pfeiffer: after the FFN; houlsby: after attention and FFN
    num_labels: int = 2
    double_quant: bool = True
    kbit_upcast: bool = True  # prepare_model_for_kbit_training: non-quantized weights to fp32
    base_fp32: bool = False  # frozen base weights kept in fp32 (fttui's engine on CPU, where autocast casts per op)
    device: str = "cuda"
    cuda_context_gb: float | None = None  # measured context size, when known (default CUDA_CONTEXT_GB)
    lm_head: str = "auto"  # how the causal-LM loss scores the logits (LM_HEADS); auto: as fttui's engine does

    def validate(self) -> Settings:
        checks = [("method", self.method, METHODS), ("optimizer", self.optimizer, OPTIMIZERS),
                  ("precision", self.precision, PRECISIONS), ("attention", self.attention, ATTENTIONS),
                  ("task", self.task, TASKS), ("device", self.device, ("cuda", "cpu")),
                  ("objective", self.objective, tuple(OBJECTIVES)),
                  ("adapter placement", self.adapter_placement, PLACEMENTS), ("LM head", self.lm_head, LM_HEADS)]
        for name, value, allowed in checks:
            if value not in allowed:
                raise ConfigError(f"{name} {value!r} is not known", f"choose one of: {', '.join(allowed)}")
        for name in ("batch_size", "seq_len", "lora_r", "freeze_layers", "num_virtual_tokens", "num_labels",
                     "adapter_reduction"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ConfigError(f"{name.replace('_', ' ')} must be a positive whole number, got {value!r}",
                                  "e.g. --batch-size 8 --seq-len 512")
        if self.encoder_hidden_size is not None and self.encoder_hidden_size <= 0:
            raise ConfigError(f"encoder hidden size must be positive, got {self.encoder_hidden_size}", "e.g. 128")
        if self.target_len is not None and self.target_len <= 0:
            raise ConfigError(f"target length must be positive, got {self.target_len}", "e.g. 128")
        return self


@dataclass
class MemoryEstimate:
    """A training-memory estimate: total and where it goes (GB = GiB)."""

    method: str
    total_gb: float
    breakdown: dict[str, float]
    trainable_params: int
    total_params: int
    pageable_gb: float = 0.0  # paged optimizer states that may spill to CPU RAM
    notes: list[str] = field(default_factory=list)
    settings: dict = field(default_factory=dict)

    @property
    def allocated_gb(self) -> float:
        """What ``torch.cuda.max_memory_allocated`` sees: the total less the CUDA context and the allocator's cache."""
        return self.total_gb - self.breakdown.get("cuda_context", 0.0) - self.breakdown.get("allocator_overhead", 0.0)

    def to_dict(self) -> dict:
        return asdict(self)


def estimate(shape: ModelShape, settings: Settings) -> MemoryEstimate:
    """The memory peak of one training step of ``shape`` under ``settings``."""
    s = settings.validate()
    task = resolve_task(shape, s.task)
    if task == "causal-lm" and shape.kind == "encoder":
        raise ConfigError(f"{shape.source} is an encoder ({shape.family}): the planner sizes it as seq-cls only",
                          "use --task seq-cls, or a decoder model such as gpt2")
    notes: list[str] = []
    if task != "causal-lm" and s.objective != "sft":  # the schema refuses it; planned as the task trains
        notes.append(f"training.objective={s.objective} tunes a causal LM: {shape.source} is planned as {task}")
        s = replace(s, objective="sft")
    half = 4 if s.precision == "fp32" else 2
    head = _task_head(shape, task, s.num_labels)
    total = shape.total_params - shape.lm_head_params + head if task == "seq-cls" else shape.total_params
    new_head = head if task == "seq-cls" else 0  # a freshly initialised classifier always trains
    formula = FORMULAS[s.method]
    trainable = formula.trainable(shape, s, task, new_head, notes)

    if formula.base == "trains":
        if s.precision == "fp32":
            weights = 4 * total
        elif s.pure_half:
            weights = 2 * total
        else:  # fp32 master weights + half copies autocast keeps for the matmuls
            weights = 6 * total - 2 * (shape.embedding_params if not shape.tied_embeddings else 0)
        param_bytes = 2 if s.pure_half and s.precision != "fp32" else 4
    elif formula.base == "top":
        param_bytes = 2 if s.pure_half and s.precision != "fp32" else 4
        weights = (4 if s.base_fp32 else half) * (total - trainable) + param_bytes * trainable
    elif formula.base == "quantized":
        nf4 = 0.5 + 1 / 64 + 4 / (64 * 256) if s.double_quant else 0.5 + 4 / 64
        per_weight = formula.quant_bytes or nf4
        rest = total - shape.linear_weight_params
        param_bytes = 2 if s.adapter_half else 4
        weights = per_weight * shape.linear_weight_params + (4 if s.kbit_upcast else half) * rest
        weights += param_bytes * trainable
    else:  # PEFT on a half-precision base
        param_bytes = 2 if s.adapter_half and s.precision != "fp32" else 4
        base = total - trainable if formula.in_base else total
        weights = (4 if s.base_fp32 else half) * base + param_bytes * trainable  # a new head is a trainable copy (modules_to_save)
    if s.base_fp32 and s.precision != "fp32" and formula.base != "trains":
        # CPU autocast casts each fp32 linear weight to half for its matmul, and autograd keeps that copy
        # for the backward pass through it: every block's linears, or only the trainable top blocks of freeze
        cast = trainable if formula.base == "top" else shape.linear_weight_params
        weights += 2 * cast
    gradients = param_bytes * trainable
    state_bytes = {"adamw": 2 * param_bytes, "adamw-8bit": 2, "paged-adamw": 8, "paged-adamw-8bit": 2}
    optimizer = trainable * state_bytes[s.optimizer]
    activations, logits = _activations(shape, s, task, notes)
    breakdown = {"weights": weights, "gradients": gradients, "optimizer": optimizer,
                 "activations": activations, "logits": logits}
    if formula.base == "quantized":
        # bitsandbytes has no 4-/8-bit training matmul: MatMul4Bit (and MatMul8bitLt's backward) dequantizes the
        # whole weight to the compute dtype for each call, forward and backward, and frees it after: one linear's
        # half-precision copy is live at a time, the largest one at the peak
        widest = max(m.in_features * m.out_features for blk in shape.blocks for m in blk.linears)
        breakdown["dequantized"] = float(half * widest)
    objective = OBJECTIVES[s.objective]
    if objective.reference:  # no adapter to switch off: TRL loads the reference as a copy in the policy's dtype
        copied = formula.base == "trains" and not s.precompute_reference
        breakdown["reference"] = param_bytes * total if copied else 0.0
        if formula.base == "trains" and s.precompute_reference:
            notes.append(f"{objective.label}: reference log-probs scored before training, no frozen copy of the "
                         "weights")
        elif copied:
            notes.append(f"{objective.label}: its reference model is a frozen copy of the weights "
                         f"({breakdown['reference'] / GB:.2f} GB)")
    cuda = s.device == "cuda"
    context = CUDA_CONTEXT_GB if s.cuda_context_gb is None else s.cuda_context_gb
    breakdown["cuda_context"] = context * GB if cuda else 0.0
    overhead = ALLOCATOR_OVERHEAD if cuda else CPU_ALLOCATOR_OVERHEAD
    # TRL's fused head on a CPU allocates its tiles above glibc's 32 MB mmap threshold: unmapped when freed, not kept
    kept_by_glibc = activations if objective.fused_head and not cuda else activations + logits
    breakdown["allocator_overhead"] = overhead * kept_by_glibc
    if s.optimizer.startswith("paged"):
        notes.append("paged optimizer: its states can page out to CPU RAM under memory pressure")
    breakdown_gb = {k: round(v / GB, 4) for k, v in breakdown.items()}
    return MemoryEstimate(
        method=s.method, total_gb=round(sum(breakdown.values()) / GB, 4), breakdown=breakdown_gb,
        trainable_params=int(trainable), total_params=int(total),
        pageable_gb=round(optimizer / GB, 4) if s.optimizer.startswith("paged") else 0.0,
        notes=notes, settings={**asdict(s), "task": task},
    )


def _task_head(shape: ModelShape, task: str, labels: int) -> int:
    if task != "seq-cls":
        return shape.lm_head_params
    h = shape.hidden_size
    if shape.kind == "encoder":
        return h * labels + labels  # classifier on top of the pooler (counted in other_params)
    if shape.kind == "encoder-decoder":
        return h * h + h + h * labels + labels
    return h * labels  # decoder "score" head replaces the LM head


# ------------------------------------------------------------------------------------------------- activations


@dataclass(frozen=True)
class _Ctx:
    a: int  # bytes of half/compute activations
    r: int  # bytes of the residual stream
    s: Settings
    targets: frozenset[str]
    weights_train: bool  # linear weights get gradients (full, freeze)
    norms_train: bool
    linear_out: int  # bytes of a frozen linear's output: autocast's half, or a k-bit linear's input dtype


def _activations(shape: ModelShape, s: Settings, task: str, notes: list[str]) -> tuple[float, float]:
    """Bytes autograd keeps for backward (incl. one block of workspace), and the loss's logits peak."""
    a = 4 if s.precision == "fp32" else 2
    # the residual stream keeps the weights' dtype: fp32 for mixed-precision full training, an fp32 base, and
    # k-bit training after prepare_model_for_kbit_training (its fp32 embeddings start an fp32 stream, and
    # bitsandbytes' linears return their input's dtype)
    formula = FORMULAS[s.method]
    upcast_kbit = formula.base == "quantized" and s.kbit_upcast
    r = 4 if (s.precision == "fp32" or s.base_fp32 or (formula.base == "trains" and not s.pure_half)
              or upcast_kbit) else 2
    full_like = formula.base in ("trains", "top")
    lora = formula.lora
    targets = frozenset(shape.resolve_targets(s.lora_targets)) if lora else frozenset()
    ctx = _Ctx(a, r, s, targets, full_like, full_like, r if upcast_kbit else a)
    b = s.batch_size * OBJECTIVES[s.objective].sequences  # a pair's chosen and rejected reply are two rows
    src = s.seq_len + (s.num_virtual_tokens if ROW_METHOD[s.method].virtual_tokens == "input" else 0)
    tgt = (s.target_len or s.seq_len) if shape.kind == "encoder-decoder" else src
    if shape.family == "t5" and s.attention != "eager":
        notes.append("T5 attention runs eager (position bias), so it keeps the s x s attention probabilities")
    stacks = []
    for block in shape.blocks:
        seq = src if block.stream == "src" else tgt
        stacks.append((block, seq, _block_bytes(block, ctx, seq, src)))
    if formula.base == "top":  # nothing below the first trainable block needs backward
        top_block, seq, per = stacks[-1]
        stacks = [(replace(top_block, count=min(s.freeze_layers, top_block.count)), seq, per)]
    h = shape.hidden_size
    if s.gradient_checkpointing:
        kept = sum(blk.count * r * h * seq for blk, seq, _ in stacks) + max(per for _, _, per in stacks)
    else:
        kept = sum(blk.count * per for blk, seq, per in stacks)
    workspace = max(per for _, _, per in stacks)
    extra = _outside_blocks(shape, ctx, src, tgt, task)
    activations = b * (kept + workspace + extra)
    logits = _logits_bytes(shape, s, b, tgt, a, r) if task == "causal-lm" else b * s.num_labels * 16
    return float(activations), float(logits)


def lm_head_kind(s: Settings) -> str:
    """The LM head a causal-LM step scores through: ``s.lm_head``, or for ``auto`` the one fttui's engine runs.

    TRL's SFT, DPO and KTO trainers use the fused head; on a CPU, where its torch fallback is slow, fttui replaces
    it with ``engine/training/cpu_lm_head.py`` for all three (one projection of the labelled positions and an fp32
    log-softmax: the full-logits arithmetic, chunked only past 2**25 logits); ORPO (TRL's experimental trainer)
    takes the model's own logits."""
    if s.lm_head != "auto":
        return s.lm_head
    if s.device == "cuda" and (OBJECTIVES[s.objective].fused_head or s.objective == "sft"):
        return "fused"
    return "full"


def _logits_bytes(shape: ModelShape, s: Settings, rows: int, seq: int, a: int, r: int) -> float:
    """Bytes the loss's logits hold at the backward peak (``lm_head_kind``); ``a``: the half/compute dtype."""
    kind, entries = lm_head_kind(s), rows * seq * shape.vocab_size
    out = 4 if s.precision == "fp32" else 2  # the LM head's output dtype
    if kind == "fused":
        return fused_head_bytes(shape, rows, seq, a, r, s.device)
    if kind == "half":  # logits, the shifted contiguous copy, log-softmax output, their gradients: all in half
        return entries * 5 * out
    if kind == "chunked":  # every chunk's half logits (and their gradients), one chunk's fp32 temporaries at a time
        return entries * (2 * out + 12 / TORCHTUNE_CHUNKS)
    return entries * (out + 12)  # logits + fp32 copy, its log-softmax output, and their gradients


def _saves_input(ctx: _Ctx, name: str) -> bool:
    return ctx.weights_train or (name in ctx.targets and ctx.s.lora_dropout == 0)


def _block_bytes(block: Block, ctx: _Ctx, seq: int, src: int) -> float:
    """Saved bytes of one block for one sequence of ``seq`` tokens (``src`` = encoder length for cross-attention)."""
    a, r, s, h = ctx.a, ctx.r, ctx.s, block.linears[0].in_features
    cpu = s.device == "cpu"  # CPU dropout keeps a mask in the input dtype, CUDA a bool mask
    per_token = 0.0
    if block.norm == "rms":
        per_token += block.norms * (4 * h if r < 4 else r * h) + (block.norms * r * h if ctx.norms_train else 0)
    elif block.norm == "layer":
        per_token += block.norms * r * h
    else:  # t5: fp32 copy for the variance + the input for the scale (+ output when the weight trains)
        per_token += block.norms * ((4 * h if r < 4 else 0) + r * h + (r * h if ctx.norms_train else 0))
    groups: set[str] = set()
    adapter = 2 if s.adapter_half else 4  # PEFT casts the adapter input to the adapter dtype before dropout
    per_seq = 0.0
    for m in block.linears:
        mult = block.active_experts if m.part == "mlp" else 1
        if _saves_input(ctx, m.name) and m.group != "enc_out" and m.group not in groups:
            groups.add(m.group)
            per_token += a * m.in_features * mult
        if m.name in ctx.targets:
            dropout = (a + (adapter if cpu else 1)) * m.in_features if s.lora_dropout > 0 else 0
            dora = 2 * a * m.out_features if s.method == "dora" else 0
            lora = (dropout + a * s.lora_r + dora) * mult
            if m.group == "enc_out":  # cross-attention keys/values run over the encoder's tokens
                per_seq += lora * src
            else:
                per_token += lora
        if s.method == "adapter" and m.group in ("attn_out", "mlp_mid") and (
                m.group == "mlp_mid" or s.adapter_placement == "houlsby"):  # input, down output, up input
            per_token += adapter * m.out_features + 2 * a * max(1, m.out_features // s.adapter_reduction)
        if s.method == "ia3" and m.ia3:
            per_token += a * (m.out_features if m.ia3 == "out" else m.in_features) * mult
    # attention: SDPA/flash keep q, k, v, output and a log-sum-exp; eager also keeps the probabilities
    math_sdpa = cpu and block.attn_dropout > 0  # CPU's flash kernel has no dropout: PyTorch falls back to math
    eager = s.attention == "eager" or block.norm == "t5" or math_sdpa
    kv = block.q_dim if eager else block.kv_dim
    per_token += a * (2 * block.q_dim + 2 * kv) + 4 * block.heads
    dropout = block.attn_dropout > 0
    if a < 4 and block.softmax_fp32:  # llama-style and T5 code upcast the softmax, cast back, then drop out
        probs = 4 + a + ((a if cpu else 1) + a if dropout else 0)
    elif a < 4 and not cpu:  # CUDA autocast runs softmax (and the dropout after it) in fp32
        probs = 4 + (1 + 4 if dropout else 0) + a
    else:
        probs = a + ((a if cpu else 1) + a if dropout else 0)
    if math_sdpa and s.attention != "eager" and a < 4:
        probs += 8  # the math kernel computes the probabilities in fp32 and keeps them
    per_seq += block.heads * seq * seq * probs if eager else 0.0
    if block.kind == "cross":  # second attention over the encoder output: q from tgt, k/v per src token
        per_token += a * 2 * block.q_dim
        per_seq += a * 2 * block.kv_dim * src + block.heads * seq * src * probs
    act_saves = 4 if block.act == "gelu_new" else 1  # gelu_new is Python: x, tanh, 0.5x and 1+tanh are kept
    mlp = ctx.linear_out * block.inter * (act_saves + (2 if block.gated else 0))  # activation and product inputs
    mask = a if cpu else 1
    if block.norm == "t5" and block.hidden_dropout > 0:
        mlp += mask * block.inter  # dropout before wo
    per_token += mlp * block.active_experts
    if block.hidden_dropout > 0:
        per_token += (3 if block.kind == "cross" else 2) * h * (r if cpu else 1)
    return per_token * seq + per_seq


def _outside_blocks(shape: ModelShape, ctx: _Ctx, src: int, tgt: int, task: str) -> float:
    """Embedding dropout/LayerNorm, the final norm, the LM head input and the encoder output for T5."""
    h, a, r = shape.hidden_size, ctx.a, ctx.r
    total = 0.0
    if shape.embedding_dropout > 0:
        total += h * src * (r if ctx.s.device == "cpu" else 1)
    if shape.family in ("bert", "roberta", "bloom"):
        total += r * h * src
    total += (4 if r < 4 else r) * h * tgt  # final norm input
    if ctx.weights_train and task == "causal-lm":
        total += a * h * tgt  # LM head input
    if shape.kind == "encoder-decoder":
        total += a * h * src  # encoder output, read by every cross-attention
    if ctx.s.attention == "eager" and shape.kind == "decoder":
        total += a * tgt * tgt  # the 4-D causal mask
    return total
