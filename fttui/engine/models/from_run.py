"""The model a run starts from when ``model.name`` is a finished run folder (``fttui.runner.continued``).

A full fine-tune's ``model/`` is loaded as it is. An adapter run is merged into its base by ``fttui export
--merge`` in an export worker (``runner.jobs``; no import of the export code here, so loading and export need
not import each other): once, in float32 (no rounding of the update), with the run's tokenizer and chat
template, into ``$FTTUI_CACHE/models/runs/<run>-<key>/``. The key follows the run folder's
path and its adapter files, so a changed adapter is merged again and the older merge removed. The source run
is only read, under a reader's claim as an export is; the cache folder can be deleted at any time.
"""
from __future__ import annotations

import fcntl
import hashlib
import shutil
from pathlib import Path

from fttui.builtin_models import cache_root
from fttui.runner.continued import StartingRun
from fttui.runner.exports import MANIFEST


def merged_folder(run: StartingRun) -> Path:
    """Where the run's merged model is kept: one folder per run folder, named for its adapter's files too."""
    place = hashlib.sha256(str(run.folder.path.resolve()).encode()).hexdigest()[:10]
    files = sorted((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in run.output.iterdir() if p.is_file())
    content = hashlib.sha256(repr(files).encode()).hexdigest()[:8]
    return cache_root() / "models" / "runs" / f"{run.folder.name}-{place}-{content}"


def model_folder(run: StartingRun, say=None) -> Path:
    """The folder ``from_pretrained`` loads for the run: ``model/``, or the adapter merged into its base."""
    if run.whole:
        return run.output
    target = merged_folder(run)
    if (target / MANIFEST).is_file():  # written last by the export: the merge is whole
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f".{target.name}.lock", "w") as lock:  # ranks under torchrun: one merges, all wait
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (target / MANIFEST).is_file():
            _merge(run, target, say or (lambda message: None))
    return target


def _merge(run: StartingRun, target: Path, say) -> None:
    """``fttui export --merge`` in its own worker (the export's claim on the run, its checks, its atomic write), so
    the merge's float32 copy of the model is gone before this process loads the merged one."""
    from fttui.events import Exported
    from fttui.runner.jobs import run_to_end, start_export

    say(f"starting from the run {run.folder.name}: merging its {run.method} adapter into {run.base} "
        f"once (kept in {target})")
    log = target.parent / f".{target.name}.log"  # the source run is only read: its export.log is not written
    run_to_end(start_export(run.folder.path, target, merge=True, dtype="float32", log_path=log), Exported,
               "merge", progress=say)
    log.unlink(missing_ok=True)
    stem = target.name[: -len(target.name.rsplit("-", 1)[-1])]  # <run>-<place>-: older merges of this run
    for older in target.parent.glob(f"{stem}*"):
        if older != target and older.is_dir():
            shutil.rmtree(older, ignore_errors=True)
