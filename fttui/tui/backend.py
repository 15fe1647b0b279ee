"""The one place the TUI talks to hardware, planning and the runner, so API changes there are fixed here only.

Everything here is torch-free; training, previews and dry runs start child processes through
``fttui.runner.launch``. Tests swap :class:`Backend` for one whose launches return fake supervisors.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from fttui.config import RunConfig

# planning method -> (config method name, extra method fields); others are not trainable by fttui yet
TRAINABLE = {
    "full": ("full", {}),
    "lora": ("lora", {}),
    "qlora": ("qlora", {"quant_bits": 4}),
    "qlora-8bit": ("qlora", {"quant_bits": 8}),
    "prompt": ("prompt", {}),
    "dora": ("dora", {}),
    "adapter": ("adapter", {}),
    "freeze": ("freeze", {}),
    "ia3": ("ia3", {}),
    "prefix": ("prefix", {}),
    "ptuning": ("ptuning", {}),
    "bitfit": ("bitfit", {}),
}


def planning_name(method: str, quant_bits: int = 4) -> str:
    """The planning row a config method corresponds to (qlora with 8 bits is its own row)."""
    return "qlora-8bit" if method == "qlora" and quant_bits == 8 else method


@dataclass
class Warning_:
    text: str
    level: str = "warning"  # warning | error | info


def hardware_report(disk_path: str | None = None):
    from fttui.hardware import detect

    return detect(disk_path)


def hardware_warnings(report) -> list[Warning_]:
    """What a user should know before choosing a method: no GPU, no usable bitsandbytes, little disk."""
    import importlib.util

    notes: list[Warning_] = []
    if not report.gpus:
        notes.append(Warning_(f"No NVIDIA GPU ({report.gpu_error or 'none found'}): training runs on the CPU, "
                              "which is fine for small models and slow for large ones."))
    if importlib.util.find_spec("bitsandbytes") is None:
        notes.append(Warning_("bitsandbytes is not installed: QLoRA (4/8-bit) is unavailable.", "error"))
    elif not report.gpus:
        notes.append(Warning_("bitsandbytes runs QLoRA on the CPU, but slowly: prefer LoRA here.", "info"))
    if report.disk_free_gb is not None and report.disk_free_gb < 10:
        level = "error" if report.disk_free_gb < 2 else "warning"
        notes.append(Warning_(f"Only {report.disk_free_gb:.1f} GB free at {report.disk_path}: checkpoints of "
                              "large models may not fit.", level))
    if report.ram_total_gb and report.ram_available_gb < 4:
        notes.append(Warning_(f"Only {report.ram_available_gb:.1f} GB RAM available.", "warning"))
    return notes


def load_shape(name: str, revision: str | None = None):
    """The model's shape from its config (no weights); raises FttuiError with a plain message when offline."""
    from fttui.planning import load_shape as _load

    return _load(name, revision)


def infer_task(shape) -> str:
    """What ``task: auto`` will resolve to, the way the engine reads it from the architecture."""
    arch = shape.architecture or ""
    if arch.endswith(("ForCausalLM", "LMHeadModel")) or (not arch and shape.kind == "decoder"):
        return "causal-lm"
    return "seq-cls"


def recommend(shape, report, config_raw: dict):
    """Every method ranked for this model on this machine, using the draft's length and precision."""
    from fttui.planning import Settings
    from fttui.planning.recommend import budget_from_hardware, rank

    training = config_raw.get("training", {})
    budget = budget_from_hardware(report)
    precision = training.get("precision", "auto")
    if precision == "auto":
        if budget.device == "cpu":
            precision = "bf16" if report is not None and report.cpu.bf16 else "fp32"
        else:
            precision = "bf16" if all(g.bf16 for g in report.gpus) else "fp16"
    seq_len = int(training.get("max_length") or 256)
    if shape.context_length:
        seq_len = min(seq_len, shape.context_length)
    task = config_raw.get("model", {}).get("task", "auto")
    method = config_raw.get("method", {})
    targets = method.get("lora_targets")
    try:
        shape.resolve_targets(targets)
    except Exception:  # a bad target is flagged on the hyperparameters step; plan with the default
        targets = None
    settings = Settings(task=task, seq_len=seq_len, precision=precision, lora_r=int(method.get("lora_r") or 8),
                        lora_targets=tuple(targets) if targets else None, device=budget.device)
    return rank(shape, budget, settings, cpu=report.cpu if report is not None else None,
                train_rows=count_rows(config_raw.get("data", {}).get("train")))


COUNTED_SUFFIXES = (".jsonl", ".ndjson", ".txt", ".csv", ".tsv")
COUNT_LIMIT_BYTES = 64 * 1024 * 1024  # past this a file holds plenty of rows: the small-data rule does not apply


def count_rows(reference: str | None) -> int | None:
    """Training rows in a local line-per-row file (a header line off for CSV/TSV), or None when not cheap to know."""
    if not reference:
        return None
    path = Path(reference).expanduser()
    if path.suffix.lower() not in COUNTED_SUFFIXES or not path.is_file():
        return None
    try:
        if path.stat().st_size > COUNT_LIMIT_BYTES:
            return None
        data = path.read_bytes()
    except OSError:
        return None
    rows = sum(1 for line in data.split(b"\n") if line.strip())
    return max(rows - 1, 0) if path.suffix.lower() in (".csv", ".tsv") else rows


def estimate_config(config: RunConfig, shape, report) -> tuple[float, float, str] | None:
    """(estimated GB, available GB, unit) for the resolved config, or None without a model shape."""
    if shape is None:
        return None
    from fttui.planning import Settings, estimate
    from fttui.planning.recommend import budget_from_hardware

    budget = budget_from_hardware(report)
    t, m = config.training, config.method
    precision = t.precision
    if precision == "auto":
        precision = ("bf16" if report is not None and report.cpu.bf16 else "fp32") if budget.device == "cpu" else "bf16"
    try:
        settings = Settings(method=planning_name(m.name, m.quant_bits), task=config.model.task, batch_size=t.batch_size,
                            seq_len=min(t.max_length, shape.context_length or t.max_length), precision=precision, gradient_checkpointing=t.gradient_checkpointing,
                            lora_r=m.lora_r, lora_targets=tuple(m.lora_targets) if m.lora_targets else None,
                            lora_dropout=m.lora_dropout, double_quant=m.double_quant,
                            num_virtual_tokens=m.num_virtual_tokens,
                            num_labels=len(config.data.labels) if config.data.labels else 2, device=budget.device)
        result = estimate(shape, settings)
    except Exception:
        return None
    return result.total_gb, budget.memory_gb, "RAM" if budget.device == "cpu" else "per GPU"


@dataclass
class Backend:
    """Starts child processes; the app holds one, tests give it a fake."""

    started: list = field(default_factory=list)

    def start_run(self, config: RunConfig):
        from fttui.runner.launch import start_run

        run_dir, supervisor = start_run(config)
        self.started.append(supervisor)
        return run_dir, supervisor

    def start_preview(self, config: RunConfig):
        from fttui.runner.launch import start_scratch

        supervisor = start_scratch(config, "preview")
        self.started.append(supervisor)
        return supervisor

    def resume_run(self, run_dir: Path, overrides: list[str] | None = None):
        """Resume a stopped run, or continue a finished one (overrides such as ``training.epochs=N``)."""
        from fttui.runner.launch import resume_run

        supervisor = resume_run(Path(run_dir), overrides)
        self.started.append(supervisor)
        return supervisor

    def start_export(self, run_dir: Path, out: Path, merge: bool, dtype: str):
        """``fttui export`` in a worker that reports its stages; ends with an Exported or Failed event."""
        from fttui.runner.jobs import start_export

        supervisor = start_export(Path(run_dir), Path(out), merge, dtype)
        lower_priority(supervisor)
        return supervisor

    def start_try(self, run_dir: Path):
        """The resident "try it" worker of a finished run (answers arrive as TryAnswered events)."""
        from fttui.runner.jobs import start_try

        return start_try(Path(run_dir))


WORKER_NICENESS = 10


def lower_priority(supervisor) -> None:
    """Let the UI win the CPU from training on a busy machine: the worker's niceness goes up by 10.

    Training loses nothing when the UI is idle (niceness only matters under contention); a key press
    no longer waits behind two saturated cores.
    """
    pid = getattr(getattr(supervisor, "process", None), "pid", None)
    if not pid:
        return
    try:
        import psutil

        process = psutil.Process(pid)
        process.nice(min(process.nice() + WORKER_NICENESS, 19))
    except Exception:  # not permitted or already gone: responsiveness degrades, nothing breaks
        pass
