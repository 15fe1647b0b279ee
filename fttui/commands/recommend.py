"""``fttui recommend``: which fine-tuning methods fit a model on this (or another) machine, best first."""
from __future__ import annotations

import argparse
import json

EPILOG = """examples:
  fttui recommend                                    the built-in MiniLM on this machine
  fttui recommend --model meta-llama/Meta-Llama-3-8B --gpu-memory 24
  fttui recommend --model ./my-model --gpus 4 --gpu-memory 80 --seq-len 4096 --json
estimates are GB = GiB (as nvidia-smi shows) and include CUDA context and allocator overhead"""
ABSOLUTE_POSITIONS = ("bert", "roberta", "gpt2")
# Upper bounds far past any real machine or model: beyond them an estimate is noise, or inf/NaN in --json.
FLAG_LIMITS = {"seq_len": 10_000_000, "batch_size": 1_000_000, "gpus": 4096, "lora_r": 1024, "gpu_memory": 4096}


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "recommend", help="rank fine-tuning methods by what fits in memory",
        description="Estimate the memory every fine-tuning method needs for a model and rank what fits.",
        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EPILOG,
    )
    p.add_argument("--model", default="builtin", help="hub id, local model folder, config.json, or 'builtin'")
    p.add_argument("--revision", help="hub branch, tag or commit (hub ids only)")
    p.add_argument("--task", choices=("auto", "causal-lm", "seq-cls"), default="auto",
                   help="what the model is trained for (default: seq-cls for encoders, causal-lm otherwise)")
    p.add_argument("--seq-len", type=int, help="tokens per example (default: 512, or the model's context if shorter)")
    p.add_argument("--batch-size", type=int, help="examples per step (default: the largest power of two that fits)")
    p.add_argument("--gpu-memory", type=float, metavar="GB", help="plan for GPUs with this much memory each")
    p.add_argument("--gpus", type=int, metavar="N", help="plan for N GPUs (default: the GPUs found, or 1)")
    p.add_argument("--lora-r", type=int, default=8, help="LoRA rank (default 8)")
    p.add_argument("--lora-targets", metavar="A,B", help="LoRA target modules, or all-linear (default: per family)")
    p.add_argument("--gradient-checkpointing", action=argparse.BooleanOptionalAction, default=None,
                   help="force gradient checkpointing on or off (default: used only when it buys a 4x batch)")
    p.add_argument("--precision", choices=("auto", "fp32", "bf16", "fp16"), default="auto",
                   help="compute precision (default: bf16 where supported, else fp16 on GPU / fp32 on CPU)")
    p.add_argument("--optimizer", choices=("adamw", "adamw-8bit", "paged-adamw", "paged-adamw-8bit"),
                   default="adamw", help="optimizer whose states are counted (default adamw)")
    p.add_argument("--runs-dir", default="runs", metavar="DIR",
                   help="earlier runs whose measured CPU step times replace the estimate (default runs/)")
    p.add_argument("--json", action="store_true", help="print JSON on stdout instead of a table")


def run(args) -> int:
    from fttui.errors import ConfigError
    from fttui.planning import Settings, load_shape
    from fttui.planning.recommend import budget_from_hardware, measured_cpu_seconds, rank

    for flag, limit in FLAG_LIMITS.items():
        value = getattr(args, flag)
        if value is not None and not 0 < value <= limit:  # NaN fails every comparison, so it lands here too
            name = "--" + flag.replace("_", "-")
            unit = " GB" if flag == "gpu_memory" else ""
            raise ConfigError(f"{name} must be greater than 0 and at most {limit:,}{unit}, got {value}",
                              f"e.g. {name} {_example(flag)}")
    shape = load_shape(args.model, args.revision)
    context = shape.context_length
    seq_len = args.seq_len or min(512, context or 512)
    notes = list(shape.warnings)
    if context and seq_len > context:
        message = f"--seq-len {seq_len} is longer than {shape.source}'s context of {context} tokens"
        if shape.family in ABSOLUTE_POSITIONS:
            raise ConfigError(message, f"use --seq-len {context} or less")
        notes.append(message + "; the model may need RoPE scaling")
    report = None
    if args.gpu_memory is None:
        from fttui.hardware import detect

        report = detect()
    budget = budget_from_hardware(report, args.gpu_memory, args.gpus)
    if args.gpus and budget.device == "cpu":
        raise ConfigError(f"--gpus {args.gpus}: no NVIDIA GPU found on this machine",
                          "add --gpu-memory GB to plan for a machine with GPUs")
    precision = args.precision
    if precision == "auto":
        if budget.device == "cpu":
            precision = "bf16" if report is not None and report.cpu.bf16 else "fp32"
        else:
            precision = "bf16" if report is None or all(g.bf16 for g in report.gpus) else "fp16"
    targets = tuple(t for t in (args.lora_targets or "").split(",") if t.strip()) or None
    settings = Settings(task=args.task, seq_len=seq_len, precision=precision, lora_r=args.lora_r,
                        lora_targets=targets, optimizer=args.optimizer, device=budget.device,
                        base_fp32=budget.device == "cpu")  # fttui trains on CPU with an fp32 base
    shape.resolve_targets(targets)  # a wrong target name is a usage error before any estimate
    measured = measured_cpu_seconds(args.runs_dir, args.model) if budget.device == "cpu" else {}
    result = rank(shape, budget, settings, batch_size=args.batch_size,
                  gradient_checkpointing=args.gradient_checkpointing, cpu=report.cpu if report else None,
                  measured_seconds=measured)
    result.notes = notes + result.notes
    if args.json:
        print(json.dumps(_as_json(shape, settings, result), indent=2))
    else:
        _render(shape, settings, result)
    return 0


def _example(flag: str) -> str:
    return {"seq_len": "512", "batch_size": "8", "gpus": "2", "lora_r": "16", "gpu_memory": "24"}[flag]


def _as_json(shape, settings, result) -> dict:
    from dataclasses import asdict

    from fttui.planning import resolve_task

    model = {k: v for k, v in shape.to_dict().items() if k not in ("warnings",)}
    plan = {k: v for k, v in asdict(settings).items() if k not in ("method", "batch_size", "gradient_checkpointing")}
    plan["task"] = resolve_task(shape, settings.task)
    plan["lora_targets"] = list(shape.resolve_targets(settings.lora_targets))
    return {"model": model, "settings": plan, **result.to_dict(), "warnings": list(shape.warnings)}


def _render(shape, settings, result) -> None:
    from rich.table import Table

    from fttui.planning import resolve_task
    from fttui.runner.console import make_console

    console = make_console()
    b = result.budget
    where = (f"{b.count} x {b.memory_gb:.1f} GB GPU" if b.device == "cuda" else f"CPU, {b.memory_gb:.1f} GB RAM")
    console.print(f"[bold]{shape.source}[/bold]: {shape.family}, {shape.total_params / 1e6:,.1f}M parameters, "
                  f"{shape.num_layers} layers, hidden {shape.hidden_size}, vocab {shape.vocab_size:,}, "
                  f"context {shape.context_length or '?'}")
    console.print(f"plan: {resolve_task(shape, settings.task)}, {settings.seq_len} tokens, {settings.precision}, "
                  f"LoRA r={settings.lora_r} on {','.join(shape.resolve_targets(settings.lora_targets))}"
                  f"{'' if settings.lora_targets else ' (QLoRA: every linear layer)'}; "
                  f"budget {where} ({b.source})")
    table = Table(show_lines=False)
    for column in ("method", "fits", "GB", "batch", "trainable", "why"):
        table.add_column(column, justify="right" if column in ("GB", "batch", "trainable") else "left",
                         overflow="fold")
    marks = {(True, True): "[green]yes[/green]", (True, False): "[yellow]tight[/yellow]"}
    for p in result.methods:
        mark = marks.get((p.fits, p.headroom), "[red]no[/red]") if p.applicable else "[dim]n/a[/dim]"
        reason = p.reason.split(": ", 1)[-1] + (f"; {p.multi_gpu}" if p.multi_gpu else "")
        table.add_row(p.label, mark, f"{p.estimated_gb:.1f}", str(p.batch_size), _count(p.trainable_params), reason)
    console.print(table)
    if result.recommended:
        best = next(p for p in result.methods if p.method == result.recommended)
        console.print(f"[bold]recommended:[/bold] {best.reason}")
    else:
        console.print("[bold red]nothing fits[/bold red]: try a smaller --seq-len, a smaller model, or more GPUs")
    for note in result.notes:
        console.print(f"note: {note}")


def _count(n: int) -> str:
    return f"{n / 1e9:.2f}B" if n >= 1e9 else f"{n / 1e6:.1f}M" if n >= 1e5 else f"{n:,}"
