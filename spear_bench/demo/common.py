"""What the demo corpora share: clip lengths, file ids, the spoken words."""

from __future__ import annotations

import hashlib

import torch

from spear_bench.audio import SAMPLE_RATE

WORDS = ("yes", "no", "up", "down", "left", "right")
UNKNOWN_WORDS = ("bed", "cat")


def fit(wave: torch.Tensor, seconds: float) -> torch.Tensor:
    """Pad with zeros or trim to exactly ``seconds`` (hearpreprocess's fixed-length clips)."""
    n = int(round(seconds * SAMPLE_RATE))
    return wave[:n] if wave.numel() >= n else torch.nn.functional.pad(wave, (0, n - wave.numel()))


def hex_id(*parts) -> str:
    """A short stable id for a generated file or speaker."""
    return hashlib.sha1("|".join(map(str, parts)).encode()).hexdigest()[:8]
