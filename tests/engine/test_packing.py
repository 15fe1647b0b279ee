"""Packing keeps rows apart: packed logits equal unpacked ones, and the check fails when rows could see each
other; runs pack by default where the model's attention allows it, and say so."""
from __future__ import annotations

import json

import pytest

from fttui.engine.data import packing
from fttui.errors import ConfigError
from fttui.planning.packing import pack_lengths, packing_stats

ROWS = [[5, 17, 3, 99, 42, 8, 11], [7, 7, 21, 64], [301, 2, 88, 13, 5]]


def _model(attention: str = "sdpa", seed: int = 0):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=512, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
                         attn_implementation=attention)
    return LlamaForCausalLM(config).eval()


def _packed_batch(mode: str):
    """ROWS packed two sequences to a row as TRL's pack_dataset lays them out, through fttui's collator."""
    examples = [{"input_ids": ROWS[0] + ROWS[1], "labels": ROWS[0] + ROWS[1], "seq_lengths": [7, 4]},
                {"input_ids": ROWS[2], "labels": ROWS[2], "seq_lengths": [5]}]
    return packing.PackedCollator(pad_token_id=0, mode=mode)(examples)


def _unpacked_logits(model):
    import torch

    with torch.no_grad():
        return [model(input_ids=torch.tensor([row])).logits[0] for row in ROWS]


@pytest.mark.parametrize("attention", ["sdpa", "eager"])
def test_packed_logits_equal_unpacked(attention):
    import torch

    model = _model(attention)
    alone = _unpacked_logits(model)
    batch = _packed_batch(packing.ROWS)
    assert "attention_mask" not in batch and batch["use_cache"] is False
    assert batch["position_ids"].tolist() == [[0, 1, 2, 3, 4, 5, 6, 0, 1, 2, 3], [0, 1, 2, 3, 4, 0, 0, 0, 0, 0, 0]]
    # The second row's first token would be predicted from the first row's last one: no loss there.
    assert batch["labels"][0, 7].item() == -100 and batch["labels"][0, 8].item() == 7
    with torch.no_grad():
        logits = model(**{key: value for key, value in batch.items() if key != "labels"}).logits
    torch.testing.assert_close(logits[0, :7], alone[0], atol=1e-5, rtol=0)
    torch.testing.assert_close(logits[0, 7:11], alone[1], atol=1e-5, rtol=0)
    torch.testing.assert_close(logits[1, :5], alone[2], atol=1e-5, rtol=0)


def test_the_check_fails_when_packed_rows_can_see_each_other():
    """The same packed row with an all-ones attention mask (what a padding collator adds) lets the second
    sequence attend to the first: its logits move, and the comparison above would catch it."""
    import torch

    model = _model()
    alone = _unpacked_logits(model)
    batch = _packed_batch(packing.ROWS)
    with torch.no_grad():
        leaky = model(input_ids=batch["input_ids"], position_ids=batch["position_ids"], use_cache=False,
                      attention_mask=torch.ones_like(batch["input_ids"])).logits
    torch.testing.assert_close(leaky[0, :7], alone[0], atol=1e-5, rtol=0)  # the first row sees nothing before it
    assert (leaky[0, 7:11] - alone[1]).abs().max().item() > 1e-3


def test_flattened_batches_for_flash_attention_carry_sequence_boundaries():
    batch = _packed_batch(packing.FLAT)
    assert batch["input_ids"].shape == (1, 16)
    assert batch["position_ids"][0].tolist() == [0, 1, 2, 3, 4, 5, 6, 0, 1, 2, 3, 0, 1, 2, 3, 4]
    assert batch["cu_seq_lens_q"].tolist() == [0, 7, 11, 16]


def test_attention_that_ignores_position_ids_is_not_packed(monkeypatch):
    model = _model()
    assert packing.keeps_rows_apart(model)[0] == packing.ROWS
    model.config._attn_implementation = "flash_attention_2"
    assert packing.keeps_rows_apart(model)[0] == packing.FLAT
    model.config._attn_implementation = "paged|sdpa"
    mode, why = packing.keeps_rows_apart(model)
    assert mode is None and "position ids" in why


def _config(tmp_path, method="lora", setting="auto"):
    from fttui.config import validate_config

    data = tmp_path / "chat.jsonl"
    data.write_text(json.dumps({"messages": [{"role": "user", "content": "hi"},
                                             {"role": "assistant", "content": "hello"}]}) + "\n")
    return validate_config({"model": {"name": "x", "task": "causal-lm"}, "data": {"train": str(data)},
                            "method": {"name": method}, "training": {"packing": setting}})


def test_auto_skips_prompt_methods_and_true_refuses_them(tmp_path):
    model = _model()
    assert packing.decide(_config(tmp_path), "causal-lm", model).mode == packing.ROWS
    assert packing.decide(_config(tmp_path, setting=False), "causal-lm", model).mode is None
    assert packing.decide(_config(tmp_path), "seq-cls", model).mode is None
    skipped = packing.decide(_config(tmp_path, "prefix"), "causal-lm", model)
    assert skipped.mode is None and "virtual tokens" in skipped.reason
    with pytest.raises(ConfigError, match="packed rows would see each other"):
        packing.decide(_config(tmp_path, "prompt", setting=True), "causal-lm", model)


def test_best_fit_decreasing_fills_sequences_and_counts_padding():
    assert sorted(pack_lengths([5, 3, 2, 4, 1], 8)) == [7, 8]
    assert pack_lengths([20, 3], 8) == [8, 3]  # a row longer than a sequence is clipped, as training clips it
    stats = packing_stats([10, 100, 10, 100], max_length=128, batch_size=2)
    # Unpacked: batches (10, 100) and (10, 100) pad to 104 tokens (a multiple of 8), 208 positions each: 196 of 416
    # are padding.
    assert stats.padding_unpacked == pytest.approx(196 / 416)
    # Packed (best fit puts both short rows with the first long one): sequences of 120 and 100 tokens.
    assert sorted(pack_lengths([10, 100, 10, 100], 128)) == [100, 120]
    # 4 rows in 2 sequences: a step of 2 rows takes 1 sequence.
    assert stats.sequences == 2 and stats.batch_sequences == 1 and stats.tokens_per_batch == 110
    assert stats.padding_packed == 0.0


def _trained_positions(dataset, collator, batch_size: int) -> int:
    """Tokens that carry loss after the causal shift, over one pass of ``dataset``."""
    total = 0
    for start in range(0, len(dataset), batch_size):
        batch = collator([dataset[i] for i in range(start, min(start + batch_size, len(dataset)))])
        total += int((batch["labels"][:, 1:] != -100).sum())
    return total


def test_a_run_packs_by_default_and_trains_on_every_reply_token(tmp_path, tiny_llama):
    from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

    from fttui.engine.training.recipe import run
    from fttui.engine.sink import ListSink
    from fttui.events import Logged

    from test_sft_train import chat_rows, config_for

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    sink = ListSink()
    config = config_for(tiny_llama, chat_rows(tmp_path / "chat.jsonl", count=40, long_every=7), run_dir,
                        max_steps=None, epochs=1)
    outcome = run(config, run_dir, sink)
    summary = json.loads((run_dir / "summary.json").read_text())
    assert outcome.status == "completed" and summary["packing"] == packing.ROWS
    packed = outcome.trainer.train_dataset
    assert summary["packed_sequences"] == len(packed) < summary["train_rows"]
    # batch_size counts rows: a step takes the packed sequences that hold about 4 rows
    per_step = max(1, round(4 / (summary["train_rows"] / len(packed))))
    assert outcome.trainer.args.per_device_train_batch_size == per_step < 4
    assert summary["global_step"] == -(-len(packed) // per_step)
    assert any(isinstance(e, Logged) and e.message.startswith("packing: ") for e in sink.events)
    # Every trained token of the unpacked rows is trained once packed: none lost at the row boundaries.
    from fttui.engine.data.dataset import prepare_data
    from fttui.engine.models.loading import load_tokenizer, resolve_model

    tokenizer = load_tokenizer(resolve_model(tiny_llama), config)
    rows = prepare_data(config, "causal-lm", tokenizer).train
    unpacked = DataCollatorForLanguageModeling(pad_token_id=tokenizer.pad_token_id)
    assert _trained_positions(packed, packing.PackedCollator(tokenizer.pad_token_id, packing.ROWS), 4) \
        == _trained_positions(rows, unpacked, 4) > 0


def test_the_wizard_preview_shows_tokens_per_packed_batch_and_the_padding_saved(tmp_path, tiny_llama):
    from fttui.config import validate_config
    from fttui.engine.data.preview import preview
    from fttui.tui.screens.dataset import render_preview

    rows = [{"messages": [{"role": "user", "content": "why " * (1 + 30 * (i % 4 == 0))},
                          {"role": "assistant", "content": "because"}]} for i in range(16)]
    path = tmp_path / "chat.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    config = validate_config({"model": {"name": tiny_llama, "task": "causal-lm"},
                              "data": {"train": str(path), "eval": None},
                              "training": {"max_length": 64, "batch_size": 4}})
    shown = preview(config)
    assert shown.packed_sequences is not None and shown.packed_sequences < 16
    assert shown.padding_packed < shown.padding_unpacked
    assert f"in {shown.packed_sequences} sequences" in render_preview(shown).plain
    off = preview(config.model_copy(update={"training": config.training.model_copy(update={"packing": False})}))
    assert off.packed_sequences is None and "packing" not in render_preview(off).plain
