"""Every cheap check before a run or a dry run, reported together: local problems first, then what the hub
would have to provide while it cannot be reached. Fixing one problem should never reveal the next one
30 s later. No torch, and no network beyond one ~2 s probe, made only when a hub id is named at all.
"""
from __future__ import annotations

import csv
import json
import os
from pathlib import Path

from fttui.builtin_models import is_builtin, is_smollm2, smollm2_problem
from fttui.config import RunConfig
from fttui.errors import ConfigError, DataError, FttuiError, NetworkError
from fttui.runner.distributed import RankLayout, launch_problems
from fttui.runner.preflight import DATA_SUFFIXES, preflight

PEEK_JSON_BYTES = 8 * 1024 * 1024  # a JSON array larger than this is left to the engine to read
TEXT_COLUMNS = ("text", "sentence", "content", "review", "document")  # as fttui.engine.data.formats detects them
LABEL_COLUMNS = ("label", "labels", "sentiment", "class", "category", "target")


def check_before_start(config: RunConfig, launch: RankLayout | None = None, output_dir: str | None = None,
                       new_folder: bool = True) -> None:
    """Raise one error naming every problem found, each on its own line; return quietly when there is none.

    ``new_folder=False`` (a resume) skips the check that the output folder is new or empty.
    """
    problems = local_problems(config, launch or RankLayout(), output_dir, new_folder)
    problems += hub_problems(config)
    if problems:
        note = bundled_note(config) if any(isinstance(p, NetworkError) for p in problems) else None
        raise combine(problems, note)


def combine(problems: list[FttuiError], note: str | None = None) -> FttuiError:
    """One problem as it is; several as one error of their common kind (else a ConfigError), one per line."""
    unique = list({p.message: p for p in problems}.values())
    if len(unique) == 1:
        only = unique[0]
        return type(only)(only.message, "\n".join(filter(None, [only.hint, note])) or None)
    lines = [f"{len(unique)} problems, found before anything was loaded:"]
    for p in unique:
        lines.append(f"  - {p.message}" + (f"\n    -> {p.hint}" if p.hint else ""))
    kinds = {type(p) for p in unique}
    kind = kinds.pop() if len(kinds) == 1 else ConfigError
    return kind("\n".join(lines), note or "fix each line above; --dry-run checks them all again in a second")


def _is_local(reference: str) -> bool:
    return reference.startswith((".", "/", "~")) or reference.lower().endswith(DATA_SUFFIXES) or Path(
        reference).expanduser().exists()


def local_problems(config: RunConfig, launch: RankLayout, output_dir: str | None = None,
                   new_folder: bool = True) -> list[FttuiError]:
    problems: list[FttuiError] = []
    try:
        preflight(config)  # the model folder, its weights, the DeepSpeed file, the data files
    except FttuiError as error:
        problems.append(error)
    if is_smollm2(config.model.name) and smollm2_problem() is not None:  # the optional package: exit 2, not 4
        problems.append(smollm2_problem())
    deepspeed = config.training.deepspeed_config
    if deepspeed and not Path(deepspeed).expanduser().is_file():
        problems.append(ConfigError(f"training.deepspeed_config: file not found: {deepspeed}",
                                    "give the path of a DeepSpeed JSON config (relative paths in a preset start at its folder)"))
    for key, reference in (("data.train", config.data.train), ("data.eval", config.data.eval)):
        if isinstance(reference, str) and _is_local(reference) and not Path(reference).expanduser().is_file():
            problems.append(DataError(f"{key}: file not found: {reference}",
                                      "check the path (relative paths in a preset are relative to the preset's folder)"))
    problems += launch_problems(launch, config)
    folder = (output_dir or config.output.dir) if new_folder else None
    if folder:
        path = Path(folder).expanduser()
        if path.exists() and not path.is_dir():
            problems.append(ConfigError(f"output folder {path} already exists and is not a folder",
                                        "choose a new folder with --output-dir"))
        elif path.is_dir() and any(entry.name != ".lock" for entry in path.iterdir()):
            problems.append(ConfigError(f"output folder {path} already exists and is not empty",
                                        "choose a new folder with --output-dir, or remove the old one"))
    problems += _eval_problems(config)
    return problems


def _eval_problems(config: RunConfig) -> list[FttuiError]:
    """A split name needs a hub dataset in data.train; an eval file must be in the train file's format."""
    train, held = config.data.train, config.data.eval
    if not isinstance(held, str) or not _is_local(train):
        return []
    if not _is_local(held) and "/" not in held:
        return [DataError(f"data.eval: '{held}' is a split name, which needs a hub dataset in data.train; "
                          f"data.train is the local file {train}",
                          "give an eval file (data.eval=path/eval.jsonl), a fraction of the training rows to hold "
                          "out (data.eval=0.1), or null for none")]
    train_columns, eval_columns = _first_columns(train), _first_columns(held)
    if train_columns is None or eval_columns is None:
        return []
    train_kind, eval_kind = _kind(train_columns, config), _kind(eval_columns, config)
    if train_kind != eval_kind:
        return [DataError(f"data.eval: {held} holds {eval_kind} rows, but data.train ({train}) holds {train_kind} rows",
                          "give an eval file in the training file's format, or hold out a fraction (data.eval=0.1)")]
    if train_kind == "text/label":
        wanted = [c for c in (config.data.text_column or _pick(train_columns, TEXT_COLUMNS),
                              config.data.label_column or _pick(train_columns, LABEL_COLUMNS)) if c]
        missing = [c for c in wanted if c not in eval_columns]
        if missing:
            return [DataError(f"data.eval: {held} has no {' or '.join(missing)} column, which data.train uses; "
                              f"columns found: {', '.join(eval_columns)}",
                              "rename the eval file's columns to match the training file's")]
    return []


def _pick(columns: list[str], names: tuple[str, ...]) -> str | None:
    return next((name for name in names if name in columns), None)


def _kind(columns: list[str], config: RunConfig) -> str:
    if config.data.format != "auto":
        return config.data.format
    if "messages" in columns or "conversations" in columns:
        return "chat"
    if "prompt" in columns and "completion" in columns:
        return "prompt-completion"
    if "instruction" in columns and "output" in columns:
        return "alpaca"
    return "text/label"


def _first_columns(reference: str) -> list[str] | None:
    """The first row's columns, read cheaply; None when that takes more than a peek (the engine reads it all)."""
    path = Path(reference).expanduser()
    suffix = path.suffix.lower()
    try:
        if not path.is_file():
            return None
        if suffix == ".txt":
            return ["text"]
        if suffix in (".csv", ".tsv"):
            with open(path, encoding="utf-8-sig", newline="") as handle:
                return next(csv.reader(handle, delimiter="\t" if suffix == ".tsv" else ","), None)
        if suffix in (".jsonl", ".ndjson", ".json"):
            with open(path, encoding="utf-8-sig") as handle:
                first = next((line for line in handle if line.strip()), "")
            if first.lstrip().startswith("["):
                if path.stat().st_size > PEEK_JSON_BYTES:
                    return None
                rows = json.loads(path.read_text(encoding="utf-8-sig"))
                first_row = rows[0] if isinstance(rows, list) and rows else None
            else:
                first_row = json.loads(first)
            return list(first_row) if isinstance(first_row, dict) else None
        if suffix == ".parquet":
            import pyarrow.parquet as pq

            return list(pq.read_schema(path).names)
    except (OSError, ValueError, ImportError, StopIteration):
        return None  # unreadable or malformed: the engine reports it by file and line
    return None


# ------------------------------------------------------------------------------------------ what the hub provides


def _hub_cache() -> Path:
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE)


def model_cached(repo_id: str, revision: str | None = None) -> bool:
    """config.json and some weights of ``repo_id`` are in the local hub cache (what a dry run loads)."""
    from huggingface_hub import try_to_load_from_cache

    if not isinstance(try_to_load_from_cache(repo_id, "config.json", revision=revision), str):
        return False
    weights = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "pytorch_model.bin.index.json")
    return any(isinstance(try_to_load_from_cache(repo_id, name, revision=revision), str) for name in weights)


def dataset_cached(dataset_id: str) -> bool:
    """A hub dataset that ``datasets`` could load offline: its hub snapshot or its prepared Arrow cache."""
    org_name = dataset_id.replace("/", "--")
    if (_hub_cache() / f"datasets--{org_name}").is_dir():
        return True
    home = Path(os.environ.get("HF_HOME") or Path.home() / ".cache" / "huggingface").expanduser()
    prepared = Path(os.environ.get("HF_DATASETS_CACHE") or home / "datasets").expanduser()
    return (prepared / dataset_id.replace("/", "___")).is_dir()


def hub_references(config: RunConfig) -> dict[str, tuple[str, str]]:
    """{key: (kind, id)} for everything the run would fetch from the hub: the model and hub datasets."""
    refs: dict[str, tuple[str, str]] = {}
    name = config.model.name
    if not is_builtin(name) and not _is_local(name) and name.count("/") <= 1:
        refs["model.name"] = ("model", name)
    train, held = config.data.train, config.data.eval
    if not _is_local(train):
        refs["data.train"] = ("dataset", train)
    if isinstance(held, str) and not _is_local(held) and "/" in held and held != train:
        refs["data.eval"] = ("dataset", held)
    return refs


def hub_problems(config: RunConfig) -> list[FttuiError]:
    """Offline only: each hub model or dataset that is not in the local cache, so the run could not load it."""
    refs = hub_references(config)
    if not refs:
        return []
    from fttui.offline import hub_offline

    reason = hub_offline()
    if reason is None:
        return []
    problems: list[FttuiError] = []
    for key, (kind, ref) in refs.items():
        if kind == "model" and not model_cached(ref, config.model.revision):
            problems.append(NetworkError(
                f"{key}: {ref} is not in the local hub cache ({_hub_cache()}), and the hub can't be reached ({reason})",
                f"download it once where there is a network (hf download {ref}), or set {key} to a local folder "
                "or builtin"))
        elif kind == "dataset" and not dataset_cached(ref):
            problems.append(NetworkError(
                f"{key}: hub dataset {ref} is not in the local cache, and the hub can't be reached ({reason})",
                f"load it once online, or set {key} to a local file (.jsonl, .csv, .parquet, ...)"))
    return problems


def bundled_note(config: RunConfig) -> str | None:
    """"planned from the bundled config of X, taken DATE: N parameters; METHOD about G GB ..." or None."""
    from fttui.planning import Compute, estimate_run, shape_from_config
    from fttui.planning.bundled import bundled

    entry = bundled(config.model.name)
    if entry is None:
        return None
    m, t = config.method, config.training
    device = "cpu" if t.device == "cpu" else "cuda"
    try:  # no hardware is detected here: a GPU is taken to have bf16, a CPU not
        shape = shape_from_config(entry.config(), source=config.model.name, where=str(entry.path))
        estimate = estimate_run(config, shape, Compute(device, bf16=device == "cuda"))
    except (FttuiError, ValueError, TypeError, KeyError):
        return entry.note
    return (f"{entry.note}: {estimate.total_params / 1e9:.2f}B parameters; {m.name} needs about "
            f"{estimate.total_gb:.1f} GB at batch {t.batch_size} x {t.max_length} tokens on {device} "
            f"(fttui recommend --model {config.model.name} for every method)")
