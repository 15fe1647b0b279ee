"""training.group_by_length: batches of rows of similar length, so far less padding is computed (issue 18)."""
from __future__ import annotations

import json
import random

from fttui.config import validate_config
from fttui.engine.training.recipe import run
from fttui.engine.sink import ListSink


def padding_share(trainer) -> float:
    """Of the tokens the batches of one epoch hold, the share that is padding."""
    padded = real = 0
    for batch in trainer.get_train_dataloader():
        mask = batch["attention_mask"]
        padded += mask.numel()
        real += int(mask.sum())
    return 1 - real / padded


def test_grouped_batches_pad_far_less_and_train_the_same_rows(tmp_path, tiny_bert):
    rng = random.Random(0)
    words = "good bad fine awful great poor nice dull".split()
    rows = [{"text": " ".join(rng.choice(words) for _ in range(rng.choice([2, 3, 30, 60]))),
             "label": rng.choice(["pos", "neg"])} for _ in range(800)]
    train = tmp_path / "train.jsonl"
    train.write_text("".join(json.dumps(row) + "\n" for row in rows))
    shares = {}
    for grouped in (True, False):
        folder = tmp_path / f"grouped-{grouped}"
        folder.mkdir()
        config = validate_config({
            "model": {"name": tiny_bert, "task": "seq-cls"}, "data": {"train": str(train), "eval": None},
            "training": {"max_steps": 1, "batch_size": 8, "max_length": 64, "group_by_length": grouped,
                         "precision": "fp32"}})
        trainer = run(config, folder, ListSink()).trainer
        assert type(trainer._get_train_sampler()).__name__ == ("ShuffledLengthBatches" if grouped else "RandomSampler")
        assert sum(len(b["input_ids"]) for b in trainer.get_train_dataloader()) == 800  # every row, once
        shares[grouped] = padding_share(trainer)
    assert shares[True] < 0.5 * shares[False], shares


def test_the_groups_come_in_a_shuffled_order_not_longest_to_shortest():
    """transformers' sampler runs each megabatch from its longest rows to its shortest; ours shuffles the groups,
    keeps the longest first (an out-of-memory shows at once) and a short remainder last (no batch cut in two)."""
    import torch

    from fttui.engine.training.length_batches import grouped_indices

    lengths = [random.Random(i).randint(2, 120) for i in range(1000)]
    torch.manual_seed(0)
    order = grouped_indices(lengths, 16)
    assert sorted(order) == list(range(1000))  # every row once
    groups = [order[i:i + 16] for i in range(0, 1000, 16)]
    assert len(groups[-1]) == 1000 % 16 and max(lengths[i] for i in groups[0]) == max(lengths)
    full = groups[:-1]
    spread = [max(lengths[i] for i in g) - min(lengths[i] for i in g) for g in full]
    assert sorted(spread)[len(spread) // 2] <= 10  # similar lengths (16 random rows of 2-120 tokens: about 100)
    longest = [max(lengths[i] for i in g) for g in full]
    falls = sum(a > b for a, b in zip(longest, longest[1:]))
    assert 0.3 < falls / (len(longest) - 1) < 0.7  # neither sorted (1.0 in each megabatch) nor reversed
    torch.manual_seed(0)
    assert grouped_indices(lengths, 16) == order  # the global generator decides: a resumed run sees the same order
