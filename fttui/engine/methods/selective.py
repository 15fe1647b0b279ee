"""Methods that train a chosen slice of the base model itself: BitFit (bias terms) and freeze (the top blocks).

No wrapper library is needed: the choice is which parameters keep ``requires_grad``. Both change base weights
in place, so the run saves the whole model (``model/``), like full fine-tuning.
"""
from __future__ import annotations

from fttui.engine.models.anatomy import block_index, is_classifier_head, is_embedding, transformer_blocks
from fttui.errors import ConfigError


def apply_bitfit(model, task: str):
    """Train every bias (attention, MLP, LayerNorm) and, for classification, the new head."""
    biases = 0
    for name, parameter in model.named_parameters():
        head = task == "seq-cls" and is_classifier_head(name)
        is_bias = name.endswith(".bias") and not head
        biases += parameter.numel() if is_bias else 0
        parameter.requires_grad_(is_bias or head)
    if biases == 0:
        raise ConfigError(
            f"method.name: bitfit trains only bias terms, and this {model.config.model_type} model has none",
            "use method.name=lora (or ia3) for models without biases, such as Llama, Mistral or Qwen",
        )
    return model


def apply_freeze(model, layers: int):
    """Train the top ``layers`` blocks and everything above them (final norm, pooler, head); embeddings stay frozen."""
    prefix, blocks = transformer_blocks(model)
    if layers > len(blocks):
        raise ConfigError(
            f"method.trainable_layers is {layers}, but this {model.config.model_type} model has {len(blocks)} blocks",
            f"set method.trainable_layers to at most {len(blocks)}, or use method.name=full",
        )
    first = len(blocks) - layers
    for name, parameter in model.named_parameters():
        index = block_index(name, prefix)
        parameter.requires_grad_(index >= first if index is not None else not is_embedding(model, name))
    return model
