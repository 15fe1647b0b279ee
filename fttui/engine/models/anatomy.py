"""Where a transformer keeps its blocks, embeddings, heads and sub-layer outputs, found from the module tree.

Freeze, layer-wise learning rates, IA3 and bottleneck adapters all need the same map; reading it from the
modules (not from a table per architecture) lets new decoder families work unchanged.
"""
from __future__ import annotations

from torch import nn

from fttui.errors import ConfigError

# Paths inside one block, first match wins; together they cover BERT/RoBERTa, Llama-likes, GPT-2, Phi, BLOOM, OPT.
ATTENTION_OUTPUTS = ("attention.output.dense", "self_attn.o_proj", "attn.c_proj", "self_attention.dense",
                     "self_attn.out_proj", "self_attn.dense", "attn.out_proj", "attention.dense")
FFN_OUTPUTS = ("output.dense", "mlp.down_proj", "mlp.c_proj", "mlp.dense_4h_to_h", "mlp.fc2", "fc2", "mlp.wo",
               "feed_forward.w2")
KEY_VALUE_LEAVES = ("k_proj", "v_proj", "key", "value", "k", "v", "c_attn", "query_key_value", "qkv_proj", "Wqkv")
CLASSIFIER_HEADS = ("classifier", "score")


def transformer_blocks(model) -> tuple[str, list[nn.Module]]:
    """The repeated blocks: the ModuleList of same-class modules holding the most parameters."""
    best, best_size = None, 0
    for name, module in model.named_modules():
        if not isinstance(module, nn.ModuleList) or len(module) == 0 or len({type(m) for m in module}) != 1:
            continue
        size = sum(p.numel() for p in module.parameters())
        if size > best_size:
            best, best_size = (name, list(module)), size
    if best is None:
        raise ConfigError(f"cannot find the transformer blocks of {type(model).__name__}",
                          "use method.name=lora or full for this model")
    return best


def block_index(param_name: str, blocks_prefix: str) -> int | None:
    """The block a parameter belongs to (``...layers.3.mlp...`` -> 3), or None outside the blocks."""
    head = blocks_prefix + "."
    if not param_name.startswith(head):
        return None
    return int(param_name[len(head):].split(".", 1)[0])


def is_embedding(model, param_name: str) -> bool:
    """Token/position embeddings and their LayerNorm (BERT's ``embeddings.*``, Llama's ``embed_tokens``)."""
    module_name = param_name.rpartition(".")[0]
    if any("embed" in part or part in ("wte", "wpe") for part in module_name.split(".")):
        return True
    return isinstance(model.get_submodule(module_name), nn.Embedding)


def is_classifier_head(param_name: str) -> bool:
    """A sequence-classification head (``classifier``/``score``): new, so it always trains."""
    return param_name.split(".", 1)[0] in CLASSIFIER_HEADS


def sublayer_outputs(model, placement: str) -> list[str]:
    """Full names of each block's output projections: FFN only (``pfeiffer``) or attention and FFN (``houlsby``)."""
    prefix, blocks = transformer_blocks(model)
    kinds = (ATTENTION_OUTPUTS, FFN_OUTPUTS) if placement == "houlsby" else (FFN_OUTPUTS,)
    names = []
    for index, block in enumerate(blocks):
        for candidates in kinds:
            found = next((path for path in candidates if _has(block, path)), None)
            if found is None:
                raise ConfigError(
                    f"cannot find the {'attention' if candidates is ATTENTION_OUTPUTS else 'feed-forward'} output "
                    f"layer in the blocks of {model.config.model_type}",
                    f"looked for: {', '.join(candidates)}; use method.name=lora for this model",
                )
            names.append(f"{prefix}.{index}.{found}")
    return names


def _has(block: nn.Module, path: str) -> bool:
    try:
        block.get_submodule(path)
    except AttributeError:
        return False
    return True
