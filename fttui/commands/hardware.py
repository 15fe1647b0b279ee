"""``fttui hardware``: what this machine can train with, as a table or JSON (GPUs, CPU, RAM, free disk)."""
from __future__ import annotations

import argparse
import json


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "hardware", help="show GPUs, CPU, RAM and free disk",
        description="Show the GPUs (through NVML), CPU, RAM and free disk space fttui would train with.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n  fttui hardware\n  fttui hardware --json",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON on stdout")
    parser.add_argument("--path", metavar="DIR", help="report free disk space here (default: runs/ or the cwd)")


def run(args) -> int:
    from fttui.hardware import detect

    report = detect(getattr(args, "path", None))
    if getattr(args, "json", False):
        print(json.dumps(report.to_dict(), indent=2))
        return 0
    render(report)
    return 0


def render(report, console=None) -> None:
    from rich.table import Table

    from fttui.runner.console import make_console

    console = console or make_console()
    if report.gpus:
        table = Table(title="GPUs", title_justify="left")
        for column in ("#", "name", "memory total", "free", "used", "compute", "bf16", "util"):
            table.add_column(column, justify="right" if column not in ("name",) else "left")
        for g in report.gpus:
            table.add_row(str(g.index), g.name, f"{g.memory_total_gb:.1f} GB", f"{g.memory_free_gb:.1f} GB",
                          f"{g.memory_used_gb:.1f} GB", g.compute_capability or "?", "yes" if g.bf16 else "no",
                          "?" if g.utilization_percent is None else f"{g.utilization_percent}%")
        console.print(table)
        console.print(f"driver {report.driver_version or '?'}, CUDA {report.cuda_version or '?'}")
    else:
        console.print(f"[bold]No NVIDIA GPU[/bold] ({report.gpu_error}): training runs on the CPU.")
    cpu = report.cpu
    machine = Table(title="Machine", title_justify="left", show_header=False)
    machine.add_column("what", style="bold")
    machine.add_column("value")
    cores = f"{cpu.physical_cores or '?'} physical / {cpu.logical_cores or '?'} logical cores"
    machine.add_row("CPU", f"{cpu.model}, {cores}")
    machine.add_row("CPU features", ", ".join(cpu.features) or "none of avx2/avx512/amx")
    machine.add_row("CPU bf16", "yes (bf16 training is fast)" if cpu.bf16 else "no (CPU training uses fp32)")
    machine.add_row("RAM", f"{report.ram_available_gb:.1f} GB available of {report.ram_total_gb:.1f} GB")
    free = "?" if report.disk_free_gb is None else f"{report.disk_free_gb:.1f} GB"
    machine.add_row("disk", f"{free} free at {report.disk_path}")
    machine.add_row("OS", report.os)
    console.print(machine)
