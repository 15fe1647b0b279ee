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
        assert type(trainer._get_train_sampler()).__name__ == ("LengthGroupedSampler" if grouped else "RandomSampler")
        assert sum(len(b["input_ids"]) for b in trainer.get_train_dataloader()) == 800  # every row, once
        shares[grouped] = padding_share(trainer)
    assert shares[True] < 0.5 * shares[False], shares
