"""Several training processes (one per GPU, started by torchrun): who this process is, and what they must agree on.

torchrun sets RANK, LOCAL_RANK and WORLD_SIZE; the Trainer (through accelerate) reads them and wraps the
model in DDP, or FSDP/DeepSpeed when ``training.distributed`` asks for it. Only global rank 0 reports
and writes files; every rank must take the same collective steps, or DDP waits forever.
"""
from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

from fttui.config import RunConfig
from fttui.errors import ConfigError


@dataclass(frozen=True)
class World:
    rank: int = 0
    local_rank: int = 0
    size: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def current_world() -> World:
    """This process's place among the ranks, from torchrun's environment (one process when it is absent)."""
    env = os.environ
    return World(int(env.get("RANK", 0)), int(env.get("LOCAL_RANK", 0)), int(env.get("WORLD_SIZE", 1)))


def strategy(config: RunConfig, world: World) -> str:
    """The strategy actually used: ``single`` in one process, else ddp, fsdp or deepspeed (auto means ddp)."""
    if world.size <= 1:
        return "single"
    chosen = config.training.distributed
    return "ddp" if chosen == "auto" else chosen


def strategy_arguments(config: RunConfig, world: World, device: str = "cuda") -> dict:
    """TrainingArguments for FSDP or DeepSpeed; empty for DDP (the Trainer's default with several ranks)."""
    t = config.training
    used = strategy(config, world)
    if used in ("fsdp", "deepspeed") and device != "cuda":  # accelerate quietly falls back to DDP on CPU
        raise ConfigError(f"training.distributed={used} needs GPUs, and this run trains on {device}",
                          "set training.distributed=ddp to train several CPU processes")
    if used == "fsdp":
        return {"fsdp": True, "fsdp_config": {
            "version": 2,  # FSDP2 (fully_shard); transformers 5 drops FSDP1
            # FSDP2 expresses the sharding strategy as "free the gathered weights after forward?"
            "reshard_after_forward": t.fsdp_sharding == "full_shard",
            "cpu_offload": t.fsdp_cpu_offload,
            "state_dict_type": "FULL_STATE_DICT",  # checkpoints and the saved model load with from_pretrained
        }}
    if used == "deepspeed":
        check_deepspeed(t.deepspeed_config)
        return {"deepspeed": t.deepspeed_config}
    return {}


def check_deepspeed(path: str | None) -> None:
    if importlib.util.find_spec("deepspeed") is None:
        raise ConfigError("training.distributed is deepspeed, but DeepSpeed is not installed",
                          "pip install deepspeed (needs a CUDA toolkit), or use training.distributed=fsdp")
    if not path or not Path(path).expanduser().is_file():
        raise ConfigError(f"training.deepspeed_config: no DeepSpeed JSON config at {path}",
                          "point it at a ZeRO config file, e.g. ds_zero3.json")


def agree(flag: bool, device) -> bool:
    """True on every rank when it is True on any rank (a MAX all-reduce); the flag itself in one process."""
    import torch
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return flag
    value = torch.tensor([1 if flag else 0], dtype=torch.int32, device=device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item())


def full_state_dict(trainer):
    """The whole model's weights gathered from FSDP/DeepSpeed shards (a collective: every rank calls it)."""
    if trainer.is_fsdp_enabled or trainer.is_deepspeed_enabled:
        return trainer.accelerator.get_state_dict(trainer.model_wrapped if trainer.is_deepspeed_enabled else trainer.model)
    return None


def unwrapped(trainer):
    """The user's model (PeftModel or PreTrainedModel) without the DDP/FSDP wrapper."""
    return trainer.accelerator.unwrap_model(trainer.model, keep_torch_compile=False)


def finish() -> None:
    """Leave the process group cleanly so the other ranks and torchrun see an orderly exit."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
