"""The SFT loss's LM head on a CPU: the labelled positions only, one projection in the run's precision.

TRL's SFTTrainer scores tokens through its fused, chunked LM head (``trl.trainer.utils.add_fused_lm_head``). Where
Triton is missing, which is every CPU, that head scores every position (prompt and padding too) with fp32
matmuls over vocabulary tiles and several passes per tile: on bench/compare_plain_trl.py's 20M Llama it took 3.5x
the time of one bf16 projection of the same tokens, 20-30% of a LoRA step. On a CPU, fttui scores only the
positions that carry a label, as TRL does on GPUs, with one ``F.linear`` under the run's autocast and an fp32
log-softmax: the numbers transformers' own ``labels=`` loss computes. More tokens than fit in ``CHUNK_ELEMENTS``
logits are scored in chunks recomputed in the backward pass, so one chunk's logits live at a time.

It returns TRL's ``FusedCausalLMOutput``, so TRL's loss, token accuracy and entropy metrics read it unchanged. TRL's
DPOTrainer and KTOTrainer use the same head for the policy and the reference (a full fine-tune's frozen copy too)
and read ``mean_logits`` for their ``logits/*`` metrics: those are computed when asked for. Anything it does not
cover (another device, pre-shifted labels, MoE router losses, scaled or soft-capped logits, WPO's
``log_sum_sq_probs``) goes to TRL's head.
"""
from __future__ import annotations

import contextlib
import functools
import types

import torch
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint

CHUNK_ELEMENTS = 1 << 25  # logits per chunk: 128 MB in fp32 (1,365 tokens of a 24,576-token vocabulary)
_SCALED = ("final_logit_softcapping", "logit_scale", "output_multiplier", "lm_head_multiplier", "logits_scaling")


def _score(hidden: torch.Tensor, weight: torch.Tensor, bias, targets: torch.Tensor, mean_logits: bool = False):
    """Per-token log-probability of ``targets`` (with gradient); entropy, top-1 hit and, if asked, the mean logit
    over the vocabulary (without)."""
    logits = F.linear(hidden, weight, bias).float()
    log_probs = torch.log_softmax(logits, dim=-1)
    with torch.no_grad():
        entropy = -(log_probs.exp() * log_probs).sum(-1)
        is_top1 = log_probs.argmax(-1) == targets
        extra = (logits.mean(-1),) if mean_logits else ()
    return (log_probs.gather(-1, targets.unsqueeze(-1)).squeeze(-1), entropy, is_top1, *extra)


def score_tokens(hidden: torch.Tensor, weight: torch.Tensor, bias, targets: torch.Tensor, mean_logits: bool = False):
    """``_score`` over chunks of at most CHUNK_ELEMENTS logits, each recomputed in backward when there are several."""
    per_chunk = max(1, CHUNK_ELEMENTS // weight.shape[0])
    if hidden.shape[0] <= per_chunk:
        return _score(hidden, weight, bias, targets, mean_logits)
    parts = [checkpoint(_score, hidden[i:i + per_chunk], weight, bias, targets[i:i + per_chunk], mean_logits,
                        use_reentrant=False)
             for i in range(0, hidden.shape[0], per_chunk)]
    return tuple(torch.cat(column) for column in zip(*parts))


def _covered(model) -> bool:
    text = model.config.get_text_config()
    return (not any(getattr(text, name, None) not in (None, 1.0) for name in _SCALED)
            and not getattr(text, "output_router_logits", False))


def use_on_cpu(model, outputs: tuple[str, ...] = (), autocast_dtype: torch.dtype | None = None) -> bool:
    """Wraps the forward a TRL trainer patched on ``model`` (the base of a peft model); False where not covered.

    ``outputs``: the fields beyond log-probs, entropy and top-1 that the trainer reads (``"mean_logits"``).
    ``autocast_dtype``: for a model whose own forward accelerate already wrapped in autocast (a prepared reference
    model), the precision that wrapper ran it in: the scoring path replaces the wrapper, so it autocasts itself,
    or a bf16 run's reference would score in fp32 and its margins against the bf16 policy would be noise."""
    from trl.trainer.utils import FusedCausalLMOutput

    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    trl_forward = base.forward
    if (not _covered(base) or getattr(trl_forward, "_fttui_cpu_head", False)
            or not set(outputs) <= {"mean_logits"}):
        return False
    mean_logits = "mean_logits" in outputs

    @functools.wraps(type(base).forward)  # generate() checks its kwargs against the model's forward signature
    def forward(self, *args, fused_lm_head=False, labels=None, shift_labels=None, num_items_in_batch=None, **kwargs):
        head = self.get_output_embeddings()
        if not fused_lm_head or shift_labels is not None or labels is None or head.weight.device.type != "cpu":
            return trl_forward(*args, fused_lm_head=fused_lm_head, labels=labels, shift_labels=shift_labels,
                               num_items_in_batch=num_items_in_batch, **kwargs)
        kwargs["use_cache"] = False
        # nullcontext, not autocast(enabled=False): that would switch off the autocast a peft model's wrapper opened
        with contextlib.nullcontext() if autocast_dtype is None else torch.autocast("cpu", dtype=autocast_dtype):
            hidden = self.base_model(*args, **kwargs).last_hidden_state[:, :-1]
            labels = labels[:, 1:]
            mask = labels != -100
            scored = score_tokens(hidden[mask], head.weight, head.bias, labels[mask], mean_logits)
        # masked_scatter keeps an all-masked batch connected to the graph: a zero loss, not a failed backward
        log_probs, entropy, is_top1, *extra = (mask.new_zeros(mask.shape, dtype=x.dtype).masked_scatter(mask, x)
                                               for x in scored)
        count = mask.sum().clamp(min=1) if num_items_in_batch is None else num_items_in_batch
        return FusedCausalLMOutput(loss=-log_probs.sum() / count, log_probs=log_probs, entropy=entropy,
                                   log_sum_sq_probs=None, mean_logits=extra[0] if extra else None, is_top1=is_top1,
                                   label_mask=mask, aux_loss=None)

    forward._fttui_cpu_head = True
    base.forward = types.MethodType(forward, base)
    return True
