"""DistributedDataParallel under torchrun: the rank environment, process-group setup and teardown."""

from __future__ import annotations

import os

import torch
from torch import nn


def dist_env() -> tuple[int, int, int]:
    """(world size, rank, local rank) from torchrun's environment; (1, 0, 0) outside it."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    return world, int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))


def setup_device(device_name: str, world: int, local_rank: int) -> torch.device:
    """Join the process group when world > 1 (gloo on CPU, nccl on CUDA) and return this rank's device."""
    ddp = world > 1
    if ddp:
        import torch.distributed as dist

        backend = "nccl" if device_name.startswith("cuda") else "gloo"
        if not dist.is_initialized():
            dist.init_process_group(backend)
        if backend == "gloo":  # N processes share the cores
            torch.set_num_threads(max(1, (os.cpu_count() or 1) // int(os.environ.get("LOCAL_WORLD_SIZE", world))))
    device = torch.device(f"cuda:{local_rank}" if device_name.startswith("cuda") and ddp else device_name)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    return device


def wrap(model: nn.Module, device: torch.device, ddp: bool) -> nn.Module:
    if not ddp:
        return model
    from torch.nn.parallel import DistributedDataParallel

    return DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)


def all_ranks_flag(flag: bool, device: torch.device, ddp: bool) -> bool:
    """True on every rank when `flag` is true on any (so that every rank stops together)."""
    t = torch.tensor([1.0 if flag else 0.0], device=device)
    if ddp:
        torch.distributed.all_reduce(t)
    return bool(t.item())


def barrier(ddp: bool) -> None:
    if ddp:
        torch.distributed.barrier()


def shutdown(ddp: bool) -> None:
    if ddp:
        import torch.distributed as dist

        if dist.is_initialized():
            dist.barrier()
            dist.destroy_process_group()
