"""The one place the TUI talks to hardware, planning and the runner, so API changes there are fixed here only.

Everything here is torch-free; training, previews and dry runs start child processes through
``fttui.runner.launch``. Tests swap :class:`Services` for one whose launches return fake supervisors.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from fttui.config import RunConfig
from fttui.config.methods import SPECS

# planning row -> (config method name, the method.* values that pick the row), from the method registry
TRAINABLE = {row.key: (spec.name, dict(row.values)) for spec in SPECS for row in spec.rows}


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
    """The model's shape from its config (no weights); raises FttuiError with a plain message when offline.

    A finished run folder is read as the model it trained (``runner.continued.shape_reference``)."""
    from fttui.planning import load_shape as _load
    from fttui.runner.continued import shape_reference

    return _load(shape_reference(name), revision)


def plan_config(raw: dict) -> RunConfig:
    """The draft as a RunConfig to plan with: each section was validated by its step, so when a rule across
    sections fails (a layer_lr_decay left from another method), plan with the sections as they are."""
    from pydantic import ValidationError

    from fttui.config.schema import DataSection, MethodSection, ModelSection, OutputSection, TrainingSection

    try:
        return RunConfig.model_validate(raw)
    except ValidationError:
        sections = {"model": ModelSection, "data": DataSection, "method": MethodSection,
                    "training": TrainingSection, "output": OutputSection}
        return RunConfig.model_construct(**{name: kind.model_validate(raw.get(name) or {})
                                            for name, kind in sections.items() if name != "data"},
                                         data=DataSection.model_construct(**(raw.get("data") or {})))


def recommend(shape, report, config_raw: dict):
    """Every method ranked for this model on this machine, planned from the draft as ``fttui recommend`` plans it."""
    from dataclasses import replace

    from fttui.planning import compute_for, settings_for
    from fttui.planning.recommend import budget_from_hardware, rank

    budget = budget_from_hardware(report)
    config = plan_config(config_raw)
    settings = settings_for(config, shape, compute_for(report, budget.device))
    try:
        shape.resolve_targets(settings.lora_targets)
    except Exception:  # a bad target is flagged on the hyperparameters step; plan with the default
        settings = replace(settings, lora_targets=None)
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
    from fttui.planning import compute_for, estimate_run
    from fttui.planning.recommend import budget_from_hardware

    budget = budget_from_hardware(report)
    try:
        result = estimate_run(config, shape, compute_for(report, budget.device))
    except Exception:
        return None
    return result.total_gb, budget.memory_gb, "RAM" if budget.device == "cpu" else "per GPU"


@dataclass
class Services:
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

    def start_fit(self, config: RunConfig):
        """The measured fit check of a draft in a scratch worker: a FitChecked (or Failed) event."""
        from fttui.runner.launch import start_scratch

        supervisor = start_scratch(config, "fit")
        self.started.append(supervisor)
        lower_priority(supervisor)
        return supervisor

    def resume_run(self, run_dir: Path, overrides: list[str] | None = None):
        """Resume a stopped run, or continue a finished one (overrides such as ``training.epochs=N``)."""
        from fttui.runner.launch import resume_run

        supervisor = resume_run(Path(run_dir), overrides)
        self.started.append(supervisor)
        return supervisor

    def start_export(self, run_dir: Path, out: Path, merge: bool, dtype: str, gguf: str | None = None,
                     gguf_adapter: bool = False):
        """``fttui export`` in a worker that reports its stages; ends with an Exported or Failed event."""
        from fttui.runner.jobs import start_export

        supervisor = start_export(Path(run_dir), Path(out), merge, dtype, gguf, gguf_adapter)
        lower_priority(supervisor)
        return supervisor

    def start_try(self, run_dir: Path):
        """The resident "try it" worker of a finished run (answers arrive as TryAnswered events)."""
        from fttui.runner.jobs import start_try

        return start_try(Path(run_dir))


def worker_niceness(draft=None) -> int:
    """``ui.worker_niceness`` of the wizard's draft (set with ``fttui --set ui.worker_niceness=N``), else its default."""
    from fttui.config.schema import UiSection

    default = UiSection.model_fields["worker_niceness"].default
    return int(draft.get("ui", "worker_niceness", default)) if draft is not None else default


def lower_priority(supervisor, niceness: int | None = None) -> None:
    """Let the UI win the CPU from training on a busy machine: the worker's niceness goes up by ``niceness``
    (``ui.worker_niceness``; why its default is small: ``config.schema.UiSection``).

    Training loses nothing when the machine is otherwise idle (niceness only matters under contention); the
    Train screen says when it is being slowed.
    """
    niceness = worker_niceness() if niceness is None else niceness
    pid = getattr(getattr(supervisor, "process", None), "pid", None)
    if not pid or niceness <= 0:
        return
    try:
        import psutil

        process = psutil.Process(pid)
        process.nice(min(process.nice() + niceness, 19))
    except Exception:  # not permitted or already gone: responsiveness degrades, nothing breaks
        pass
