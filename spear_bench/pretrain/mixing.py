"""Data augmentation of SPEAR pre-training: token mixing (paper Sec. 3.2.3) and noise mixing.

Token mixing (facts from the paper, Sec. 3.2.3, 4 and B.2, and the release):
- Applied to ``prob`` (10 %) of the speech samples of a batch; the second signal w' is
  another sample of the same batch (speech or audio).
- w' is scaled so that P(w) / P(g w') matches an SNR drawn uniformly from (-5, 5) dB,
  where P is the mean power over each signal's full length, and added to w at a random
  delay tau (frames, up to ``max_delay_seconds``; the release uses 2 s) at its full
  length: the mixture lasts max(len(w), tau + len(w')).
- beta = P(g w') / (P(w) + P(g w')) = 1 / (1 + 10^(SNR/10)). On the overlap, each target
  token z_{t,n} is replaced by w''s token at the same instant, z'_{t - tau, n}, with
  probability beta (independently per frame and codebook, as Eq. 4 and the release do;
  ``per_codebook: false`` switches whole frames). Where only w' sounds (after w ends),
  the target is z'. This applies to the token set ``token_set`` (speech); the other
  token sets keep w's own targets (none after w ends).

Noise mixing: a noise clip (MUSAN in the paper; any folder of noise files here) cropped
or looped to the sample's length, at an SNR drawn from (10, 20) dB; targets unchanged.
Samples that are token-mixed are not also noise-mixed.

Every draw takes the caller's ``torch.Generator`` (exact resume).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from spear_bench.errors import ConfigError
from spear_bench.pretrain.losses import IGNORE_INDEX
from spear_bench.pretrain.strategies import SPEECH

TOKEN_HOP = 320  # samples per 50 Hz target frame


@dataclass(frozen=True)
class TokenMixingConfig:
    prob: float = 0.1
    snr_min: float = -5.0
    snr_max: float = 5.0
    max_delay_seconds: float = 2.0
    per_codebook: bool = True
    token_set: str = SPEECH


@dataclass(frozen=True)
class NoiseMixingConfig:
    prob_speech: float = 0.1
    prob_audio: float = 0.5
    snr_min: float = 10.0
    snr_max: float = 20.0


@dataclass
class Sample:
    """One utterance on its way into a batch: waveform (S,) and 50 Hz targets (T, N) per token set."""

    cut_id: str
    wave: torch.Tensor
    domain: str
    tokens: dict[str, torch.Tensor] = field(default_factory=dict)
    mixed_with: str | None = None  # id of the token-mixed second utterance
    beta: float = 0.0
    noise_snr: float | None = None


def beta_from_snr(snr_db: float) -> float:
    """Share of the second signal's power in the mixture: P(w')/(P(w)+P(w')) = 1/(1+10^(SNR/10))."""
    return 1.0 / (1.0 + 10.0 ** (snr_db / 10.0))


def signal_power(wave: torch.Tensor) -> float:
    return float(wave.double().pow(2).mean())


def gain_for_snr(primary: torch.Tensor, secondary: torch.Tensor, snr_db: float) -> float:
    """Gain g such that P(primary) / P(g * secondary) = 10^(snr/10) (0 for a silent secondary)."""
    secondary_power = signal_power(secondary)
    if secondary_power <= 1e-12:
        return 0.0
    return math.sqrt(signal_power(primary) / (secondary_power * 10.0 ** (snr_db / 10.0)))


def beta_from_powers(primary_power: float, secondary_power: float) -> float:
    total = primary_power + secondary_power
    return secondary_power / total if total > 0 else 0.0


def mix_waveforms(primary: torch.Tensor, secondary: torch.Tensor, delay_samples: int) -> torch.Tensor:
    """primary + secondary delayed by ``delay_samples``, both at full length."""
    length = max(primary.numel(), delay_samples + secondary.numel())
    out = torch.zeros(length, dtype=primary.dtype)
    out[: primary.numel()] += primary
    out[delay_samples : delay_samples + secondary.numel()] += secondary.to(primary.dtype)
    return out


def mix_token_sequences(
    primary: torch.Tensor,
    secondary: torch.Tensor,
    beta: float,
    delay_frames: int,
    generator: torch.Generator,
    per_codebook: bool = True,
) -> torch.Tensor:
    """Eq. 4: targets of the mixture. primary (T, N), secondary (T', N) -> (max(T, tau + T'), N).

    Frame t of the mixture holds w's frame t and w''s frame t - tau; on the overlap the
    target is switched to w''s token with probability ``beta``.
    """
    frames, num_codebooks = primary.shape
    length = max(frames, delay_frames + secondary.shape[0])
    out = torch.full((length, num_codebooks), IGNORE_INDEX, dtype=torch.long)
    out[:frames] = primary
    overlap_end = min(frames, delay_frames + secondary.shape[0])
    if overlap_end > delay_frames:
        span = overlap_end - delay_frames
        shape = (span, num_codebooks) if per_codebook else (span, 1)
        switch = (torch.rand(shape, generator=generator) < beta).expand(span, num_codebooks)
        region = out[delay_frames:overlap_end]
        out[delay_frames:overlap_end] = torch.where(switch, secondary[:span].long(), region)
    tail_start = max(frames, delay_frames)
    if length > tail_start:
        out[tail_start:length] = secondary[tail_start - delay_frames : length - delay_frames].long()
    return out


def _uniform(low: float, high: float, generator: torch.Generator) -> float:
    return low + (high - low) * float(torch.rand((), generator=generator))


def _fit_noise(noise: torch.Tensor, length: int, generator: torch.Generator) -> torch.Tensor:
    """A random ``length``-sample stretch of ``noise`` (looped when shorter)."""
    if noise.numel() < length:
        noise = noise.repeat(length // noise.numel() + 1)
    start = int(torch.randint(0, noise.numel() - length + 1, (), generator=generator))
    return noise[start : start + length]


def token_mix_sample(sample: Sample, other: Sample, config: TokenMixingConfig, generator: torch.Generator) -> Sample:
    """Mix ``other`` into ``sample`` (waveforms and ``config.token_set`` targets)."""
    name = config.token_set
    snr = _uniform(config.snr_min, config.snr_max, generator)
    primary_frames = sample.tokens[name].shape[0]
    max_delay = min(int(round(config.max_delay_seconds * 1000 / 20)), primary_frames)
    delay = int(torch.randint(0, max_delay + 1, (), generator=generator))
    gain = gain_for_snr(sample.wave, other.wave, snr)
    scaled = other.wave * gain
    beta = beta_from_powers(signal_power(sample.wave), signal_power(scaled))
    wave = mix_waveforms(sample.wave, scaled, delay * TOKEN_HOP)
    tokens = dict(sample.tokens)
    tokens[name] = mix_token_sequences(
        sample.tokens[name], other.tokens[name], beta, delay, generator, config.per_codebook
    )
    return Sample(sample.cut_id, wave, sample.domain, tokens, mixed_with=other.cut_id, beta=beta)


def noise_mix_sample(
    sample: Sample, noise: torch.Tensor, config: NoiseMixingConfig, generator: torch.Generator
) -> Sample:
    snr = _uniform(config.snr_min, config.snr_max, generator)
    stretch = _fit_noise(noise, sample.wave.numel(), generator)
    wave = sample.wave + gain_for_snr(sample.wave, stretch, snr) * stretch
    return Sample(sample.cut_id, wave, sample.domain, dict(sample.tokens), noise_snr=snr)


def augment_batch(
    samples: list[Sample],
    token_mixing: TokenMixingConfig | None,
    noise_mixing: NoiseMixingConfig | None,
    noises: list[torch.Tensor],
    generator: torch.Generator,
) -> list[Sample]:
    """Token mixing for speech samples (partner from the same batch), else noise mixing; in batch order."""
    out: list[Sample] = []
    for index, sample in enumerate(samples):
        if token_mixing is not None and token_mixing.prob > 0 and sample.domain == SPEECH:
            name = token_mixing.token_set
            partners = [j for j, s in enumerate(samples) if j != index and name in s.tokens]
            if name not in sample.tokens:
                raise ConfigError(f"token mixing: sample {sample.cut_id!r} has no {name!r} tokens")
            if partners and float(torch.rand((), generator=generator)) < token_mixing.prob:
                partner = partners[int(torch.randint(0, len(partners), (), generator=generator))]
                out.append(token_mix_sample(sample, samples[partner], token_mixing, generator))
                continue
        if noise_mixing is not None and noises:
            prob = noise_mixing.prob_speech if sample.domain == SPEECH else noise_mixing.prob_audio
            if prob > 0 and float(torch.rand((), generator=generator)) < prob:
                noise = noises[int(torch.randint(0, len(noises), (), generator=generator))]
                out.append(noise_mix_sample(sample, noise, noise_mixing, generator))
                continue
        out.append(sample)
    return out
