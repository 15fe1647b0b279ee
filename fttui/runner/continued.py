"""``model.name`` naming a finished run folder: a new run starts from what that run trained.

Torch-free, so the planner, ``fttui recommend``, the pre-start checks and the engine read a run folder the same
way: a full fine-tune's ``model/`` is a model folder as it is; an adapter run stands for its base with the
adapter merged in (the engine merges it, ``fttui.engine.models.from_run``), whose shape is the base's.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fttui.errors import ConfigError
from fttui.runner.lock import TRAINING
from fttui.runner.run_folder import CONFIG_FILE, RunFolder, shown_path

FINISHED = ("completed", "stopped")  # both saved their final adapter/ or model/
UNMERGEABLE = ("adapter",)  # bottleneck adapters add layers no weight matrix absorbs (engine.trained.export says why)


@dataclass(frozen=True)
class StartingRun:
    """The finished run a new one starts from."""

    folder: RunFolder
    output: Path  # its model/ (full model) or adapter/
    method: str
    base: str  # the run's own model.name: a hub id, a model folder, builtin, or another run folder
    task: str | None

    @property
    def whole(self) -> bool:
        """A full model (full, freeze, bitfit...): loaded as it is, nothing to merge."""
        return self.output.name == "model"

    def record(self) -> dict:
        """What the new run's summary keeps under ``started_from``."""
        return {"run": str(self.folder.path.resolve()), "output": str(self.output.resolve()), "method": self.method,
                "base_model": self.base}


def is_run_folder(name: str) -> bool:
    """A folder fttui made for a run (its config.yaml) rather than a model folder (config.json)."""
    path = Path(name or "").expanduser()
    return path.is_dir() and (path / CONFIG_FILE).is_file() and not (path / "config.json").is_file()


def starting_run(name: str) -> StartingRun | None:
    """The run ``name`` names, or None when it names no run folder; a ConfigError for one no run can start from
    (still training, not finished, or trained a method that cannot be merged into the weights)."""
    if not is_run_folder(name):
        return None
    folder = RunFolder(Path(name).expanduser())
    shown = shown_path(folder.path)
    busy = folder.holder()
    if busy is not None and busy.purpose in TRAINING:
        raise ConfigError(f"model.name: the run {shown} is still {busy.describe()}",
                          "wait until it finishes (follow it on the Runs screen or with: fttui runs), then start from it")
    info = folder.read()
    if info.status not in FINISHED or info.output is None:
        raise ConfigError(f"model.name: the run {shown} has not finished ({info.status}): it saved no "
                          "adapter/ or model/ to start from",
                          f"finish it first (fttui --resume {shown}), or pick a finished run (fttui runs)")
    from fttui.config.schema import PROMPT_METHODS

    base = str(folder.section("model").get("name") or "")
    if info.method in PROMPT_METHODS or info.method in UNMERGEABLE:
        raise ConfigError(f"model.name: the run {shown} trained {info.method}, which cannot be merged into the "
                          "model's weights, so a new run cannot start from it",
                          f"continue it with the same method (c on the Runs screen), or start from its base: "
                          f"model.name={base}")
    return StartingRun(folder, info.output, info.method, base, folder.task)


def shape_reference(name: str) -> str:
    """What to read the model's config.json from: ``name`` itself, a full run's ``model/``, or an adapter run's
    base (merging changes no shape), followed through runs started from runs."""
    seen: set[Path] = set()
    while (run := starting_run(name)) is not None and not run.whole:
        if run.folder.path.resolve() in seen:
            raise ConfigError(f"model.name: the run {name} starts from itself", "point model.name at a model")
        seen.add(run.folder.path.resolve())
        name = run.base
    return str(run.output) if run is not None else name
