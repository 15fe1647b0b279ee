"""``fttui recommend``: which fine-tuning methods fit a model on this (or another) machine, best first."""
from __future__ import annotations

import argparse
import json

from fttui.planning.objectives import OBJECTIVES

EPILOG = """examples:
  fttui recommend                                    the built-in MiniLM on this machine
  fttui recommend --preset quickstart                what the quickstart's settings need, every method
  fttui recommend --model meta-llama/Meta-Llama-3-8B --gpu-memory 24
  fttui recommend --model ./my-model --gpus 4 --gpu-memory 80 --seq-len 4096 --json
  fttui recommend --preset dpo-quickstart            preference pairs: two sequences per pair + a reference pass
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
    p.add_argument("--preset", metavar="PATH", help="plan from this preset's model, method and training settings "
                   "(a YAML path or a shipped name); the flags below override it")
    p.add_argument("--set", dest="overrides", metavar="KEY=VALUE", action="append", default=[],
                   help="override a preset value, e.g. method.trainable_layers=4 (repeatable)")
    p.add_argument("--model", help="hub id, local model folder, config.json, a finished run folder, or 'builtin' "
                   "(the default)")
    p.add_argument("--revision", help="hub branch, tag or commit (hub ids only)")
    p.add_argument("--task", choices=("auto", "causal-lm", "seq-cls"),
                   help="what the model is trained for (default auto: as model.task=auto reads the config)")
    p.add_argument("--objective", choices=tuple(OBJECTIVES),
                   help="what each step trains (default: the preset's training.objective, else sft); dpo/orpo "
                        "train two sequences per pair, dpo/kto add a reference pass")
    p.add_argument("--seq-len", type=int, help="tokens per example (default: the preset's max_length, else 512; "
                   "the model's context if shorter)")
    p.add_argument("--batch-size", type=int, help="examples per step (default: the largest power of two that fits)")
    p.add_argument("--gpu-memory", type=float, metavar="GB", help="plan for GPUs with this much memory each")
    p.add_argument("--gpus", type=int, metavar="N", help="plan for N GPUs (default: the GPUs found, or 1)")
    p.add_argument("--lora-r", type=int, help="LoRA rank (default 8)")
    p.add_argument("--lora-targets", metavar="A,B", help="LoRA target modules, or all-linear (default: per family)")
    p.add_argument("--gradient-checkpointing", action=argparse.BooleanOptionalAction, default=None,
                   help="force gradient checkpointing on or off (default: used only when it buys a 4x batch)")
    p.add_argument("--precision", choices=("auto", "fp32", "bf16", "fp16"),
                   help="compute precision (default: bf16 where supported, else fp16 on GPU / fp32 on CPU)")
    p.add_argument("--optimizer", choices=("adamw", "adamw-8bit", "paged-adamw", "paged-adamw-8bit"),
                   default="adamw", help="optimizer whose states are counted (default adamw)")
    p.add_argument("--runs-dir", default="runs", metavar="DIR",
                   help="earlier runs whose measured CPU step times replace the estimate (default runs/)")
    p.add_argument("--json", action="store_true", help="print JSON on stdout instead of a table")


def run(args) -> int:
    from fttui.errors import ConfigError
    from fttui.planning import compute_for, load_shape, settings_for
    from fttui.planning.recommend import budget_from_hardware, measured_cpu_seconds, rank
    from fttui.runner.continued import shape_reference

    for flag, limit in FLAG_LIMITS.items():
        value = getattr(args, flag)
        if value is not None and not 0 < value <= limit:  # NaN fails every comparison, so it lands here too
            name = "--" + flag.replace("_", "-")
            unit = " GB" if flag == "gpu_memory" else ""
            raise ConfigError(f"{name} must be greater than 0 and at most {limit:,}{unit}, got {value}",
                              f"e.g. {name} {_example(flag)}")
    config = _config(args)
    shape = load_shape(shape_reference(config.model.name), config.model.revision)  # a run folder: what it trained
    context = shape.context_length
    seq_len = args.seq_len or min(config.training.max_length if args.preset else 512, context or 10**9)
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
    settings = settings_for(config, shape, compute_for(report, budget.device), seq_len=seq_len,
                            optimizer=args.optimizer)
    shape.resolve_targets(settings.lora_targets)  # a wrong target name is a usage error before any estimate
    notes += _untrainable(shape, config.model.task)
    measured = measured_cpu_seconds(args.runs_dir, config.model.name) if budget.device == "cpu" else {}
    result = rank(shape, budget, settings, batch_size=args.batch_size,
                  gradient_checkpointing=args.gradient_checkpointing, cpu=report.cpu if report else None,
                  measured_seconds=measured)
    result.notes = notes + result.notes
    if args.json:
        print(json.dumps(_as_json(shape, settings, result), indent=2))
    else:
        _render(shape, settings, result)
    return 0


def _config(args):
    """The run being planned: the preset (or the defaults, without one), then the flags on top."""
    from fttui.config import load_config, validate_config

    if args.preset:
        config = load_config(args.preset, args.overrides)
    elif args.overrides:
        from fttui.errors import ConfigError

        raise ConfigError("--set needs --preset", "e.g. fttui recommend --preset quickstart --set method.lora_r=16")
    else:
        config = validate_config({"model": {"name": "builtin"}, "data": {"train": NO_DATA}}, "recommend")
    raw = config.model_dump(mode="json")
    flags = {("model", "name"): args.model, ("model", "revision"): args.revision, ("model", "task"): args.task,
             ("training", "precision"): args.precision, ("training", "objective"): args.objective,
             ("method", "lora_r"): args.lora_r,
             ("method", "lora_targets"): _targets(args.lora_targets)}
    for (section, key), value in flags.items():
        if value is not None:
            raw[section][key] = value
    return validate_config(raw, "recommend flags")


NO_DATA = "(no data: fttui recommend plans the model alone)"


def _targets(flag: str | None) -> list[str] | None:
    return [t.strip() for t in flag.split(",") if t.strip()] or None if flag else None


def _untrainable(shape, task: str) -> list[str]:
    """A note when fttui could not train what is planned (encoder-decoder generation): the estimate still stands."""
    from fttui.errors import FttuiError
    from fttui.planning import trainable_task

    try:
        trainable_task(shape, task)
    except FttuiError as error:
        return [f"{error.message}; {error.hint}"]
    return []


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
