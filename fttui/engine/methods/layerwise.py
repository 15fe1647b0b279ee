"""Layer-wise (differential) learning rates: lower blocks, which hold general features, move less.

Depth counts down from the top: the head, final norm and top block train at the full rate (depth 0), the
block below at ``lr * decay``, the one below that at ``lr * decay**2``, and the embeddings lowest at
``lr * decay**n_blocks``. The groups are handed to the Trainer through ``optimizer_cls_and_kwargs``, so its
scheduler, gradient clipping and checkpointing (optimizer state saved and restored per group) apply unchanged;
the groups are built in a fixed order, so a resumed run loads its state into the same groups.
"""
from __future__ import annotations

from fttui.engine.models.anatomy import block_index, is_embedding, transformer_blocks


def parameter_depths(model) -> tuple[dict[str, int], int]:
    """Depth below the top of every parameter, and the embeddings' depth (the deepest)."""
    prefix, blocks = transformer_blocks(model)
    bottom = len(blocks)
    depths = {}
    for name, _ in model.named_parameters():
        index = block_index(name, prefix)
        if index is not None:
            depths[name] = bottom - 1 - index
        else:
            depths[name] = bottom if is_embedding(model, name) else 0
    return depths, bottom


def layerwise_groups(model, learning_rate: float, decay: float, weight_decay: float) -> list[dict]:
    """Optimizer parameter groups, one per (depth, decayed or not), trainable parameters only."""
    from transformers import Trainer

    decay_names = set(Trainer.get_decay_parameter_names(None, model))  # same split as the Trainer's default
    depths, _ = parameter_depths(model)
    groups: dict[tuple[int, float], dict] = {}
    for name, parameter in model.named_parameters():
        if not parameter.requires_grad:
            continue
        depth = depths[name]
        decayed = weight_decay if name in decay_names else 0.0
        group = groups.setdefault((depth, decayed), {"params": [], "lr": learning_rate * decay**depth,
                                                     "weight_decay": decayed, "depth": depth})
        group["params"].append(parameter)
    return [groups[key] for key in sorted(groups)]


def layerwise_optimizer(model, config, args) -> tuple[tuple[type, dict] | None, str | None]:
    """``(optimizer class, kwargs with the groups)`` for the Trainer, and a line for the log; None when off."""
    decay = config.method.layer_lr_decay
    if decay is None:
        return None, None
    from transformers import Trainer

    optimizer_cls, kwargs = Trainer.get_optimizer_cls_and_kwargs(args, model)
    groups = layerwise_groups(model, args.learning_rate, decay, args.weight_decay)
    lowest = min(group["lr"] for group in groups)
    note = (f"layer-wise learning rates: {args.learning_rate:.3g} at the top down to {lowest:.3g} "
            f"(decay {decay:g} per block, {len(groups)} parameter groups)")
    return (optimizer_cls, {**kwargs, "params": groups}), note
