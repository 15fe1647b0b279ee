"""A model's shape from its ``config.json`` alone, so memory can be planned before any weight is downloaded.

Parameter counts follow each architecture's modelling code in transformers (checked against the 15 configs in
``../shared/data/model-configs``: exact for all of them). Encoders are counted as the bare model with pooler,
decoders with their LM head unless tied, T5 with shared embedding and relative-position tables.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

from fttui.errors import ConfigError

LLAMA_LIKE = {"llama", "mistral", "mixtral", "qwen2", "qwen3", "gemma", "gemma2", "gemma3_text", "phi3", "olmo",
              "olmo2", "granite", "smollm3"}
T5_LIKE = {"t5", "mt5", "umt5"}
ENCODERS = {"bert", "roberta", "xlm-roberta", "camembert"}
TIED_DEFAULT = {"gemma": True, "gemma2": True, "gemma3_text": True, "gpt2": True, "bloom": True, "t5": True,
                "mt5": False, "umt5": True}  # PretrainedConfig says True; llama-likes override to False


@dataclass(frozen=True)
class Linear:
    """One linear layer of a block: LoRA wraps it by ``name``; ``group`` names the tensor it reads."""

    name: str
    in_features: int
    out_features: int
    bias: bool = False
    group: str = ""
    part: str = "attn"  # attn | mlp (mlp layers repeat per expert)
    ia3: str | None = None  # PEFT's IA3 scales "out" (keys/values) or "in" (feed-forward output)

    @property
    def params(self) -> int:
        return self.in_features * self.out_features + (self.out_features if self.bias else 0)


@dataclass(frozen=True)
class Block:
    """One kind of transformer block repeated ``count`` times; enough detail to size its activations."""

    count: int
    kind: str  # causal | bidirectional | cross (decoder block with cross-attention)
    stream: str  # src | tgt: which sequence runs through it
    norm: str  # rms | layer | t5
    norms: int
    norm_params: int
    q_dim: int
    kv_dim: int
    heads: int
    inter: int
    gated: bool
    act: str  # silu | gelu | gelu_new | relu
    hidden_dropout: float
    attn_dropout: float
    linears: tuple[Linear, ...]
    experts: int = 1
    active_experts: int = 1
    router_params: int = 0
    softmax_fp32: bool = True  # eager attention upcasts the softmax (llama-style, T5); GPT-2/BERT/BLOOM do not

    @property
    def params(self) -> int:
        attn = sum(m.params for m in self.linears if m.part == "attn")
        mlp = sum(m.params for m in self.linears if m.part == "mlp")
        return attn + mlp * self.experts + self.router_params + self.norm_params

    @property
    def bias_params(self) -> int:
        mult = {"attn": 1, "mlp": self.experts}
        return sum(m.out_features * mult[m.part] for m in self.linears if m.bias) + (
            self.norm_params // 2 if self.norm == "layer" else 0)


@dataclass(frozen=True)
class ModelShape:
    """What a model is made of, without its weights."""

    source: str
    family: str
    model_type: str
    architecture: str | None
    kind: str  # decoder | encoder | encoder-decoder
    hidden_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    intermediate_size: int
    vocab_size: int
    context_length: int | None
    tied_embeddings: bool
    blocks: tuple[Block, ...]
    embedding_params: int
    lm_head_params: int
    other_params: int  # final norms, pooler, position-bias tables
    other_bias_params: int = 0
    torch_dtype: str | None = None
    embedding_dropout: float = 0.0
    extra_linears: tuple[Linear, ...] = ()  # linear layers outside the blocks (counted in other_params), e.g. a pooler
    warnings: tuple[str, ...] = field(default=())

    @property
    def total_params(self) -> int:
        return self.embedding_params + self.lm_head_params + self.other_params + sum(
            b.params * b.count for b in self.blocks)

    @property
    def linear_weight_params(self) -> int:
        """Weights of every linear layer inside the blocks (what bitsandbytes quantizes)."""
        total = sum(m.in_features * m.out_features for m in self.extra_linears)
        for b in self.blocks:
            for m in b.linears:
                total += m.in_features * m.out_features * b.count * (b.experts if m.part == "mlp" else 1)
        return total

    @property
    def bias_params(self) -> int:
        return self.other_bias_params + sum(b.bias_params * b.count for b in self.blocks)

    @property
    def lora_target_names(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(m.name for b in self.blocks for m in b.linears))

    def resolve_targets(self, targets) -> tuple[str, ...]:
        """Target names as given; ``None`` or ``all-linear`` for every linear layer (fttui's default)."""
        if not targets:
            return self.lora_target_names
        wanted = [t.strip() for t in targets if t.strip()]
        if wanted == ["all-linear"]:
            return self.lora_target_names
        unknown = [t for t in wanted if t not in self.lora_target_names]
        if unknown:
            raise ConfigError(
                f"LoRA target {', '.join(unknown)} is not a linear layer of this {self.family} model",
                f"choose from: {', '.join(self.lora_target_names)} (or all-linear)",
            )
        return tuple(wanted)

    def lora_params(self, rank: int, targets=None, dora: bool = False) -> int:
        """Exact LoRA (A: r x in, B: out x r) parameters; DoRA adds one magnitude per output feature."""
        names = set(self.resolve_targets(targets))
        total = 0
        for b in self.blocks:
            for m in b.linears:
                if m.name in names:
                    per = rank * (m.in_features + m.out_features) + (m.out_features if dora else 0)
                    total += per * b.count * (b.experts if m.part == "mlp" else 1)
        for m in self.extra_linears:
            if m.name in names:
                total += rank * (m.in_features + m.out_features) + (m.out_features if dora else 0)
        return total

    def ia3_params(self) -> int:
        total = 0
        for b in self.blocks:
            for m in b.linears:
                if m.ia3:
                    per = m.out_features if m.ia3 == "out" else m.in_features
                    total += per * b.count * (b.experts if m.part == "mlp" else 1)
        return total

    def to_dict(self) -> dict:
        data = asdict(self)
        data.pop("blocks")
        data.pop("extra_linears")
        data.update(total_params=self.total_params, lora_target_names=list(self.lora_target_names),
                    warnings=list(self.warnings))
        return data


# ----------------------------------------------------------------------------------------------------- families


def shape_from_config(config: dict, source: str = "config", where: str | None = None) -> ModelShape:
    """Dispatch on ``model_type`` to the family's counting rules; unknown types get generic counting."""
    where = where or source
    if isinstance(config.get("text_config"), dict) and "hidden_size" not in config:  # multimodal: the language model
        inner = shape_from_config({**config["text_config"]}, source, where)
        note = f"{config.get('model_type', 'multimodal')}: counted its text model only (no vision/audio tower)"
        return replace(inner, warnings=inner.warnings + (note,))
    model_type = str(config.get("model_type") or "").lower()
    arch = (config.get("architectures") or [None])[0]
    if model_type in LLAMA_LIKE:
        built = _llama_like(config, model_type, where)
    elif model_type == "phi":
        built = _phi(config, where)
    elif model_type == "gpt2":
        built = _gpt2(config, where)
    elif model_type in ENCODERS:
        built = _bert(config, model_type, where)
    elif model_type in T5_LIKE:
        built = _t5(config, model_type, where)
    elif model_type == "bloom":
        built = _bloom(config, where)
    else:
        built = _llama_like(config, "generic", where)
        built["warnings"] = (f"unknown architecture {model_type or arch or '?'}: counted as a generic decoder "
                             "(q,k,v,o + MLP per layer); memory figures are approximate",)
    blocks = built["blocks"]
    first = blocks[0]
    return ModelShape(
        source=source, model_type=model_type or "unknown", architecture=arch,
        num_layers=sum(b.count for b in blocks), num_heads=first.heads,
        head_dim=first.q_dim // max(first.heads, 1), intermediate_size=first.inter,
        torch_dtype=config.get("torch_dtype") or config.get("dtype"), **built,
    )


def _get(config: dict, where: str, *names: str, default=None, required=True):
    for name in names:
        if config.get(name) is not None:
            return config[name]
    if default is not None or not required:
        return default
    raise ConfigError(f"{where}: missing {' / '.join(names)}, needed to size the model",
                      "use the model's original config.json (from its hub repository)")


def _positive(value, name: str, where: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ConfigError(f"{where}: {name} must be a positive integer, got {value!r}", "check config.json")
    return value


def _dims(config: dict, where: str, hidden_names=("hidden_size",), layer_names=("num_hidden_layers",),
          head_names=("num_attention_heads",)):
    h = _positive(_get(config, where, *hidden_names), hidden_names[0], where)
    layers = _positive(_get(config, where, *layer_names), layer_names[0], where)
    heads = _positive(_get(config, where, *head_names), head_names[0], where)
    vocab = _positive(_get(config, where, "vocab_size"), "vocab_size", where)
    return h, layers, heads, vocab


def _tied(config: dict, family: str) -> bool:
    value = config.get("tie_word_embeddings")
    return bool(value) if value is not None else TIED_DEFAULT.get(family, family == "generic")


def _llama_like(config: dict, family: str, where: str) -> dict:
    """Llama, Mistral, Qwen2/3, Gemma 1/2/3, Phi-3 and OLMo-style decoders: RMSNorm, gated MLP, GQA."""
    h, layers, heads, vocab = _dims(config, where, ("hidden_size", "n_embd", "d_model", "dim"),
                                    ("num_hidden_layers", "n_layer", "num_layers", "n_layers"),
                                    ("num_attention_heads", "n_head", "num_heads", "n_heads"))
    kv_heads = int(_get(config, where, "num_key_value_heads", "num_kv_heads", default=heads))
    head_dim = int(config.get("head_dim") or h // heads)
    q_dim, kv_dim = heads * head_dim, kv_heads * head_dim
    act = str(config.get("hidden_activation") or config.get("hidden_act") or "silu")
    gated = family != "generic" or act in ("silu", "swish", "swiglu")
    inter = int(_get(config, where, "intermediate_size", "n_inner", "ffn_dim", "d_ff", default=4 * h))
    qkv_bias = family == "qwen2" or bool(config.get("attention_bias"))
    o_bias = bool(config.get("attention_bias")) and family != "qwen2"
    mlp_bias = bool(config.get("mlp_bias"))
    if family == "phi3":
        linears = [Linear("qkv_proj", h, q_dim + 2 * kv_dim, qkv_bias, "attn_in", ia3="out"),
                   Linear("o_proj", q_dim, h, o_bias, "attn_out"),
                   Linear("gate_up_proj", h, 2 * inter, mlp_bias, "mlp_in", "mlp"),
                   Linear("down_proj", inter, h, mlp_bias, "mlp_mid", "mlp", ia3="in")]
    else:
        linears = [Linear("q_proj", h, q_dim, qkv_bias, "attn_in"),
                   Linear("k_proj", h, kv_dim, qkv_bias, "attn_in", ia3="out"),
                   Linear("v_proj", h, kv_dim, qkv_bias, "attn_in", ia3="out"),
                   Linear("o_proj", q_dim, h, o_bias, "attn_out")]
        if gated:
            linears += [Linear("gate_proj", h, inter, mlp_bias, "mlp_in", "mlp"),
                        Linear("up_proj", h, inter, mlp_bias, "mlp_in", "mlp")]
        else:
            linears += [Linear("up_proj", h, inter, mlp_bias, "mlp_in", "mlp")]
        linears += [Linear("down_proj", inter, h, mlp_bias, "mlp_mid", "mlp", ia3="in")]
    norms = 4 if family in ("gemma2", "gemma3_text") else 2
    qk_norms = {"qwen3": 2 * head_dim, "gemma3_text": 2 * head_dim, "olmo2": q_dim + kv_dim}
    norm_params = norms * h + qk_norms.get(family, 0)
    if family == "olmo":
        norm_params = 0  # OLMo-1 uses non-parametric layer norm
    experts = int(config.get("num_local_experts") or config.get("num_experts") or 1)
    active = int(config.get("num_experts_per_tok") or 1) if experts > 1 else 1
    block = Block(layers, "causal", "tgt", "rms", norms, norm_params, q_dim, kv_dim, heads, inter, gated,
                  "gelu" if "gelu" in act else "silu", 0.0, float(config.get("attention_dropout") or 0.0),
                  tuple(linears), experts, active, h * experts if experts > 1 else 0)
    tied = _tied(config, family)
    return dict(family=family, kind="decoder", hidden_size=h, num_kv_heads=kv_heads, vocab_size=vocab,
                context_length=config.get("max_position_embeddings"), tied_embeddings=tied, blocks=(block,),
                embedding_params=vocab * h, lm_head_params=0 if tied else vocab * h,
                other_params=0 if family == "olmo" else h)


def _phi(config: dict, where: str) -> dict:
    """Phi-1/1.5/2: parallel attention and MLP sharing one LayerNorm, biases everywhere, LM head with bias."""
    h, layers, heads, vocab = _dims(config, where)
    inter = int(_get(config, where, "intermediate_size", default=4 * h))
    kv_heads = int(config.get("num_key_value_heads") or heads)
    hd = h // heads
    linears = (Linear("q_proj", h, h, True, "attn_in"), Linear("k_proj", h, kv_heads * hd, True, "attn_in", ia3="out"),
               Linear("v_proj", h, kv_heads * hd, True, "attn_in", ia3="out"), Linear("dense", h, h, True, "attn_out"),
               Linear("fc1", h, inter, True, "attn_in", "mlp"),
               Linear("fc2", inter, h, True, "mlp_mid", "mlp", ia3="in"))
    qk_norm = 4 * hd if config.get("qk_layernorm") else 0
    block = Block(layers, "causal", "tgt", "layer", 1, 2 * h + qk_norm, h, kv_heads * hd, heads, inter, False,
                  "gelu_new", float(config.get("resid_pdrop") or 0.0), float(config.get("attention_dropout") or 0.0),
                  linears)
    tied = _tied(config, "phi")
    return dict(family="phi", kind="decoder", hidden_size=h, num_kv_heads=kv_heads, vocab_size=vocab,
                context_length=config.get("max_position_embeddings"), tied_embeddings=tied, blocks=(block,),
                embedding_params=vocab * h, lm_head_params=0 if tied else vocab * h + vocab, other_params=2 * h,
                other_bias_params=h + (0 if tied else vocab),
                embedding_dropout=float(config.get("embd_pdrop") or 0.0))


def _gpt2(config: dict, where: str) -> dict:
    """GPT-2: n_embd/n_layer/n_head naming, fused c_attn (Conv1D), learned positions, tied LM head."""
    h, layers, heads, vocab = _dims(config, where, ("n_embd", "hidden_size"), ("n_layer", "num_hidden_layers"),
                                    ("n_head", "num_attention_heads"))
    inter = int(config.get("n_inner") or 4 * h)
    positions = int(_get(config, where, "n_positions", "max_position_embeddings", default=1024))
    linears = (Linear("c_attn", h, 3 * h, True, "attn_in", ia3="out"), Linear("c_proj", h, h, True, "attn_out"),
               Linear("c_fc", h, inter, True, "mlp_in", "mlp"),
               Linear("c_proj", inter, h, True, "mlp_mid", "mlp", ia3="in"))
    block = Block(layers, "causal", "tgt", "layer", 2, 4 * h, h, h, heads, inter, False, "gelu_new",
                  float(config.get("resid_pdrop", 0.1) or 0.0), float(config.get("attn_pdrop", 0.1) or 0.0), linears,
                  softmax_fp32=False)
    tied = _tied(config, "gpt2")
    return dict(family="gpt2", kind="decoder", hidden_size=h, num_kv_heads=heads, vocab_size=vocab,
                context_length=positions, tied_embeddings=tied, blocks=(block,),
                embedding_params=vocab * h + positions * h, lm_head_params=0 if tied else vocab * h,
                other_params=2 * h, other_bias_params=h,
                embedding_dropout=float(config.get("embd_pdrop", 0.1) or 0.0))


def _bert(config: dict, family: str, where: str) -> dict:
    """BERT/RoBERTa encoders with pooler (the bare ``BertModel``), post-LayerNorm, GELU MLP."""
    h, layers, heads, vocab = _dims(config, where)
    inter = int(_get(config, where, "intermediate_size", default=4 * h))
    positions = int(config.get("max_position_embeddings") or 512)
    types = int(config.get("type_vocab_size") if config.get("type_vocab_size") is not None else 2)
    linears = (Linear("query", h, h, True, "attn_in"), Linear("key", h, h, True, "attn_in", ia3="out"),
               Linear("value", h, h, True, "attn_in", ia3="out"), Linear("dense", h, h, True, "attn_out"),
               Linear("dense", h, inter, True, "mlp_in", "mlp"),
               Linear("dense", inter, h, True, "mlp_mid", "mlp", ia3="in"))
    block = Block(layers, "bidirectional", "src", "layer", 2, 4 * h, h, h, heads, inter, False, "gelu",
                  float(config.get("hidden_dropout_prob", 0.1) or 0.0),
                  float(config.get("attention_probs_dropout_prob", 0.1) or 0.0), linears, softmax_fp32=False)
    offset = 2 if family != "bert" and positions > 2 else 0  # RoBERTa positions start after the padding index
    return dict(family="roberta" if family != "bert" else "bert", kind="encoder", hidden_size=h, num_kv_heads=heads,
                vocab_size=vocab, context_length=positions - offset, tied_embeddings=False, blocks=(block,),
                embedding_params=(vocab + positions + types) * h + 2 * h, lm_head_params=0,
                other_params=h * h + h, other_bias_params=2 * h,
                extra_linears=(Linear("dense", h, h, True, "pooler"),),
                embedding_dropout=float(config.get("hidden_dropout_prob", 0.1) or 0.0))


def _t5(config: dict, family: str, where: str) -> dict:
    """T5 encoder-decoder: d_model/d_ff/num_layers naming, relative position bias, optional gated FFN."""
    h, layers, heads, vocab = _dims(config, where, ("d_model", "hidden_size"), ("num_layers",), ("num_heads",))
    dec_layers = int(config.get("num_decoder_layers") or layers)
    d_kv = int(_get(config, where, "d_kv", default=h // heads))
    d_ff = int(_get(config, where, "d_ff"))
    proj = str(config.get("feed_forward_proj") or "relu")
    gated = proj.startswith("gated") or bool(config.get("is_gated_act"))
    act = "gelu_new" if "gelu" in proj else "relu"
    inner = heads * d_kv
    drop = float(config.get("dropout_rate", 0.1) or 0.0)
    attn = [Linear("q", h, inner, group="attn_in"), Linear("k", h, inner, group="attn_in", ia3="out"),
            Linear("v", h, inner, group="attn_in", ia3="out"), Linear("o", inner, h, group="attn_out")]
    cross = [Linear("q", h, inner, group="cross_in"), Linear("k", h, inner, group="enc_out", ia3="out"),
             Linear("v", h, inner, group="enc_out", ia3="out"), Linear("o", inner, h, group="cross_out")]
    ffn = [Linear("wi_0", h, d_ff, group="mlp_in", part="mlp"), Linear("wi_1", h, d_ff, group="mlp_in", part="mlp")] \
        if gated else [Linear("wi", h, d_ff, group="mlp_in", part="mlp")]
    ffn.append(Linear("wo", d_ff, h, group="mlp_mid", part="mlp", ia3="in"))
    enc = Block(layers, "bidirectional", "src", "t5", 2, 2 * h, inner, inner, heads, d_ff, gated, act, drop, drop,
                tuple(attn + ffn))
    dec = Block(dec_layers, "cross", "tgt", "t5", 3, 3 * h, inner, inner, heads, d_ff, gated, act, drop, drop,
                tuple(attn + cross + ffn))
    tied = _tied(config, family)
    buckets = int(config.get("relative_attention_num_buckets") or 32)
    return dict(family="t5", kind="encoder-decoder", hidden_size=h, num_kv_heads=heads, vocab_size=vocab,
                context_length=config.get("n_positions"), tied_embeddings=tied, blocks=(enc, dec),
                embedding_params=vocab * h, lm_head_params=0 if tied else vocab * h,
                other_params=2 * buckets * heads + 2 * h,
                embedding_dropout=drop)


def _bloom(config: dict, where: str) -> dict:
    """BLOOM: fused query_key_value, ALiBi (no position table), LayerNorm after the embeddings, tied head."""
    h, layers, heads, vocab = _dims(config, where, ("hidden_size", "n_embed"), ("n_layer", "num_hidden_layers"),
                                    ("n_head", "num_attention_heads"))
    linears = (Linear("query_key_value", h, 3 * h, True, "attn_in", ia3="out"), Linear("dense", h, h, True, "attn_out"),
               Linear("dense_h_to_4h", h, 4 * h, True, "mlp_in", "mlp"),
               Linear("dense_4h_to_h", 4 * h, h, True, "mlp_mid", "mlp", ia3="in"))
    block = Block(layers, "causal", "tgt", "layer", 2, 4 * h, h, h, heads, 4 * h, False, "gelu",
                  float(config.get("hidden_dropout") or 0.0), float(config.get("attention_dropout") or 0.0), linears,
                  softmax_fp32=False)
    tied = _tied(config, "bloom")
    return dict(family="bloom", kind="decoder", hidden_size=h, num_kv_heads=heads, vocab_size=vocab,
                context_length=config.get("seq_length"), tied_embeddings=tied, blocks=(block,),
                embedding_params=vocab * h + 2 * h, lm_head_params=0 if tied else vocab * h, other_params=2 * h,
                other_bias_params=2 * h)
