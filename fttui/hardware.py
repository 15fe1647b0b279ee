"""What this machine can train with: NVIDIA GPUs through NVML, CPU, RAM and disk; never torch, never an exception.

NVML (nvidia-ml-py's ``pynvml``) answers without initialising CUDA, so ``fttui hardware`` is fast and safe to
call from the UI process. No driver, no library, no GPU: the report simply lists none and says why.
"""
from __future__ import annotations

import os
import platform
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

GB = 2**30
CPU_FEATURES = ("avx2", "avx512f", "avx512_bf16", "amx_tile", "amx_bf16")


@dataclass
class GpuInfo:
    index: int
    name: str
    memory_total_gb: float
    memory_free_gb: float
    memory_used_gb: float
    compute_capability: str | None  # "8.6"
    bf16: bool  # Ampere (8.0) and newer
    utilization_percent: int | None


@dataclass
class CpuInfo:
    model: str
    physical_cores: int | None
    logical_cores: int | None
    features: list[str]  # the training-relevant subset of the CPU flags
    bf16: bool  # native bf16 math (AVX512-BF16, AMX or Arm BF16)


@dataclass
class HardwareReport:
    gpus: list[GpuInfo]
    driver_version: str | None
    cuda_version: str | None
    gpu_error: str | None  # why no GPU is listed, when none is
    cpu: CpuInfo
    ram_total_gb: float
    ram_available_gb: float
    disk_path: str
    disk_free_gb: float | None
    os: str = field(default_factory=lambda: f"{platform.system()} {platform.release()}")

    @property
    def has_gpu(self) -> bool:
        return bool(self.gpus)

    def to_dict(self) -> dict:
        return asdict(self)


def detect(disk_path: str | os.PathLike | None = None) -> HardwareReport:
    """A full report; ``disk_path`` is where runs are written (default ``runs/`` if present, else the cwd)."""
    gpus, driver, cuda, error = detect_gpus()
    try:
        import psutil

        memory = psutil.virtual_memory()
        ram_total, ram_available = memory.total / GB, memory.available / GB
    except Exception:  # psutil missing or a restricted /proc: report what we can
        ram_total = ram_available = 0.0
    where = _existing(Path(disk_path) if disk_path else (Path("runs") if Path("runs").is_dir() else Path.cwd()))
    try:
        free = round(shutil.disk_usage(where).free / GB, 2)
    except OSError:
        free = None
    return HardwareReport(gpus=gpus, driver_version=driver, cuda_version=cuda, gpu_error=error, cpu=detect_cpu(),
                          ram_total_gb=round(ram_total, 2), ram_available_gb=round(ram_available, 2),
                          disk_path=str(where), disk_free_gb=free)


def detect_gpus() -> tuple[list[GpuInfo], str | None, str | None, str | None]:
    """(gpus, driver version, CUDA version, error): every failure of NVML becomes an error string."""
    try:
        import pynvml
    except ImportError:
        return [], None, None, "nvidia-ml-py is not installed"
    try:
        pynvml.nvmlInit()
    except (pynvml.NVMLError, OSError) as error:
        return [], None, None, f"NVML unavailable: {error}"
    try:
        driver = _text(pynvml.nvmlSystemGetDriverVersion())
        cuda = _cuda_version(pynvml)
        gpus = [_gpu(pynvml, i) for i in range(pynvml.nvmlDeviceGetCount())]
        return gpus, driver, cuda, None if gpus else "NVML found no NVIDIA GPU"
    except (pynvml.NVMLError, OSError) as error:
        return [], None, None, f"NVML query failed: {error}"
    finally:
        try:
            pynvml.nvmlShutdown()
        except Exception:
            pass


def _gpu(pynvml, index: int) -> GpuInfo:
    handle = pynvml.nvmlDeviceGetHandleByIndex(index)
    memory = pynvml.nvmlDeviceGetMemoryInfo(handle)
    try:
        major, minor = pynvml.nvmlDeviceGetCudaComputeCapability(handle)
        capability, bf16 = f"{major}.{minor}", major >= 8
    except pynvml.NVMLError:
        capability, bf16 = None, False
    try:
        utilization = int(pynvml.nvmlDeviceGetUtilizationRates(handle).gpu)
    except pynvml.NVMLError:  # not supported on some boards (e.g. MIG slices)
        utilization = None
    return GpuInfo(index=index, name=_text(pynvml.nvmlDeviceGetName(handle)),
                   memory_total_gb=round(memory.total / GB, 2), memory_free_gb=round(memory.free / GB, 2),
                   memory_used_gb=round(memory.used / GB, 2), compute_capability=capability, bf16=bf16,
                   utilization_percent=utilization)


def _cuda_version(pynvml) -> str | None:
    try:
        version = int(pynvml.nvmlSystemGetCudaDriverVersion())  # e.g. 12040
    except (pynvml.NVMLError, AttributeError):
        return None
    return f"{version // 1000}.{version % 1000 // 10}"


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def detect_cpu(cpuinfo: str | None = None) -> CpuInfo:
    """Model name and precision-relevant flags from /proc/cpuinfo (``platform`` elsewhere)."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text(errors="replace")
        except OSError:
            cpuinfo = ""
    model, flags = "", set()
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        key = key.strip().lower()
        if key in ("model name", "hardware", "cpu model") and not model:
            model = value.strip()
        elif key in ("flags", "features") and not flags:
            flags = set(value.split())
    model = model or platform.processor() or platform.machine() or "unknown CPU"
    features = [f for f in CPU_FEATURES if f in flags]
    arm_bf16 = "bf16" in flags and platform.machine().lower() in ("aarch64", "arm64")
    try:
        import psutil

        physical, logical = psutil.cpu_count(logical=False), psutil.cpu_count(logical=True)
    except Exception:
        physical, logical = None, os.cpu_count()
    return CpuInfo(model=model, physical_cores=physical, logical_cores=logical, features=features,
                   bf16=bool({"avx512_bf16", "amx_bf16"} & flags) or arm_bf16)


def _existing(path: Path) -> Path:
    """The path itself or its nearest existing parent (runs/ may not exist yet)."""
    path = path.expanduser().absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path
