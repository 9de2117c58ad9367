"""Input masking for SPEAR pre-training, on the 100 Hz fbank frames.

Facts (paper Sec. 3.2.1 and Appendix B.2; the release's ``apply_mask_w2v2``):
- Time masking is wav2vec 2.0 / HuBERT style: ``time_mask_prob`` is the probability of
  a frame *starting* a span of ``time_span`` frames; an utterance of ``n`` valid frames
  gets ``floor(prob * n / span + U)`` spans (U ~ Uniform[0, 1), probabilistic rounding),
  at least ``min_time_spans``, with start positions drawn without replacement from the
  first ``n - span`` frames. Spans may overlap, so the masked fraction is lower than
  ``prob``: about ``1 - (1 - prob/span)^span`` for long utterances (0.49 at 0.65).
  Masked frames are replaced by a learnable mask embedding (see model.py).
- Channel masking (applied first): per utterance, ``floor(prob * C / mean_span + U)``
  spans of ``channel_span_min..channel_span_max`` mel bins, set to 0 on every frame
  (the release zeroes them).

Every random draw takes an explicit ``torch.Generator`` so that a resumed run redraws
exactly the same masks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from spear_bench.errors import ConfigError


@dataclass(frozen=True)
class MaskingConfig:
    time_mask_prob: float = 0.65  # 0.5 for the speech-only Base model
    time_span: int = 10  # fbank frames (100 ms)
    min_time_spans: int = 2
    channel_mask_prob: float = 0.25
    channel_span_min: int = 15  # mel bins
    channel_span_max: int = 20

    def __post_init__(self):
        if not 0.0 <= self.time_mask_prob <= 1.0 or not 0.0 <= self.channel_mask_prob <= 1.0:
            raise ConfigError("masking: time_mask_prob and channel_mask_prob must be in [0, 1]")
        if self.time_span < 1 or not 1 <= self.channel_span_min <= self.channel_span_max:
            raise ConfigError("masking: spans must be >= 1 and channel_span_min <= channel_span_max")


def _num_spans(prob: float, size: int, span: float, minimum: int, generator: torch.Generator) -> int:
    draw = float(torch.rand((), generator=generator))
    return max(minimum, int(prob * size / span + draw))


def sample_time_mask(
    lengths: torch.Tensor, max_len: int, prob: float, span: int, min_spans: int, generator: torch.Generator
) -> torch.Tensor:
    """(B,) valid lengths -> (B, max_len) bool, True on masked frames (never on padding)."""
    mask = torch.zeros(len(lengths), max_len, dtype=torch.bool)
    if prob <= 0.0:
        return mask
    for b, size in enumerate(int(n) for n in lengths):
        if size <= 0:
            continue
        num_starts = max(size - span, 1)
        count = min(_num_spans(prob, size, span, min_spans, generator), num_starts)
        starts = torch.randperm(num_starts, generator=generator)[:count]
        covered = (starts[:, None] + torch.arange(span)[None, :]).flatten()
        mask[b, covered[covered < size]] = True
    return mask


def sample_channel_mask(
    batch: int, num_channels: int, prob: float, span_min: int, span_max: int, generator: torch.Generator
) -> torch.Tensor:
    """(B, C) bool, True on masked mel bins (the same bins on every frame of an utterance)."""
    mask = torch.zeros(batch, num_channels, dtype=torch.bool)
    if prob <= 0.0:
        return mask
    mean_span = (span_min + span_max) / 2
    for b in range(batch):
        for _ in range(_num_spans(prob, num_channels, mean_span, 0, generator)):
            width = int(torch.randint(span_min, span_max + 1, (), generator=generator))
            width = min(width, num_channels)
            start = int(torch.randint(0, num_channels - width + 1, (), generator=generator))
            mask[b, start : start + width] = True
    return mask


def sample_masks(
    feat_lens: torch.Tensor, max_len: int, num_channels: int, config: MaskingConfig, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Channel mask (B, C) then time mask (B, T), drawn in the release's order."""
    channel = sample_channel_mask(
        len(feat_lens),
        num_channels,
        config.channel_mask_prob,
        config.channel_span_min,
        config.channel_span_max,
        generator,
    )
    time = sample_time_mask(
        feat_lens, max_len, config.time_mask_prob, config.time_span, config.min_time_spans, generator
    )
    return time, channel


def apply_masks(
    fbank: torch.Tensor, time_mask: torch.Tensor, channel_mask: torch.Tensor, mask_embedding: torch.Tensor
) -> torch.Tensor:
    """Zero the masked bins, then replace masked frames by ``mask_embedding`` (C,). Differentiable in the embedding."""
    out = fbank.masked_fill(channel_mask[:, None, :].to(fbank.device), 0.0)
    time = time_mask.to(fbank.device)[..., None]
    return torch.where(time, mask_embedding.to(out.dtype).expand_as(out), out)


def downsample_frame_mask(time_mask: torch.Tensor, num_frames: int, ratio: int = 2) -> torch.Tensor:
    """100 Hz frame mask (B, T) -> encoder-rate mask (B, num_frames).

    Output frame t counts as masked when at least half of input frames
    ``ratio*t .. ratio*t+ratio-1`` are (the release pools the mask the same way).
    """
    batch, length = time_mask.shape
    needed = num_frames * ratio
    padded = torch.zeros(batch, max(needed, length), dtype=torch.float32)
    padded[:, :length] = time_mask.float()
    pooled = padded[:, :needed].reshape(batch, num_frames, ratio).mean(-1)
    return pooled >= 0.5


def expected_time_mask_fraction(prob: float, span: int, length: int, min_spans: int = 0) -> float:
    """Exact expected fraction of masked frames of one utterance of ``length`` frames.

    With k spans whose starts are k distinct positions out of M = length - span, frame j
    stays unmasked iff none of the c_j starts that would cover it was drawn:
    P = C(M - c_j, k) / C(M, k). k is floor(x) or floor(x) + 1 with x = prob * length / span.
    """
    num_starts = max(length - span, 1)
    x = prob * length / span
    low = math.floor(x)
    outcomes = [(low, 1.0 - (x - low)), (low + 1, x - low)]
    total = 0.0
    for k, weight in outcomes:
        if weight == 0.0:
            continue
        k = min(max(k, min_spans), num_starts)
        unmasked = 0.0
        for j in range(length):
            covering = min(j, num_starts - 1) - max(0, j - span + 1) + 1
            covering = max(covering, 0)
            unmasked += math.comb(num_starts - covering, k) / math.comb(num_starts, k)
        total += weight * (1.0 - unmasked / length)
    return total
