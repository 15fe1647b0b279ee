"""What packing buys, from row lengths alone (torch-free: the wizard's preview and the engine's log both say it).

Packing fills each sequence of ``max_length`` tokens with whole rows, best fit decreasing (as TRL's ``bfd``
strategy does), so a batch computes almost no padding. Unpacked, every batch pads to its longest row (rounded up to a
multiple of 8, ``planning.inputs.pad_multiple``).
"""
from __future__ import annotations

import bisect
import random
from dataclasses import dataclass

from fttui.config.schema import PROMPT_METHODS
from fttui.planning.inputs import padded_length


def settings_rule_out(config, task: str) -> str | None:
    """Why a run's own settings leave packing out, before any model is loaded (the wizard's preview and the
    engine ask the same); None: packing is wanted, and the model's attention decides (engine.data.packing)."""
    t = config.training
    if t.objective != "sft":
        return f"{t.objective} pairs are not packed"
    if task != "causal-lm":
        return "classification is not packed"
    if t.packing is False:
        return "training.packing is off"
    if config.method.name in PROMPT_METHODS:
        return f"method {config.method.name} prepends virtual tokens to every sequence"
    return None


def sequences_per_step(batch_size: int, rows_per_sequence: float) -> int:
    """training.batch_size counts rows: packed, a step takes about as many sequences as hold that many rows,
    so it learns from as many examples as unpacked (the same steps per epoch and schedule), minus the padding."""
    return max(1, round(batch_size / max(rows_per_sequence, 1.0)))


@dataclass(frozen=True)
class PackingStats:
    rows: int
    sequences: int  # packed sequences of at most max_length tokens
    tokens: int  # real tokens in all rows
    batch_sequences: int  # packed sequences a step of batch_size rows takes
    tokens_per_batch: float  # real tokens in such a step, on average
    padding_unpacked: float  # share of computed positions that are padding, batches padded to their longest row
    padding_packed: float  # the same, packed (sequences of a batch padded to the longest sequence)

    def describe(self, batch_size: int) -> str:
        return (f"packing: {self.rows:,} rows in {self.sequences:,} sequences; a step of {batch_size} rows takes "
                f"{self.batch_sequences} (~{self.tokens_per_batch:,.0f} tokens); padding {self.padding_unpacked:.0%} "
                f"unpacked -> {self.padding_packed:.0%} packed")


def pack_lengths(lengths: list[int], max_length: int) -> list[int]:
    """Lengths of the packed sequences: longest row first, each into the open sequence it fills best."""
    spaces: list[tuple[int, int]] = []  # (space left, sequence index), sorted
    packed: list[int] = []
    for length in sorted((min(n, max_length) for n in lengths if n > 0), reverse=True):
        at = bisect.bisect_left(spaces, (length, -1))
        if at < len(spaces):
            space, index = spaces.pop(at)
        else:
            space, index = max_length, len(packed)
            packed.append(0)
        packed[index] += length
        if space - length > 0:
            bisect.insort(spaces, (space - length, index))
    return packed


def _padding(batches: list[list[int]], max_length: int | None = None) -> float:
    """Share of computed positions that are padding; with ``max_length``, batches pad as the collators pad them
    (their longest row rounded up to ``planning.inputs.pad_multiple``); packed sequences are not rounded."""
    computed = sum((padded_length(max(batch), max_length) if max_length else max(batch)) * len(batch)
                   for batch in batches if batch)
    return 1 - sum(map(sum, batches)) / computed if computed else 0.0


def _batches(lengths: list[int], batch_size: int) -> list[list[int]]:
    return [lengths[i:i + batch_size] for i in range(0, len(lengths), batch_size)]


def packing_stats(lengths: list[int], max_length: int, batch_size: int) -> PackingStats:
    """``lengths`` in data order (unpacked batches are taken in that order, as a shuffled epoch would)."""
    clipped = [min(n, max_length) for n in lengths if n > 0]
    packed = pack_lengths(clipped, max_length)
    per_step = sequences_per_step(batch_size, len(clipped) / max(len(packed), 1))
    shuffled = packed[:]  # the sampler draws packed sequences at random, not longest first
    random.Random(0).shuffle(shuffled)
    batches = _batches(shuffled, per_step)
    return PackingStats(
        rows=len(clipped), sequences=len(packed), tokens=sum(clipped), batch_sequences=per_step,
        tokens_per_batch=sum(clipped) / max(len(batches), 1),
        padding_unpacked=_padding(_batches(clipped, batch_size), max_length), padding_packed=_padding(batches),
    )
