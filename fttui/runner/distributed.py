"""``fttui --nproc N``: the launcher command that starts N training ranks, and the checks on its flags.

The ranks are started by torchrun (``python -m torch.distributed.run``), not by ``accelerate launch``:
the Trainer already configures DDP, FSDP and DeepSpeed from TrainingArguments (our config), so all a
launcher has to do is start the processes and set RANK/WORLD_SIZE/MASTER_ADDR; torchrun does exactly
that, ships with torch (nothing more to install or configure: ``accelerate launch`` wants its own config
file or a dozen flags, and runs torchrun's launcher underneath anyway), and its flags (``--nnodes``,
``--node-rank``, ``--master-addr``, ``--master-port``) are the ones cluster users already know.

torchrun starts every rank in its own session and, on SIGINT, forwards one SIGINT to each rank and waits
``TORCH_ELASTIC_SHUTDOWN_TIMEOUT`` seconds before SIGKILL; we set that to the supervisor's stop timeout
so a rank saving its checkpoint is never cut short. No torch import here: torchrun runs as a child.
"""
from __future__ import annotations

import importlib.util
import os
import sys
from dataclasses import dataclass

from fttui.config import RunConfig
from fttui.errors import ConfigError

FLAG_HINT = "e.g. fttui --preset my.yaml --nproc 2 (one process per GPU)"
# What torchrun tells each rank about itself; a worker a rank starts for its own use must not inherit them.
RANK_VARIABLES = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "GROUP_RANK", "GROUP_WORLD_SIZE", "ROLE_RANK",
                  "ROLE_WORLD_SIZE", "ROLE_NAME", "MASTER_ADDR", "MASTER_PORT", "TORCHELASTIC_RUN_ID",
                  "TORCHELASTIC_RESTART_COUNT", "TORCHELASTIC_MAX_RESTARTS", "TORCHELASTIC_USE_AGENT_STORE")


@dataclass(frozen=True)
class RankLayout:
    """How many training processes, on how many machines; the default is one process, no launcher."""

    nproc: int = 1
    nnodes: int = 1
    node_rank: int = 0
    master_addr: str | None = None
    master_port: int | None = None

    @property
    def distributed(self) -> bool:
        return self.nproc > 1 or self.nnodes > 1

    @property
    def world_size(self) -> int:
        return self.nproc * self.nnodes

    @property
    def reports(self) -> bool:
        """Whether this machine runs global rank 0, the rank that emits events and writes the run folder."""
        return self.node_rank == 0


def launch_from_args(args) -> RankLayout:
    """A RankLayout from the CLI's flags, refusing values torchrun would fail on later and less clearly."""
    nproc = getattr(args, "nproc", None)
    nnodes = getattr(args, "nnodes", None)
    node_rank = getattr(args, "node_rank", None)
    addr, port = getattr(args, "master_addr", None), getattr(args, "master_port", None)
    if nproc is not None and nproc < 1:
        raise ConfigError(f"--nproc must be 1 or more, got {nproc}", FLAG_HINT)
    if nnodes is not None and nnodes < 1:
        raise ConfigError(f"--nnodes must be 1 or more, got {nnodes}", "e.g. --nnodes 2 for two machines")
    launch = RankLayout(nproc or 1, nnodes or 1, node_rank or 0, addr, port)
    if node_rank is not None and not 0 <= node_rank < launch.nnodes:
        raise ConfigError(f"--node-rank must be between 0 and {launch.nnodes - 1} (--nnodes {launch.nnodes}), got {node_rank}",
                          "number the machines 0, 1, ...; machine 0 runs rank 0 and writes the run folder")
    if port is not None and not 1 <= port <= 65535:
        raise ConfigError(f"--master-port must be a TCP port (1-65535), got {port}", "e.g. --master-port 29500")
    if launch.nnodes > 1 and not addr:
        raise ConfigError(f"--nnodes {launch.nnodes} needs --master-addr: the address of machine 0 that the others can reach",
                          "e.g. --master-addr 10.0.0.1 --master-port 29500 on every machine")
    if not launch.distributed and (addr or port is not None):
        raise ConfigError("--master-addr and --master-port need --nproc N or --nnodes N", FLAG_HINT)
    return launch


def check_launch(launch: RankLayout, config: RunConfig) -> None:
    """This machine must have a device for each local rank: a GPU each, or on CPU a core each."""
    problems = launch_problems(launch, config)
    if problems:
        raise problems[0]


def launch_problems(launch: RankLayout, config: RunConfig) -> list[ConfigError]:
    """Every reason ``launch`` cannot start here, all at once (fixing one should not reveal the next)."""
    if not launch.distributed:
        return []
    problems: list[ConfigError] = []
    gpus = 0 if config.training.device == "cpu" else visible_gpus()
    if config.training.device == "cuda" and not gpus:
        problems.append(ConfigError("training.device is cuda, but no NVIDIA GPU is visible here",
                                    "check nvidia-smi, or set training.device=cpu to try --nproc on CPU"))
    if gpus and launch.nproc > gpus:
        problems.append(ConfigError(
            f"--nproc {launch.nproc} is more than the {gpus} GPU{'s' if gpus != 1 else ''} on this machine",
            f"use --nproc {gpus} (one process per GPU)"))
    cores = cpu_count()
    if not gpus and launch.nproc > cores:
        problems.append(ConfigError(
            f"--nproc {launch.nproc} is more than the {cores} CPU cores this process may use (no GPU found)",
            f"use --nproc {cores} or less; on CPU each process needs at least one core"))
    if config.training.distributed in ("fsdp", "deepspeed") and not gpus:
        problems.append(ConfigError(f"training.distributed={config.training.distributed} needs GPUs; none found here",
                                    "set training.distributed=ddp to train several CPU processes"))
    if config.training.distributed == "deepspeed":
        if importlib.util.find_spec("deepspeed") is None:
            problems.append(ConfigError("training.distributed is deepspeed, but DeepSpeed is not installed",
                                        "pip install deepspeed (needs a CUDA toolkit), or use training.distributed=fsdp"))
        path = config.training.deepspeed_config
        try:  # a path that does not exist is preflight's "file not found"; don't say it twice
            if not path or os.path.isfile(os.path.expanduser(path)):
                check_deepspeed_config(path)
        except ConfigError as error:
            problems.append(error)
    return problems


def check_deepspeed_config(path: str | None) -> None:
    """ZeRO-3 must gather the weights when saving, or the run would end without a loadable model."""
    import json
    from pathlib import Path

    try:
        settings = json.loads(Path(path or "").expanduser().read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ConfigError(f"training.deepspeed_config: cannot read {path} as JSON ({error})",
                          "give the path of a DeepSpeed JSON config") from None
    zero = settings.get("zero_optimization", {}) if isinstance(settings, dict) else {}
    if zero.get("stage") == 3 and not zero.get("stage3_gather_16bit_weights_on_model_save"):
        raise ConfigError(f"{path}: ZeRO stage 3 without stage3_gather_16bit_weights_on_model_save",
                          'add "stage3_gather_16bit_weights_on_model_save": true under zero_optimization, '
                          "so the trained model can be saved whole")


def visible_gpus() -> int:
    """NVIDIA GPUs this process may use: CUDA_VISIBLE_DEVICES when set, else what NVML counts (no torch)."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return len([d for d in visible.split(",") if d.strip() and not d.strip().startswith("-")])
    from fttui.hardware import detect_gpus

    return len(detect_gpus()[0])


def cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))  # honours taskset and container cpusets
    except AttributeError:
        return os.cpu_count() or 1


def launcher_command(launch: RankLayout, worker_module: str, worker_args: list[str]) -> list[str]:
    """``python -m torch.distributed.run ... -m fttui.engine.worker ...``: one rank per process."""
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", str(launch.nproc)]
    if launch.nnodes > 1:
        command += ["--nnodes", str(launch.nnodes), "--node-rank", str(launch.node_rank),
                    "--master-addr", launch.master_addr or "", "--master-port", str(launch.master_port or 29500)]
    elif launch.master_port is not None:  # one machine on a fixed port (e.g. a firewall allows only that one)
        command += ["--master-addr", launch.master_addr or "127.0.0.1", "--master-port", str(launch.master_port)]
    else:
        command += ["--standalone"]  # one machine: torchrun picks a free port, so two runs never collide
    return command + ["-m", worker_module, *worker_args]


def launcher_env(stop_timeout_s: float) -> dict[str, str]:
    """Environment for torchrun: wait for ranks saving their checkpoint as long as the supervisor does."""
    return {"TORCH_ELASTIC_SHUTDOWN_TIMEOUT": str(int(stop_timeout_s))}
