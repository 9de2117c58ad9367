"""DDP plumbing: the process group, barriers and sums over ranks (no-ops in a single process)."""

from __future__ import annotations

import os
import socket

import torch
import torch.distributed as dist

from spear_bench.train.device import process_group_backend, select_device


def is_distributed() -> bool:
    return dist.is_available() and dist.is_initialized()


def barrier() -> None:
    if is_distributed():
        dist.barrier()


def all_reduce_sum(values: torch.Tensor) -> torch.Tensor:
    """The element-wise sum of ``values`` over all ranks (``values`` itself in a single process)."""
    if is_distributed():
        values = values.clone()
        dist.all_reduce(values)
    return values


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def torchrun_rank() -> tuple[int, int] | None:
    """(rank, world size) when launched by torchrun with more than one process, else None."""
    if "RANK" in os.environ and "WORLD_SIZE" in os.environ and int(os.environ["WORLD_SIZE"]) > 1:
        return int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    return None


def init_process_group(rank: int | None = None, world_size: int | None = None, port: int | None = None) -> None:
    """Join the process group: NCCL when training on GPUs, else gloo. Without arguments the
    rank, world size and address come from torchrun's environment; with them, from here
    (processes spawned on this machine)."""
    backend = process_group_backend(select_device("auto"))
    if rank is None:
        dist.init_process_group(backend)
        return
    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(port)
    dist.init_process_group(backend, rank=rank, world_size=world_size)


def destroy_process_group() -> None:
    if is_distributed():
        dist.destroy_process_group()
