"""Batches of lhotse cuts -> padded 16 kHz waveforms, and the samplers that form them.

Batch size is seconds of audio (``max_duration``), as in the paper's Table 10. Samplers
come from lhotse: ``simple`` (shuffled, in order of the set), ``bucketing`` (dynamic
duration buckets: little padding on LibriSpeech) and ``weighted`` (AudioSet's balanced
sampling with replacement; weights from :func:`audioset.balanced_sample_weights`).
:class:`BatchStream` runs epochs one after another and can start mid-epoch, which is how
a resumed run continues with the batches it has not yet seen.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np
import torch

from spear_bench.audio import SAMPLE_RATE, collate_waveforms, validate_waveform
from spear_bench.errors import ConfigError


class CutBatchDataset(torch.utils.data.Dataset):
    """``dataset[cut_set]`` -> {"waves" (B, S), "lengths" (B,), "cuts": list}; audio resampled to 16 kHz, mono."""

    def __getitem__(self, cuts) -> dict:
        waves = []
        for cut in cuts:
            if cut.sampling_rate != SAMPLE_RATE:
                cut = cut.resample(SAMPLE_RATE)
            audio = torch.from_numpy(np.asarray(cut.load_audio(), dtype=np.float32))
            wave = audio.mean(dim=0) if audio.dim() == 2 else audio
            waves.append(validate_waveform(wave, name=str(cut.id)))
        batch, lengths = collate_waveforms(waves)
        return {"waves": batch, "lengths": lengths, "cuts": list(cuts)}


@dataclass(frozen=True)
class SamplerSpec:
    name: str
    build: Callable[..., object]


def _simple(cuts, max_duration: float, shuffle: bool, seed: int, weights=None, num_samples=None):
    from lhotse.dataset import SimpleCutSampler  # heavy (~1 s): paid only where cuts are handled

    return SimpleCutSampler(cuts, max_duration=max_duration, shuffle=shuffle, seed=seed)


def _bucketing(cuts, max_duration: float, shuffle: bool, seed: int, weights=None, num_samples=None):
    from lhotse.dataset import DynamicBucketingSampler  # heavy (~1 s): paid only where cuts are handled

    return DynamicBucketingSampler(
        cuts, max_duration=max_duration, shuffle=shuffle, seed=seed, num_buckets=min(30, max(1, len(cuts) // 20))
    )


class WeightedCutSampler:
    """Draws ``num_samples`` cuts per epoch WITH replacement, with probability proportional to
    ``weights`` (as torch's WeightedRandomSampler in Gong et al.'s AudioSet recipe), and packs
    them into batches of at most ``max_duration`` seconds. Deterministic in (seed, epoch).

    lhotse's WeightedSimpleCutSampler draws without replacement from the global numpy RNG,
    which neither balances rare classes the same way nor resumes reproducibly.
    """

    def __init__(self, cuts, weights, num_samples: int, max_duration: float, seed: int = 0):
        weights = np.asarray(weights, dtype=np.float64)
        if len(weights) != len(cuts):
            raise ConfigError(f"weighted sampler: {len(weights)} weights for {len(cuts)} cuts")
        if not np.isfinite(weights).all() or (weights < 0).any() or weights.sum() <= 0:
            raise ConfigError("weighted sampler: weights must be finite, non-negative and not all zero")
        self.cuts = list(cuts)
        self.probabilities = weights / weights.sum()
        self.num_samples = num_samples
        self.max_duration = max_duration
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self):
        from lhotse import CutSet  # heavy (~1 s): paid only where cuts are handled

        rng = np.random.default_rng([self.seed, self.epoch])
        drawn = rng.choice(len(self.cuts), size=self.num_samples, replace=True, p=self.probabilities)
        batch, duration = [], 0.0
        for index in drawn:
            cut = self.cuts[index]
            if batch and duration + cut.duration > self.max_duration:
                yield CutSet.from_cuts(batch)
                batch, duration = [], 0.0
            # The same clip may be drawn twice in one batch: give the copy its own id.
            batch.append(cut if all(c.id != cut.id for c in batch) else cut.with_id(f"{cut.id}_dup{len(batch)}"))
            duration += cut.duration
        if batch:
            yield CutSet.from_cuts(batch)


def _weighted(cuts, max_duration: float, shuffle: bool, seed: int, weights=None, num_samples=None):
    if weights is None:
        raise ConfigError("sampler 'weighted' needs per-cut weights")
    return WeightedCutSampler(cuts, weights, num_samples or len(cuts), max_duration, seed)


SAMPLERS: dict[str, SamplerSpec] = {
    s.name: s
    for s in (SamplerSpec("simple", _simple), SamplerSpec("bucketing", _bucketing), SamplerSpec("weighted", _weighted))
}


def make_sampler(
    name: str, cuts, max_duration: float, shuffle: bool = True, seed: int = 0, weights=None, num_samples=None
):
    if name not in SAMPLERS:
        raise ConfigError(f"unknown sampler {name!r}; known: {', '.join(SAMPLERS)}")
    longest = max(c.duration for c in cuts)
    if longest > max_duration:
        raise ConfigError(f"max_duration {max_duration} s is shorter than the longest cut ({longest:.1f} s)")
    return SAMPLERS[name].build(cuts, max_duration, shuffle, seed, weights=weights, num_samples=num_samples)


class _SkipFirst(torch.utils.data.Sampler):
    """Yields a lhotse sampler's batches (CutSets) for one epoch, skipping the first ``skip``."""

    def __init__(self, sampler, epoch: int, skip: int):
        self.sampler, self.epoch, self.skip = sampler, epoch, skip

    def __iter__(self):
        self.sampler.set_epoch(self.epoch)
        for index, batch in enumerate(self.sampler):
            if index >= self.skip:
                yield batch


@dataclass
class StreamPosition:
    epoch: int = 0
    batch: int = 0  # batches of ``epoch`` already consumed


class BatchStream:
    """Endless batches over epochs; ``position`` always tells where the next batch comes from."""

    def __init__(self, sampler, num_workers: int = 0, position: StreamPosition | None = None):
        self.sampler = sampler
        self.num_workers = num_workers
        self.position = position or StreamPosition()

    def __iter__(self) -> Iterator[dict]:
        dataset = CutBatchDataset()
        empty_epochs = 0
        while True:
            loader = torch.utils.data.DataLoader(
                dataset,
                sampler=_SkipFirst(self.sampler, self.position.epoch, self.position.batch),
                batch_size=None,
                num_workers=self.num_workers,
                persistent_workers=False,
                # Its own generator: creating a loader must not draw from the global RNG, or a
                # resumed run (which creates one at another step) would get other dropout masks.
                generator=torch.Generator().manual_seed(self.position.epoch),
            )
            produced = False
            for batch in loader:
                produced = True
                self.position.batch += 1
                yield batch
            if not produced:
                empty_epochs += 1
                if empty_epochs > 1:
                    raise ConfigError("the training sampler produced no batch (empty training set?)")
            else:
                empty_epochs = 0
            self.position = StreamPosition(self.position.epoch + 1, 0)


def eval_batches(cuts, max_duration: float, num_workers: int = 0) -> Iterator[dict]:
    """Each cut once, in order."""
    sampler = make_sampler("simple", cuts, max_duration, shuffle=False)
    loader = torch.utils.data.DataLoader(
        CutBatchDataset(),
        sampler=sampler,
        batch_size=None,
        num_workers=num_workers,
        generator=torch.Generator().manual_seed(0),
    )
    yield from loader
