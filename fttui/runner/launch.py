"""Start a training run or a preview from a resolved config: the one way every front end launches work."""
from __future__ import annotations

import tempfile
from pathlib import Path

from fttui.atomic import clean_stale, write_text
from fttui.config import RunConfig, dump_config
from fttui.runner.checkpoints import check_resume_config
from fttui.runner.checks import check_before_start
from fttui.runner.distributed import Launch
from fttui.runner.lock import claim
from fttui.runner.run_dir import CONFIG_FILE, LOG_FILE, create_run_dir
from fttui.runner.supervisor import Supervisor


def start_run(config: RunConfig, output_dir: str | None = None, launch: Launch | None = None) -> tuple[Path, Supervisor]:
    """Check paths, create the run folder, start the worker; read events with ``supervisor.next_event()``.

    ``launch`` with ``nproc``/``nnodes`` above 1 starts the ranks through torchrun (rank 0 reports).
    """
    check_before_start(config, launch, output_dir)  # every cheap problem at once, before a folder exists
    run_dir, lock = create_run_dir(config, output_dir)
    supervisor = Supervisor(run_dir / CONFIG_FILE, run_dir, log_path=run_dir / LOG_FILE, launch=launch, lock=lock)
    supervisor.start()
    return run_dir, supervisor


def resume_run(run_dir: Path, overrides: list[str] | None = None, launch: Launch | None = None) -> Supervisor:
    """Continue a run in its own folder from its last checkpoint; overrides (e.g. more epochs) are saved first."""
    from fttui.config.presets import apply_overrides, read_yaml, validate_config
    from fttui.errors import ConfigError

    config_path = Path(run_dir) / CONFIG_FILE
    if not config_path.is_file():
        raise ConfigError(f"{run_dir} is not a run folder (no {CONFIG_FILE})", "give a folder under runs/ made by fttui")
    lock = claim(Path(run_dir), "resume")  # before anything is read or written: a worker may still train there
    try:
        clean_stale(run_dir)  # temporaries a killed save left there (a partial adapter/ can weigh megabytes)
        problems: list[str] = []
        raw = apply_overrides(read_yaml(config_path), overrides or [], problems)
        config = validate_config(raw, str(config_path), problems)
        check_before_start(config, launch, new_folder=False)  # its own folder holds the run
        check_resume_config(Path(run_dir), config.model_dump(mode="json"))  # before a worker loads anything
        if overrides:
            write_text(config_path, dump_config(config))
    except BaseException:
        lock.release()
        raise
    supervisor = Supervisor(config_path, Path(run_dir), mode="resume", log_path=Path(run_dir) / LOG_FILE,
                            launch=launch, lock=lock)
    supervisor.start()
    return supervisor


def start_scratch(config: RunConfig, mode: str, launch: Launch | None = None,
                  output_dir: str | None = None) -> Supervisor:
    """A worker that writes no run folder: ``mode`` is "dry-run" (emits ``plan``) or "preview" (emits ``preview``).

    A dry run checks what the real run would (``launch``, ``output_dir``), so it fails for the same reasons.
    """
    check_before_start(config, launch, output_dir)
    scratch = Path(tempfile.mkdtemp(prefix=f"fttui-{mode}-"))
    write_text(scratch / CONFIG_FILE, dump_config(config))
    supervisor = Supervisor(scratch / CONFIG_FILE, None, mode=mode, log_path=scratch / LOG_FILE, scratch_dir=scratch)
    supervisor.start()
    return supervisor
