"""Small helpers shared by the baseline encoders (seeded random init, paths, masks, overrides)."""

from __future__ import annotations

import contextlib
import dataclasses
from pathlib import Path

import torch

from spear_bench.errors import CheckpointError, ConfigError


@contextlib.contextmanager
def seeded_init(seed: int):
    """Random init that depends only on ``seed`` and leaves the caller's RNG state untouched."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def existing_path(path: str | Path, model: str) -> Path:
    """``path`` as a Path, or a one-line CheckpointError naming it."""
    resolved = Path(path).expanduser()
    if not resolved.exists():
        raise CheckpointError(f"{model}: checkpoint path {str(path)!r} does not exist")
    return resolved


def padding_mask(lengths: torch.Tensor, max_len: int) -> torch.Tensor:
    """(B, max_len) bool, True on padding."""
    return torch.arange(max_len, device=lengths.device)[None, :] >= lengths[:, None]


def with_overrides(config, overrides: dict, model: str):
    """A copy of the dataclass ``config`` with ``overrides`` applied; unknown keys are a ConfigError."""
    if not overrides:
        return config
    known = {f.name for f in dataclasses.fields(config)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ConfigError(f"{model}: unknown config override(s) {unknown}; known: {sorted(known)}")
    return dataclasses.replace(config, **overrides)


def normalize_per_utterance(waveforms: torch.Tensor, lengths: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Zero-mean, unit-variance over each utterance's valid samples (padding stays zero)."""
    mask = ~padding_mask(lengths, waveforms.shape[1])
    count = lengths.clamp(min=1).to(waveforms.dtype)[:, None]
    mean = (waveforms * mask).sum(1, keepdim=True) / count
    var = (((waveforms - mean) * mask) ** 2).sum(1, keepdim=True) / count
    return ((waveforms - mean) / torch.sqrt(var + eps)) * mask
