"""Batches of rows of similar length, in a shuffled order (``training.group_by_length``).

transformers' ``LengthGroupedSampler`` sorts each megabatch (the rows of up to 50 optimizer steps) longest first
and keeps that order, so every stretch of an epoch runs from its longest rows to its shortest, and the epoch ends
on the shortest: a curriculum nobody asked for. Here the batches are made the same way (rows of similar length,
so as little padding), then their order is shuffled; the batch with the longest row stays first, so an
out-of-memory shows at the first step, and a short remainder stays last, so no batch is cut in two.
Lengths come from the Arrow columns (``engine.data.lengths``), not from reading every row in Python.
"""
from __future__ import annotations

import functools

import torch
from torch.utils.data import Sampler

from fttui.engine.data.lengths import row_lengths

MEGABATCH_STEPS = 50  # rows of up to this many steps are sorted together, as transformers does


def grouped_indices(lengths: list[int], group_size: int) -> list[int]:
    """Every index once: groups of ``group_size`` rows of similar length, the groups in a random order.

    Random draws come from torch's global generator, as the Trainer's own samplers', so that a resumed run (the
    Trainer restores that generator) goes through its epoch in the same order.
    """
    count = len(lengths)
    span = max(min(count // (group_size * 4), MEGABATCH_STEPS), 1) * group_size
    order = torch.randperm(count).tolist()
    groups: list[list[int]] = []
    for start in range(0, count, span):
        megabatch = sorted(order[start:start + span], key=lengths.__getitem__, reverse=True)
        groups += [megabatch[i:i + group_size] for i in range(0, len(megabatch), group_size)]
    remainder = groups.pop() if groups and len(groups[-1]) < group_size else None
    groups = [groups[i] for i in torch.randperm(len(groups)).tolist()]
    if groups:
        longest = max(range(len(groups)), key=lambda i: lengths[groups[i][0]])
        groups[0], groups[longest] = groups[longest], groups[0]
    if remainder:
        groups.append(remainder)
    return [index for group in groups for index in group]


class ShuffledLengthBatches(Sampler):
    def __init__(self, lengths: list[int], group_size: int):
        self.lengths, self.group_size = lengths, group_size

    def __len__(self) -> int:
        return len(self.lengths)

    def __iter__(self):
        return iter(grouped_indices(self.lengths, self.group_size))


class LengthBatches:
    """Trainer mixin: ``train_sampling_strategy="group_by_length"`` gets ShuffledLengthBatches, over the rows of one
    optimizer step on all ranks: every rank draws the same order and takes its micro-batches from it, so N ranks
    train on the very batches one process with N times the batch would (transformers groups one rank's rows)."""

    def _get_train_sampler(self, train_dataset=None):
        dataset = train_dataset if train_dataset is not None else self.train_dataset
        if self.args.train_sampling_strategy != "group_by_length" or not hasattr(dataset, "column_names"):
            return super()._get_train_sampler(train_dataset)
        args = self.args
        return ShuffledLengthBatches(row_lengths(dataset),
                                     args.train_batch_size * args.gradient_accumulation_steps * max(args.world_size, 1))


@functools.cache
def with_length_batches(trainer_class: type) -> type:
    """``trainer_class`` whose length-grouped batches come in a shuffled order (a subclass, made once)."""
    return type(trainer_class.__name__, (LengthBatches, trainer_class), {"__module__": __name__})
