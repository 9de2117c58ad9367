"""Content hashes that identify weights: of a file, and of a module's state dict."""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch


def file_hash(path: Path, length: int = 16) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:length]


def state_dict_hash(module: torch.nn.Module) -> str:
    """sha256 over every (name, dtype, shape, bytes) of the module's state dict."""
    h = hashlib.sha256()
    for name, value in sorted(module.state_dict().items()):
        if not isinstance(value, torch.Tensor):
            continue
        tensor = value.detach().cpu().contiguous().reshape(-1)
        h.update(f"{name}|{value.dtype}|{tuple(value.shape)}".encode())
        h.update(tensor.view(torch.uint8).numpy().tobytes())
    return h.hexdigest()
