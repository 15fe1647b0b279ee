"""Hardware report: a clean CPU-only report without a GPU, NVML failures absorbed, GPU fields parsed."""
from __future__ import annotations

import json
import subprocess
import sys
from types import SimpleNamespace

import pynvml
import pytest

from fttui import hardware


def test_report_on_this_machine_never_raises():
    report = hardware.detect()
    data = json.loads(json.dumps(report.to_dict()))
    assert data["cpu"]["model"] and data["cpu"]["logical_cores"] >= 1
    assert data["ram_total_gb"] > 0 and 0 < data["ram_available_gb"] <= data["ram_total_gb"]
    assert data["disk_free_gb"] is None or data["disk_free_gb"] >= 0
    if not report.gpus:
        assert report.gpu_error and not report.has_gpu


def test_nvml_failure_gives_a_cpu_only_report(monkeypatch):
    def broken():
        raise pynvml.NVMLError(pynvml.NVML_ERROR_DRIVER_NOT_LOADED)

    monkeypatch.setattr(pynvml, "nvmlInit", broken)
    report = hardware.detect()
    assert report.gpus == [] and "NVML unavailable" in report.gpu_error
    assert report.cpu.model


def test_missing_nvml_package(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", None)  # import raises ImportError
    gpus, driver, cuda, error = hardware.detect_gpus()
    assert (gpus, driver, cuda) == ([], None, None) and "not installed" in error


def test_query_failure_after_init(monkeypatch):
    monkeypatch.setattr(pynvml, "nvmlInit", lambda: None)
    monkeypatch.setattr(pynvml, "nvmlShutdown", lambda: None)
    monkeypatch.setattr(pynvml, "nvmlSystemGetDriverVersion", lambda: (_ for _ in ()).throw(OSError("gone")))
    gpus, _, _, error = hardware.detect_gpus()
    assert gpus == [] and "query failed" in error


def test_fake_gpu_is_reported(monkeypatch):
    fake = {
        "nvmlInit": lambda: None, "nvmlShutdown": lambda: None, "nvmlDeviceGetCount": lambda: 1,
        "nvmlSystemGetDriverVersion": lambda: b"550.54", "nvmlSystemGetCudaDriverVersion": lambda: 12040,
        "nvmlDeviceGetHandleByIndex": lambda i: f"h{i}", "nvmlDeviceGetName": lambda h: "NVIDIA RTX 4090",
        "nvmlDeviceGetMemoryInfo": lambda h: SimpleNamespace(total=24 * 2**30, free=20 * 2**30, used=4 * 2**30),
        "nvmlDeviceGetCudaComputeCapability": lambda h: (8, 9),
    }
    for name, value in fake.items():
        monkeypatch.setattr(pynvml, name, value)

    def unsupported(handle):
        raise pynvml.NVMLError(pynvml.NVML_ERROR_NOT_SUPPORTED)

    monkeypatch.setattr(pynvml, "nvmlDeviceGetUtilizationRates", unsupported)
    report = hardware.detect()
    gpu = report.gpus[0]
    assert (gpu.name, gpu.memory_total_gb, gpu.memory_free_gb) == ("NVIDIA RTX 4090", 24.0, 20.0)
    assert gpu.compute_capability == "8.9"
    assert gpu.bf16 and gpu.utilization_percent is None
    assert (report.driver_version, report.cuda_version, report.gpu_error) == ("550.54", "12.4", None)


def test_cpu_flags_from_cpuinfo():
    text = "processor\t: 0\nmodel name\t: Intel Xeon\nflags\t\t: fpu sse avx2 avx512f avx512_bf16 amx_tile amx_bf16\n"
    cpu = hardware.detect_cpu(text)
    assert cpu.model == "Intel Xeon" and cpu.bf16
    assert cpu.features == ["avx2", "avx512f", "avx512_bf16", "amx_tile", "amx_bf16"]
    assert not hardware.detect_cpu("model name : Old\nflags : sse avx2\n").bf16


def test_disk_path_falls_back_to_an_existing_parent(tmp_path):
    report = hardware.detect(tmp_path / "runs" / "not-yet")
    assert report.disk_path == str(tmp_path) and report.disk_free_gb > 0


@pytest.mark.parametrize("module", ["fttui.hardware", "fttui.planning", "fttui.planning.recommend",
                                    "fttui.commands.hardware", "fttui.commands.recommend"])
def test_planning_never_imports_torch(module):
    code = f"import sys, {module}; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
