"""fttui's CPU LM head gives what TRL's fused head gives (loss, per-token fields, gradients), in chunks too, and
steps aside where it does not apply."""
from __future__ import annotations

import copy
import inspect

import pytest
import torch

from fttui.engine.training import cpu_lm_head


def _patched(tiny_llama, ours: bool, extra: tuple[str, ...] = ()):
    from transformers import AutoModelForCausalLM
    from trl.trainer.utils import add_fused_lm_head

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(tiny_llama).train()
    add_fused_lm_head(model, outputs=("log_probs", "entropy", "is_top1", *extra))  # as SFTTrainer does (DPO: extra)
    if ours:
        assert cpu_lm_head.use_on_cpu(model, extra)
    return model


def _batch():
    generator = torch.Generator().manual_seed(1)
    ids = torch.randint(0, 30000, (2, 24), generator=generator)
    labels = ids.clone()
    labels[:, :9] = -100  # a prompt
    labels[1, 20:] = -100  # padding
    return ids, labels


def _run(model, ids, labels, **kwargs):
    model.zero_grad()
    out = model(input_ids=ids, labels=labels, fused_lm_head=True, **kwargs)
    out.loss.backward()
    grads = {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}
    return out, grads


def test_it_matches_trls_fused_head_in_fp32(tiny_llama):
    ids, labels = _batch()
    theirs, their_grads = _run(_patched(tiny_llama, ours=False), ids, labels)
    ours, our_grads = _run(_patched(tiny_llama, ours=True), ids, labels)
    assert torch.allclose(ours.loss, theirs.loss, atol=1e-5)
    assert torch.equal(ours.label_mask, theirs.label_mask)
    for field in ("log_probs", "entropy"):
        assert torch.allclose(getattr(ours, field), getattr(theirs, field), atol=1e-4), field
    assert torch.equal(ours.is_top1, theirs.is_top1.to(ours.is_top1.dtype))
    assert their_grads.keys() == our_grads.keys() and our_grads
    for name, grad in their_grads.items():
        assert torch.allclose(our_grads[name], grad, atol=1e-5, rtol=1e-3), name


def test_in_chunks_it_gives_the_same_loss_and_gradients(tiny_llama, monkeypatch):
    ids, labels = _batch()
    whole, whole_grads = _run(_patched(tiny_llama, ours=True), ids, labels)
    monkeypatch.setattr(cpu_lm_head, "CHUNK_ELEMENTS", 30522 * 5)  # 5 tokens per chunk: 5 chunks here
    calls = []
    original = cpu_lm_head._score
    monkeypatch.setattr(cpu_lm_head, "_score", lambda *a: calls.append(a[0].shape[0]) or original(*a))
    chunked, chunked_grads = _run(_patched(tiny_llama, ours=True), ids, labels)
    assert max(calls) == 5 and sum(calls) > int((labels[:, 1:] != -100).sum())  # recomputed in backward
    assert torch.allclose(chunked.loss, whole.loss, atol=1e-6)
    for name, grad in whole_grads.items():
        assert torch.allclose(chunked_grads[name], grad, atol=1e-6), name


def test_a_batch_without_labels_is_a_zero_loss_that_still_backpropagates(tiny_llama):
    model = _patched(tiny_llama, ours=True)
    ids, _ = _batch()
    out = model(input_ids=ids, labels=torch.full_like(ids, -100), fused_lm_head=True)
    out.loss.backward()
    assert out.loss.item() == 0.0


def test_scaled_logits_and_plain_calls_go_to_trl_and_generation_is_unchanged(tiny_llama):
    model = _patched(tiny_llama, ours=False)
    scaled = copy.deepcopy(model)
    scaled.config.logit_scale = 0.5
    assert cpu_lm_head.use_on_cpu(scaled) is False  # TRL's head knows how to scale
    ours = _patched(tiny_llama, ours=True)
    assert cpu_lm_head.use_on_cpu(ours) is False  # already wrapped
    ids, labels = _batch()
    with torch.no_grad():
        plain = ours(input_ids=ids, labels=labels)  # no fused_lm_head: the model's own forward and loss
        reference = model(input_ids=ids, labels=labels)
    assert torch.allclose(plain.logits, reference.logits) and torch.allclose(plain.loss, reference.loss)
    prompt = {"input_ids": ids[:1, :6], "attention_mask": torch.ones(1, 6, dtype=torch.long)}
    # generate() validates its kwargs against forward's signature (peft's prompt tuning failed on it): kept
    assert {"input_ids", "attention_mask", "inputs_embeds"} <= set(inspect.signature(ours.forward).parameters)
    assert torch.equal(ours.generate(**prompt, max_new_tokens=4, do_sample=False),
                       model.generate(**prompt, max_new_tokens=4, do_sample=False))


@pytest.mark.parametrize("dtype", [torch.bfloat16])
def test_under_bf16_autocast_the_loss_stays_close_to_trls(tiny_llama, dtype):
    ids, labels = _batch()
    with torch.autocast("cpu", dtype=dtype):
        theirs, _ = _run(_patched(tiny_llama, ours=False), ids, labels)
        ours, _ = _run(_patched(tiny_llama, ours=True), ids, labels)
    assert abs(ours.loss.item() / theirs.loss.item() - 1) < 2e-3


def test_dpo_and_ktos_mean_logits_match_trls_and_are_left_out_when_not_asked(tiny_llama):
    ids, labels = _batch()
    theirs, their_grads = _run(_patched(tiny_llama, ours=False, extra=("mean_logits",)), ids, labels)
    ours, our_grads = _run(_patched(tiny_llama, ours=True, extra=("mean_logits",)), ids, labels)
    assert theirs.mean_logits is not None
    assert torch.allclose(ours.mean_logits, theirs.mean_logits, atol=1e-5)
    assert torch.allclose(ours.log_probs, theirs.log_probs, atol=1e-4)
    for name, grad in their_grads.items():
        assert torch.allclose(our_grads[name], grad, atol=1e-5, rtol=1e-3), name
    assert _run(_patched(tiny_llama, ours=True), ids, labels)[0].mean_logits is None
    weighted = _patched(tiny_llama, ours=False, extra=("log_sum_sq_probs",))
    assert cpu_lm_head.use_on_cpu(weighted, ("log_sum_sq_probs",)) is False  # WPO's weights: TRL's head


@pytest.mark.parametrize("objective, covered", [("dpo", True), ("kto", True), ("orpo", False)])
def test_preference_trainers_policy_and_frozen_reference_get_the_cpu_head(tiny_llama, objective, covered):
    from types import SimpleNamespace

    from fttui.engine.training.trainer_setup import cpu_head_for_preference

    policy, reference = _patched(tiny_llama, ours=False), _patched(tiny_llama, ours=False)
    trainer = SimpleNamespace(model=policy, ref_model=reference,
                              args=SimpleNamespace(use_weighting=False, bf16=False, fp16=False))
    cpu_head_for_preference(trainer, objective)
    for model in (policy, reference):
        assert getattr(model.forward, "_fttui_cpu_head", False) is covered


def test_a_reference_prepared_under_bf16_autocast_keeps_scoring_in_bf16(tiny_llama):
    """accelerate wraps a prepared reference's own forward in autocast; the CPU head replaces that forward, so it
    must autocast itself: the same numbers as TRL's wrapped head, not fp32 ones (a base scored against itself in
    fttui eval then had a margin of 4e-5 instead of 0)."""
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState

    ids, labels = _batch()
    # accelerate's state is one per process, and an earlier Trainer set it without mixed precision
    AcceleratorState._reset_state(reset_partial_state=True)
    try:
        _compare_under_a_bf16_accelerator(Accelerator(cpu=True, mixed_precision="bf16"), tiny_llama, ids, labels)
    finally:
        AcceleratorState._reset_state(reset_partial_state=True)  # and this one must not reach later tests


def _compare_under_a_bf16_accelerator(accelerator, tiny_llama, ids, labels):
    theirs = accelerator.prepare_model(_patched(tiny_llama, ours=False).eval(), evaluation_mode=True)
    ours = accelerator.prepare_model(_patched(tiny_llama, ours=False).eval(), evaluation_mode=True)
    assert cpu_lm_head.use_on_cpu(ours, autocast_dtype=torch.bfloat16)
    # a policy: the CPU head first, then wrapped (as a peft model's outer forward is): the wrapper's autocast holds
    policy = accelerator.prepare_model(_patched(tiny_llama, ours=True).eval(), evaluation_mode=True)
    with torch.no_grad():
        expected = theirs(input_ids=ids, labels=labels, fused_lm_head=True).log_probs
        got = ours(input_ids=ids, labels=labels, fused_lm_head=True).log_probs
        wrapped = policy(input_ids=ids, labels=labels, fused_lm_head=True).log_probs
        fp32 = _patched(tiny_llama, ours=True).eval()(input_ids=ids, labels=labels, fused_lm_head=True).log_probs
    # measured: 1e-6 from TRL's bf16 head, where an fp32 reference is 1.4e-3 away
    assert (got - expected).abs().max() < 1e-4 < (fp32 - expected).abs().max()
    assert (wrapped - expected).abs().max() < 1e-4
