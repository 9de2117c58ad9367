"""The multi-codebook masked-prediction loss (paper Eq. 1 to 3).

L_single = 1/N * sum_n [ alpha * L_{n,m} + (1 - alpha) * L_{n,u} ], where L_{n,m} (L_{n,u})
sums the cross entropy of codebook n's token over the masked (unmasked) frames. One
linear head per codebook predicts a distribution over that codebook's K entries.
Targets are int64 with IGNORE_INDEX on padding (frames without a target).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

IGNORE_INDEX = -100


class CodebookHeads(nn.Module):
    """N independent linear heads, (B, T, D) -> logits (B, T, N, K)."""

    def __init__(self, dim: int, num_codebooks: int, codebook_size: int = 256):
        super().__init__()
        self.num_codebooks = num_codebooks
        self.codebook_size = codebook_size
        self.heads = nn.ModuleList(nn.Linear(dim, codebook_size) for _ in range(num_codebooks))

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return torch.stack([head(hidden) for head in self.heads], dim=-2)


def codebook_cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """(B, T, N, K) logits, (B, T, N) targets -> (B, T, N) cross entropy, 0 where the target is ignored."""
    batch, frames, num_codebooks, size = logits.shape
    ce = nn.functional.cross_entropy(
        logits.reshape(-1, size).float(), targets.reshape(-1).long(), ignore_index=IGNORE_INDEX, reduction="none"
    )
    return ce.reshape(batch, frames, num_codebooks)


@dataclass
class PredictionLoss:
    """Per-utterance terms of Eq. 1 for one token set.

    loss: (B,) the Eq. 1 value of each utterance (sums over its frames).
    masked_ce / unmasked_ce: (B,) cross entropy summed over masked / unmasked frames and codebooks.
    masked_frames / unmasked_frames: (B,) frames with a target in each group.
    """

    loss: torch.Tensor
    masked_ce: torch.Tensor
    unmasked_ce: torch.Tensor
    masked_frames: torch.Tensor
    unmasked_frames: torch.Tensor
    num_codebooks: int


def masked_prediction_loss(
    logits: torch.Tensor, targets: torch.Tensor, frame_mask: torch.Tensor, alpha: float
) -> PredictionLoss:
    """Eq. 1 per utterance. ``frame_mask`` (B, T) is True on masked frames (at the logits' frame rate)."""
    ce = codebook_cross_entropy(logits, targets)  # (B, T, N)
    has_target = (targets >= 0).all(dim=-1)  # (B, T)
    masked = frame_mask.to(ce.device) & has_target
    unmasked = ~frame_mask.to(ce.device) & has_target
    per_frame = ce.sum(dim=-1)  # (B, T)
    masked_ce = (per_frame * masked).sum(dim=1)
    unmasked_ce = (per_frame * unmasked).sum(dim=1)
    num_codebooks = logits.shape[2]
    loss = (alpha * masked_ce + (1.0 - alpha) * unmasked_ce) / num_codebooks
    return PredictionLoss(loss, masked_ce, unmasked_ce, masked.sum(1), unmasked.sum(1), num_codebooks)
