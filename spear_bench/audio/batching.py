"""Batches of clips by length: little padding, and a batch size set by a sample budget, not a clip count."""

from __future__ import annotations

from typing import Sequence


def length_batches(
    lengths: Sequence[int], budget_samples: int, max_clips: int, equal_lengths: bool = False
) -> list[list[int]]:
    """Indices grouped into batches: sorted by length (longest first, so a too-large batch shows at once),
    each batch's clips x its longest clip within ``budget_samples`` (a clip alone may exceed it).
    ``equal_lengths``: a batch only holds clips of one length (HEAR modules take unpadded batches)."""
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    batches: list[list[int]] = []
    current: list[int] = []
    for i in order:
        longest = lengths[current[0]] if current else lengths[i]
        fits = (len(current) + 1) * longest <= budget_samples and len(current) < max_clips
        if current and (not fits or (equal_lengths and lengths[i] != longest)):
            batches.append(current)
            current = []
        current.append(i)
    if current:
        batches.append(current)
    return batches
