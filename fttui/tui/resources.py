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
