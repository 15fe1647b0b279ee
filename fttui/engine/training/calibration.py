"""Every run is a calibration point: the planner's memory estimate recorded next to the measured peak.

On GPU the measured figure is the CUDA allocator's peak. On CPU the process's peak resident set
(``peak_memory_mb``) also holds Python, torch, the tokenized data and library pages faulted in along the
way, none of which the estimate describes. So a sampler thread follows the process's *anonymous* memory
(resident minus file-backed, from ``/proc/self/statm``) during training, and ``memory_measured_mb`` is its
peak above the level just before the model was loaded, plus the resident pages of the memory-mapped weight
files (transformers maps safetensors, so frozen weights stay file-backed): the memory training needs.
"""
from __future__ import annotations

import os
import threading

from fttui.config import RunConfig

PAGE_MB = os.sysconf("SC_PAGE_SIZE") / 2**20 if hasattr(os, "sysconf") else 4096 / 2**20


def anonymous_mb() -> float | None:
    """Resident anonymous memory of this process (Linux); None where /proc is not available."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            fields = statm.read().split()
        return (int(fields[1]) - int(fields[2])) * PAGE_MB
    except (OSError, IndexError, ValueError):
        return None


def available_mb() -> float | None:
    """Memory the system could give this process now (psutil's ``available``: free plus reclaimable cache)."""
    try:
        import psutil

        return psutil.virtual_memory().available / 2**20
    except (ImportError, OSError, RuntimeError):  # no figure: the fit check then trusts out-of-memory alone
        return None


WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth")


def mapped_weights_mb(smaps: str = "/proc/self/smaps") -> float:
    """Resident pages of memory-mapped weight files that are still the file's (not copied on write).

    transformers maps safetensors checkpoints instead of copying them, so frozen weights never become
    anonymous memory; they are RAM the run needs all the same. Weights a run updates are copied on their
    first write and from then on count as anonymous memory, so they are not counted twice.
    """
    total_kb, weights = 0, False
    try:
        with open(smaps, encoding="utf-8", errors="replace") as handle:
            for line in handle:
                head = line.split(None, 1)[0]
                if not head.endswith(":"):  # a mapping's header line: "start-end perms offset dev inode [path]"
                    fields = line.split()
                    weights = len(fields) >= 6 and fields[-1].endswith(WEIGHT_SUFFIXES)
                elif weights and head == "Rss:":
                    total_kb += int(line.split()[1])
                elif weights and head == "Anonymous:":
                    total_kb -= int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return 0.0
    return total_kb / 1024


class AnonymousPeak:
    """Samples anonymous memory every few milliseconds between ``start`` and ``stop``; keeps the peak.

    ``since``: measure from another sampler's baseline (taken before the model was loaded), so the figure
    holds the weights as the CUDA allocator's peak does, and not only what freed heap could not absorb.
    """

    def __init__(self, interval_s: float = 0.005, since: AnonymousPeak | None = None):
        self.interval_s = interval_s
        if since is None:
            self.baseline, self.mapped_baseline = anonymous_mb(), mapped_weights_mb()
            self.available_mb = available_mb()  # what the run could use: free before the model was loaded
        else:
            self.baseline, self.mapped_baseline = since.baseline, since.mapped_baseline
            self.available_mb = since.available_mb
        self.peak = self.baseline  # what is held from the start on is seen by the samples, stop's last one included
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="fttui-memory-sampler", daemon=True)

    def start(self) -> AnonymousPeak:
        if self.baseline is not None:
            self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._done.wait(self.interval_s):
            value = anonymous_mb()
            if value is not None and value > self.peak:
                self.peak = value

    def stop(self) -> float | None:
        """MB training needed: anonymous memory above the baseline at the peak, plus the mapped weights.

        Weights a run updates are copied on their first write, so by the end they count as anonymous memory
        and no longer as mapped: reading the mapped pages once, at the end, counts every weight once.
        None where it cannot be measured.
        """
        self._done.set()
        if self._thread.is_alive():
            self._thread.join()
        if self.baseline is None:
            return None
        last = anonymous_mb()  # work shorter than the first interval (a fit check's two tiny steps) is still seen
        if last is not None and last > self.peak:
            self.peak = last
        return self.peak - self.baseline + max(mapped_weights_mb() - self.mapped_baseline, 0.0)


def longest_example(dataset) -> int:
    """Tokens in the longest training example: dynamic padding makes the longest batch the peak."""
    return max((len(ids) for ids in dataset["input_ids"]), default=1)


def memory_record(model, config: RunConfig, task: str, device: str, precision: str, seq_len: int,
                  peak_mb: float, cpu_training_mb: float | None) -> dict:
    """Summary keys: the planner's estimate for this run (total and breakdown, MB), the measured peak, their error.

    The estimate comes from ``planning.estimate_run``, as the wizard's and ``fttui recommend``'s do; the
    engine adds only what it measured: the device, whether it has bf16 (the placement chose ``precision``
    with ``planning.resolve_precision`` from that fact), the longest example and the number of labels.
    ``task`` is what ``planning.trainable_task`` resolved at the start (the loaded model's config may name
    another head).
    """
    from fttui.planning import Compute, estimate_run, shape_from_config

    try:
        shape = shape_from_config(model.config.to_dict(), source=config.model.name)
        estimate = estimate_run(config, shape, Compute(device, bf16=precision == "bf16"), seq_len=seq_len, task=task,
                                num_labels=getattr(model.config, "num_labels", None) if task == "seq-cls" else None)
    except Exception as error:  # an architecture the planner does not know must never fail a finished run
        return {"memory_estimate_error": f"no estimate: {error}"}
    estimate_mb = estimate.total_gb * 1024
    measured = cpu_training_mb if device == "cpu" else peak_mb
    return {
        "memory_estimate_mb": round(estimate_mb, 1),
        "memory_estimate_breakdown_mb": {k: round(v * 1024, 1) for k, v in estimate.breakdown.items()},
        "memory_measured_mb": round(measured, 1) if measured is not None else None,
        "estimate_error": round((estimate_mb - measured) / measured, 4) if measured else None,
        "estimate_seq_len": seq_len,  # the longest example's tokens
        "estimate_padded_len": estimate.settings.get("seq_len", seq_len),  # what its batch is padded to, estimated
    }
