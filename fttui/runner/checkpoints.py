"""Checkpoints a resume can trust: verified without torch, and with the config they were trained with.

A checkpoint killed mid-save, or cut short by a full disk, must never be loaded blindly: the Trainer would fail
with a library message that names no file ("Expecting property name ... (char 808)"). ``last_intact_checkpoint``
reads only headers and directories (no unpickling, no tensor data), so the TUI can call it to draw a run too.
"""
from __future__ import annotations

import json
import struct
import zipfile
from pathlib import Path

CHECKPOINTS = "checkpoints"
STATE_FILE = "trainer_state.json"
CONFIG_COPY = "fttui_config.yaml"  # the run's resolved config as it was when this checkpoint was saved
MAX_SAFETENSORS_HEADER = 100 * 1024 * 1024  # the format's own limit
WEIGHTS = ("*.safetensors", "pytorch_model*.bin", "adapter_model.bin", "*.gguf")

# Config keys that may differ between a checkpoint and the run resuming from it. Every other key (method.*,
# model.*, data.*, the optimizer's settings, batch shape, seed, the distributed layout) either changes the
# model's shape or the optimizer's parameter set, so the state does not load, or silently changes what the
# rest of the run means.
RESUMABLE_CHANGES = (
    "training.epochs", "training.max_steps",  # train longer or shorter: what `continue` changes
    "training.logging_steps", "training.eval_steps", "training.save_steps", "training.save_total_limit",
    "training.early_stopping_patience", "training.overfitting_patience", "training.baseline_eval",
    "training.sample_prompts", "training.max_new_tokens", "training.eval_batch_size", "training.report_to",
    # the same weights and optimizer state load on another device, in another precision, with recomputation
    "training.device", "training.precision", "training.gradient_checkpointing", "training.oom_retry",
    "training.fit_check",
    "output.name", "output.runs_dir", "output.dir",  # a resume writes into its own folder regardless
)


def step_of(path: Path) -> int | None:
    suffix = path.name.rsplit("-", 1)[-1]
    return int(suffix) if path.name.startswith("checkpoint-") and suffix.isdigit() else None


def last_intact_checkpoint(run_dir: str | Path) -> tuple[Path | None, list[tuple[Path, str]]]:
    """The newest checkpoint that passes ``damage``, and the newer ones skipped with their reasons."""
    found = sorted(((step_of(p), p) for p in (Path(run_dir) / CHECKPOINTS).glob("checkpoint-*")
                    if step_of(p) is not None and p.is_dir()), reverse=True)
    skipped: list[tuple[Path, str]] = []
    for _, path in found:
        reason = damage(path)
        if reason is None:
            return path, skipped
        skipped.append((path, reason))
    return None, skipped


def damage(checkpoint: Path) -> str | None:
    """What is wrong with a checkpoint folder ("optimizer.pt: truncated"), or None when it looks whole."""
    if not (checkpoint / STATE_FILE).is_file():
        return f"no {STATE_FILE} (its save did not finish)"
    return damage_saved(checkpoint)


def damage_saved(folder: Path) -> str | None:
    """What is wrong with a folder of weights (a run's ``adapter/`` or ``model/``, an export), or None.

    Export, eval and Try it check a run's saved folder with this before loading or copying it, and export checks
    what it wrote before it replaces the previous export: a truncated file is never handed on.
    """
    try:
        files = sorted(p for p in folder.rglob("*") if p.is_file())
        shards = [p for p in folder.iterdir() if p.is_dir() and p.name.startswith("pytorch_model_fsdp")]
    except OSError as error:
        return f"unreadable ({error.strerror})"
    if not any(next(folder.glob(pattern), None) for pattern in WEIGHTS) and not shards:
        return "no model or adapter weights"
    for path in files:
        check = CHECKS.get(path.suffix)
        if check is None:
            continue
        try:
            problem = check(path)
        except OSError as error:
            problem = f"unreadable ({error.strerror})"
        if problem:
            return f"{path.relative_to(folder)}: {problem}"
    index = next(folder.glob("*.safetensors.index.json"), None)
    if index is not None:
        missing = sorted(set(json.loads(index.read_text(encoding="utf-8")).get("weight_map", {}).values())
                         - {p.name for p in files})
        if missing:
            return f"{index.name}: names missing shard {missing[0]}"
    return None


def _json(path: Path) -> str | None:
    try:
        json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        return "not UTF-8 text"
    except json.JSONDecodeError as error:
        return f"truncated or not JSON ({error.msg} at char {error.pos})"
    return None


def _safetensors(path: Path) -> str | None:
    """The 8-byte header length, the JSON header, and the size its largest data offset implies."""
    size = path.stat().st_size
    with open(path, "rb") as handle:
        head = handle.read(8)
        if len(head) < 8:
            return "truncated (no header)"
        (length,) = struct.unpack("<Q", head)
        if length > MAX_SAFETENSORS_HEADER or 8 + length > size:
            return "truncated or not safetensors (bad header length)"
        try:
            header = json.loads(handle.read(length))
        except (UnicodeDecodeError, json.JSONDecodeError):
            return "damaged header"
    if not isinstance(header, dict):
        return "damaged header"
    try:
        end = max((int(entry["data_offsets"][1]) for key, entry in header.items() if key != "__metadata__"),
                  default=0)
    except (KeyError, IndexError, TypeError, ValueError):
        return "damaged header"
    expected = 8 + length + end
    if size < expected:
        return f"truncated ({size} of {expected} bytes)"
    if size > expected:
        return f"{size - expected} bytes after the last tensor"
    return None


def _torch_zip(path: Path) -> str | None:
    """A torch.save file is a zip: its central directory reads and every member lies inside the file."""
    size = path.stat().st_size
    if size == 0:
        return "empty"
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except zipfile.BadZipFile:
        return "truncated or not a torch file (no zip directory)"
    if not members:
        return "empty archive"
    if any(m.header_offset + m.compress_size > size for m in members):
        return "truncated"
    return None


def _gguf(path: Path) -> str | None:
    """The magic and a known version: the export reads the whole file back, this only catches a cut-off one."""
    with open(path, "rb") as handle:
        head = handle.read(8)
    if len(head) < 8 or head[:4] != b"GGUF":
        return "not a GGUF file (no GGUF magic)"
    version = struct.unpack("<I", head[4:])[0]
    return None if version in (2, 3) else f"unknown GGUF version {version}"


CHECKS = {".json": _json, ".safetensors": _safetensors, ".pt": _torch_zip, ".pth": _torch_zip, ".bin": _torch_zip,
          ".gguf": _gguf}


def check_saved(run_dir: Path, folder: Path, max_steps: int | None = None, epochs: float | None = None) -> None:
    """Refuse a damaged ``adapter/`` or ``model/`` (TrainingError, exit 4): the run's own output is broken.

    The hint names the newest intact checkpoint and the resume that trains (or re-saves) from it; the run's own
    length is set again because a completed run resumed without ``--set`` is a no-op.
    """
    from fttui.errors import TrainingError

    problem = damage_saved(folder)
    if problem is None:
        return
    checkpoint, _ = last_intact_checkpoint(run_dir)
    if checkpoint is None:
        hint = (f"no intact checkpoint is left to save it again from: train the run again with "
                f"fttui --preset {Path(run_dir) / 'config.yaml'} --output-dir NEW_DIR")
    else:
        length = f"training.max_steps={max_steps}" if max_steps else f"training.epochs={epochs:g}" if epochs else ""
        hint = (f"{checkpoint.name} is intact: fttui --resume {run_dir}" + (f" --set {length}" if length else "")
                + f" goes on from it and saves {folder.name}/ again")
    raise TrainingError(f"{folder} is damaged ({problem})", hint)


def describe_skipped(skipped: list[tuple[Path, str]], used: Path | None) -> list[str]:
    """One line per skipped checkpoint, for ``Logged`` warnings and the TUI."""
    then = f"resuming from {used.name}" if used is not None else "no intact checkpoint is left"
    return [f"{path.name} is damaged ({reason}); {then}" for path, reason in skipped]


def _flat(tree, prefix: str = "") -> dict:
    if not isinstance(tree, dict):
        return {prefix: tree}
    flat: dict = {}
    for key, value in tree.items():
        flat.update(_flat(value, f"{prefix}{key}.") if isinstance(value, dict) else {f"{prefix}{key}": value})
    return flat


def config_changes(checkpoint: Path, current: dict) -> list[tuple[str, object, object]]:
    """(key, checkpoint's value, current value) for each key a resume must not change; [] without a copy.

    ``current`` is the resolved config as a plain dict (``RunConfig.model_dump(mode="json")``). The copy is
    validated the same way so keys added to the schema since it was written compare as their defaults.
    """
    from fttui.config import validate_config
    from fttui.config.safe_yaml import loads

    copy = checkpoint / CONFIG_COPY
    if not copy.is_file():
        return []  # saved before fttui kept a copy: nothing to compare against
    try:
        raw = loads(copy.read_text(encoding="utf-8")) or {}
    except Exception:  # an unreadable copy must not block a resume that may well be fine
        return []
    try:
        saved, validated = validate_config(raw, str(copy)).model_dump(mode="json"), True
    except Exception:  # a data file moved since, say: compare the keys both have, as written
        saved, validated = raw, False
    old, new = _flat(saved), _flat(current)
    keys = [k for k in dict.fromkeys([*old, *new]) if validated or (k in old and k in new)]
    if _same_examples_per_step(old, new):  # the batch split differently (engine.training.oom): the same steps and data
        keys = [k for k in keys if k not in SPLIT_KEYS]
    return [(k, old.get(k), new.get(k)) for k in keys
            if old.get(k) != new.get(k) and k not in RESUMABLE_CHANGES]


SPLIT_KEYS = ("training.batch_size", "training.gradient_accumulation")


def _same_examples_per_step(old: dict, new: dict) -> bool:
    try:
        product = lambda flat: int(flat[SPLIT_KEYS[0]]) * int(flat[SPLIT_KEYS[1]])  # noqa: E731
        return product(old) == product(new)
    except (KeyError, TypeError, ValueError):
        return False


def check_resume_config(run_dir: Path, current: dict) -> None:
    """Refuse a resume whose config changed in a way the checkpoint cannot load (ConfigError, exit 2)."""
    from fttui.errors import ConfigError

    checkpoint, _ = last_intact_checkpoint(run_dir)
    changes = config_changes(checkpoint, current) if checkpoint is not None else []
    if not changes:
        return
    shown = "; ".join(f"{key}: {old!r} -> {new!r}" for key, old, new in changes[:5])
    more = f" (and {len(changes) - 5} more)" if len(changes) > 5 else ""
    raise ConfigError(
        f"{Path(run_dir) / 'config.yaml'} (with any --set) differs from the config {checkpoint.name} was trained "
        f"with: {shown}{more}",
        f"put those keys back to resume, or start a new run with them: fttui --preset {Path(run_dir) / 'config.yaml'}"
        " --output-dir NEW_DIR (a resume may change only epochs, max_steps, the logging/eval/save steps, device "
        "and precision: fttui --resume RUN --set training.epochs=N trains a run for longer)")
