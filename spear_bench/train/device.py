"""The device a trainer runs on: the one place that reads ``train.device`` and ``SPEAR_BENCH_CPU``."""

from __future__ import annotations

import os

import torch

from spear_bench.errors import ConfigError

CPU_ONLY_ENV = "SPEAR_BENCH_CPU"  # "1": train on the CPU even where CUDA is available


def select_device(name: str = "auto", rank: int | None = None) -> torch.device:
    """``auto``: a GPU when CUDA is available (and ``SPEAR_BENCH_CPU`` is not ``1``), else the CPU;
    with ``rank`` the GPU is ``rank % device_count`` (one per DDP process). Any other name is a
    torch device (``cpu``, ``cuda``, ``cuda:N``), checked to exist."""
    if name == "auto":
        if not torch.cuda.is_available() or os.environ.get(CPU_ONLY_ENV) == "1":
            return torch.device("cpu")
        return torch.device("cuda") if rank is None else torch.device("cuda", rank % torch.cuda.device_count())
    try:
        device = torch.device(name)
    except RuntimeError as error:
        raise ConfigError(f"train.device: {name!r} is not a device ({error})") from error
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"train.device is {name!r} but no CUDA device is available")
    return device


def process_group_backend(device: torch.device) -> str:
    """NCCL between GPUs, gloo between CPU processes."""
    return "nccl" if device.type == "cuda" else "gloo"
