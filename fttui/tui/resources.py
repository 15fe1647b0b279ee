"""Memory a training worker uses right now: GPU memory through NVML when it has a GPU, else process RSS.

Called from a timer every second or so; it must be cheap and must never raise.
"""
from __future__ import annotations

MB = 2**20


def _tree(pid: int):
    import psutil

    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return []


def rss_mb(pid: int) -> float | None:
    """Resident memory of the worker and its children (data-loader processes), in MiB."""
    import psutil

    total, seen = 0, False
    for proc in _tree(pid):
        try:
            total += proc.memory_info().rss
            seen = True
        except psutil.Error:
            continue
    return total / MB if seen else None


_nvml_ok: bool | None = None


def gpu_mb(pid: int) -> float | None:
    """GPU memory the worker's processes hold across all GPUs, in MiB; None without NVML or GPU use."""
    global _nvml_ok
    if _nvml_ok is False:
        return None
    try:
        import pynvml

        if _nvml_ok is None:
            pynvml.nvmlInit()
            _nvml_ok = True
        pids = {p.pid for p in _tree(pid)}
        used = 0
        for index in range(pynvml.nvmlDeviceGetCount()):
            handle = pynvml.nvmlDeviceGetHandleByIndex(index)
            for proc in pynvml.nvmlDeviceGetComputeRunningProcesses(handle):
                if proc.pid in pids and proc.usedGpuMemory:
                    used += proc.usedGpuMemory
        return used / MB if used else None
    except Exception:
        _nvml_ok = False
        return None


def memory_text(pid: int | None) -> str:
    """"GPU 3.1 GB, RAM 1.2 GB" or "RAM 812 MB"; a dash when the process is gone or unknown."""
    if not pid:
        return "-"
    parts = []
    gpu = gpu_mb(pid)
    if gpu:
        parts.append(f"GPU {_fmt(gpu)}")
    ram = rss_mb(pid)
    if ram:
        parts.append(f"RAM {_fmt(ram)}")
    return ", ".join(parts) or "-"


def _fmt(mb: float) -> str:
    return f"{mb / 1024:.1f} GB" if mb >= 1024 else f"{mb:.0f} MB"


def contended(others_cores: float, busy_cores: float, cores: int) -> bool:
    """Other processes compete with the worker: the CPUs it may use are (nearly) all busy, and at least half a
    core of that is not the worker's nor the UI's. Only then does a raised niceness slow training."""
    return others_cores >= 0.5 and busy_cores >= 0.9 * cores


class PriorityWatch:
    """Whether the worker runs at a lower priority than the UI while other processes want the same CPUs.

    Each ``note()`` compares two readings of the CPUs' and the processes' CPU time (a few counters from /proc;
    the Train screen calls it every few seconds); the first reading only sets the baseline.
    """

    def __init__(self, pid: int):
        self.pid = pid
        self.last: tuple[float, float, float] | None = None

    def _reading(self, cpus: list[int]) -> tuple[float, float, float]:
        import time

        import psutil

        per_cpu = psutil.cpu_times(percpu=True)
        busy = sum(t.user + t.nice + t.system + getattr(t, "irq", 0.0) + getattr(t, "softirq", 0.0)
                   for i, t in enumerate(per_cpu) if i in cpus)
        ours = 0.0
        for proc in [*_tree(self.pid), psutil.Process()]:
            try:
                times = proc.cpu_times()
                ours += times.user + times.system
            except psutil.Error:
                continue
        return time.monotonic(), busy, ours

    def niceness(self) -> int:
        """How much nicer the worker is than this process (0 when unknown)."""
        import psutil

        try:
            return psutil.Process(self.pid).nice() - psutil.Process().nice()
        except (psutil.Error, OSError):
            return 0

    def note(self) -> str:
        """The line the Train screen shows, or "" (never raises)."""
        import os

        try:
            niceness = self.niceness()
            cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else list(range(os.cpu_count() or 1))
            now = self._reading(cpus)
        except Exception:
            return ""
        before, self.last = self.last, now
        if niceness <= 0 or before is None or now[0] <= before[0]:
            return ""
        seconds = now[0] - before[0]
        busy, ours = (now[1] - before[1]) / seconds, (now[2] - before[2]) / seconds
        if not contended(busy - ours, busy, len(cpus)):
            return ""
        return (f"other processes are busy on these CPUs: training runs at lower priority so the UI stays "
                f"responsive (ui.worker_niceness={niceness}; 0 to turn off)")
