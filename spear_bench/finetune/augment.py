"""Training-time augmentation for the fine-tunes: SpecAugment and mixup.

SpecAugment (Park et al., 2019) masks the encoder's INPUT. Encoders that take the
128-bin fbank (SPEAR: ``forward_fbank``) get frequency masks (bands of bins) and time
masks (spans of frames) on the fbank, filled with the utterance's mean feature value
(as lhotse does). Encoders that only take waveforms (the baselines) get the time masks
on the waveform (spans of 160-sample hops set to zero); frequency masking has no
waveform counterpart and is skipped for them. Time warping is not applied. The number
of time masks adapts to the length, as in lhotse's SpecAugment: at most
``max_time_fraction`` of an utterance's frames are masked.

Mixup (Zhang et al., 2018) for audio tagging mixes waveforms and their label vectors
with a weight drawn from Beta(alpha, alpha); each clip is mixed with probability
``prob`` (0.5 in the paper, Table 10) with another clip of the batch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch


@dataclass
class SpecAugmentConfig:
    enabled: bool = True
    num_freq_masks: int = 2
    max_freq_width: int = 27  # bins of 128
    num_time_masks: int = 10  # upper bound; fewer for short utterances (see max_time_fraction)
    max_time_width: int = 100  # frames (10 ms)
    max_time_fraction: float = 0.15  # of an utterance's frames, over all its time masks
    hop_samples: int = 160  # waveform samples per fbank frame, for waveform-level time masks


def _time_spans(length: int, config: SpecAugmentConfig, generator: torch.Generator) -> list[tuple[int, int]]:
    """Start/end frames of the time masks for an utterance of ``length`` frames (lhotse's adaptive rule)."""
    budget = config.max_time_fraction * length
    masks = min(config.num_time_masks, math.ceil(budget / max(1, config.max_time_width)))
    if masks < 1:
        return []
    width_cap = int(min(config.max_time_width, budget // masks))
    spans = []
    for _ in range(masks):
        width = int(torch.randint(0, width_cap + 1, (1,), generator=generator))
        start = int(torch.randint(0, max(1, length - width), (1,), generator=generator))
        spans.append((start, start + width))
    return spans


def spec_augment_fbank(
    feats: torch.Tensor, lengths: torch.Tensor, config: SpecAugmentConfig, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Masked copy of fbank (B, T, F); padding frames are left untouched."""
    if not config.enabled:
        return feats
    generator = generator or torch.default_generator
    out = feats.clone()
    bins = feats.shape[2]
    for b, length in enumerate(lengths.tolist()):
        if length < 1:
            continue
        fill = feats[b, :length].mean()
        for _ in range(config.num_freq_masks):
            width = int(torch.randint(0, min(config.max_freq_width, bins) + 1, (1,), generator=generator))
            start = int(torch.randint(0, bins - width + 1, (1,), generator=generator))
            out[b, :length, start : start + width] = fill
        for start, end in _time_spans(length, config, generator):
            out[b, start:end, :] = fill
    return out


def spec_augment_waveform(
    waves: torch.Tensor, lengths: torch.Tensor, config: SpecAugmentConfig, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Time masks only, on waveforms (B, S): spans of whole hops set to zero."""
    if not config.enabled:
        return waves
    generator = generator or torch.default_generator
    out = waves.clone()
    hop = config.hop_samples
    for b, length in enumerate(lengths.tolist()):
        for start, end in _time_spans(length // hop, config, generator):
            out[b, start * hop : end * hop] = 0.0
    return out


@dataclass
class MixupConfig:
    prob: float = 0.5  # per clip (Table 10)
    alpha: float = 10.0  # Beta(alpha, alpha), as in AST/PSLA's AudioSet recipes


def mixup(
    waves: torch.Tensor,
    lengths: torch.Tensor,
    targets: torch.Tensor,
    config: MixupConfig,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Mix each clip, with probability ``prob``, with a random other clip of the batch.

    Returns (waves, lengths, soft targets); a mixed clip is as long as the longer of its two.
    """
    batch = waves.shape[0]
    if config.prob <= 0 or batch < 2:
        return waves, lengths, targets.float()
    generator = generator or torch.default_generator
    chosen = torch.rand(batch, generator=generator) < config.prob
    partner = (torch.arange(batch) + torch.randint(1, batch, (batch,), generator=generator)) % batch
    # Beta(alpha, alpha) drawn by numpy from a seed taken from the torch generator (reproducible).
    seed = int(torch.randint(0, 2**31 - 1, (1,), generator=generator))
    lam = torch.from_numpy(np.random.default_rng(seed).beta(config.alpha, config.alpha, batch)).float()
    lam = torch.where(chosen, lam, torch.ones_like(lam))
    device = waves.device
    lam, chosen, partner, lengths = lam.to(device), chosen.to(device), partner.to(device), lengths.to(device)
    targets = targets.to(device)
    lam_w = lam.to(waves.dtype)[:, None]
    mixed_waves = lam_w * waves + (1 - lam_w) * waves[partner]
    mixed_targets = lam[:, None] * targets.float() + (1 - lam[:, None]) * targets.float()[partner]
    mixed_lengths = torch.where(chosen, torch.maximum(lengths, lengths[partner]), lengths)
    return mixed_waves, mixed_lengths, mixed_targets
