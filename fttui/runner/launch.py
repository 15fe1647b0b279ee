"""Start a training run or a preview from a resolved config: the one way every front end launches work."""
from __future__ import annotations

import tempfile
from pathlib import Path

from fttui.atomic import clean_stale, write_text
from fttui.config import RunConfig, dump_config
from fttui.runner.checkpoints import check_resume_config
from fttui.runner.checks import check_before_start
from fttui.runner.distributed import RankLayout
from fttui.runner.lock import claim
from fttui.runner.run_dir import create_run_dir
from fttui.runner.run_folder import CONFIG_FILE, LOG_FILE, RunFolder
from fttui.runner.supervisor import WorkerSupervisor


def start_run(config: RunConfig, output_dir: str | None = None,
              launch: RankLayout | None = None) -> tuple[Path, WorkerSupervisor]:
    """Check paths, create the run folder, start the worker; read events with ``supervisor.next_event()``.

    ``launch`` with ``nproc``/``nnodes`` above 1 starts the ranks through torchrun (rank 0 reports).
    """
    check_before_start(config, launch, output_dir)  # every cheap problem at once, before a folder exists
    run_dir, lock = create_run_dir(config, output_dir)
    supervisor = WorkerSupervisor(run_dir / CONFIG_FILE, run_dir, log_path=run_dir / LOG_FILE, launch=launch, lock=lock)
    supervisor.start()
    return run_dir, supervisor


def resume_run(run_dir: Path, overrides: list[str] | None = None, launch: RankLayout | None = None) -> WorkerSupervisor:
    """Continue a run in its own folder from its last checkpoint; overrides (e.g. more epochs) are saved first."""
    folder = RunFolder.existing(run_dir)
    lock = claim(folder.path, "resume")  # before anything is read or written: a worker may still train there
    try:
        clean_stale(folder.path)  # temporaries a killed save left there (a partial adapter/ can weigh megabytes)
        config = folder.config(overrides)
        check_before_start(config, launch, new_folder=False)  # its own folder holds the run
        check_resume_config(folder.path, config.model_dump(mode="json"))  # before a worker loads anything
        if overrides:
            write_text(folder.config_file, dump_config(config))
    except BaseException:
        lock.release()
        raise
    supervisor = WorkerSupervisor(folder.config_file, folder.path, mode="resume", log_path=folder.log_file,
                                  launch=launch, lock=lock)
    supervisor.start()
    return supervisor


def start_scratch(config: RunConfig, mode: str, launch: RankLayout | None = None,
                  output_dir: str | None = None) -> WorkerSupervisor:
    """A worker that writes no run folder: ``mode`` is "dry-run" (emits ``plan``), "preview" (emits ``preview``) or
    "fit" (the measured fit check alone: emits ``fit``).

    A dry run checks what the real run would (``launch``, ``output_dir``), so it fails for the same reasons.
    """
    check_before_start(config, launch, output_dir)
    scratch = Path(tempfile.mkdtemp(prefix=f"fttui-{mode}-"))
    write_text(scratch / CONFIG_FILE, dump_config(config))
    supervisor = WorkerSupervisor(scratch / CONFIG_FILE, None, mode=mode, log_path=scratch / LOG_FILE,
                                  scratch_dir=scratch)
    supervisor.start()
    return supervisor
