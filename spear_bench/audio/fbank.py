"""SPEAR's front end: the 128-bin log-Mel filterbank (lhotse ``Fbank`` defaults, kaldi-compatible).

The computation itself is lhotse's ``Wav2LogFilterBank`` (a batched torch implementation
of kaldi's fbank); this module fixes its settings in one typed config and handles
batches of different lengths: each utterance is computed on its own samples (so a
padded batch gives exactly the frames of the unpadded utterances, ``snip_edges=False``
reflects at each utterance's own end) and padding frames are log(1e-10).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from spear_bench.audio.io import SAMPLE_RATE, validate_waveform
from spear_bench.errors import AudioError


@dataclass(frozen=True)
class FbankConfig:
    sample_rate: int = SAMPLE_RATE
    num_mel_bins: int = 128
    frame_length: float = 0.025  # seconds
    frame_shift: float = 0.01  # seconds
    round_to_power_of_two: bool = True  # 400-sample window -> 512-point FFT
    remove_dc_offset: bool = True
    preemph_coeff: float = 0.97
    window_type: str = "povey"
    dither: float = 0.0
    snip_edges: bool = False
    low_freq: float = 20.0
    high_freq: float = -400.0  # negative: offset from Nyquist, i.e. 7600 Hz at 16 kHz
    energy_floor: float = 1e-10  # log(max(energy, floor)); lhotse's EPSILON
    padding_value: float = math.log(1e-10)  # fills the padding frames of a batch

    @property
    def hop_samples(self) -> int:
        return int(round(self.frame_shift * self.sample_rate))

    @property
    def window_samples(self) -> int:
        return int(round(self.frame_length * self.sample_rate))


def num_fbank_frames(num_samples: int, config: FbankConfig = FbankConfig()) -> int:
    """Frames for ``num_samples`` samples; with snip_edges=False this is round(S / hop) (kaldi's rule)."""
    if config.snip_edges:
        return (
            0
            if num_samples < config.window_samples
            else 1 + (num_samples - config.window_samples) // config.hop_samples
        )
    return (num_samples + config.hop_samples // 2) // config.hop_samples


@functools.lru_cache(maxsize=None)
def min_fbank_samples(config: FbankConfig = FbankConfig()) -> int:
    """The shortest waveform the fbank computes: 140 samples (8.75 ms) at SPEAR's settings.

    With snip_edges=False lhotse reflects each edge of the waveform once (kaldi reflects as
    often as needed), so the samples must cover the (window - hop) / 2 reflected before the
    first frame and what the last window reaches past the end.
    """
    if config.snip_edges:
        return config.window_samples
    hop, window = config.hop_samples, config.window_samples
    left = (window - hop) // 2
    n = 1
    while True:
        frames = num_fbank_frames(n, config)
        right = (frames - 1) * hop + window - n - left
        if frames >= 1 and n >= left and right <= n:
            return n
        n += 1


class Fbank(nn.Module):
    """(B, S) waveforms + lengths -> (B, T, num_mel_bins) log-Mel features + frame counts."""

    def __init__(self, config: FbankConfig = FbankConfig()):
        super().__init__()
        from lhotse.features.kaldi.layers import Wav2LogFilterBank  # slow import (lhotse): only when an fbank is made

        self.config = config
        self.extractor = Wav2LogFilterBank(
            sampling_rate=config.sample_rate,
            frame_length=config.frame_length,
            frame_shift=config.frame_shift,
            round_to_power_of_two=config.round_to_power_of_two,
            remove_dc_offset=config.remove_dc_offset,
            preemph_coeff=config.preemph_coeff,
            window_type=config.window_type,
            dither=config.dither,
            snip_edges=config.snip_edges,
            energy_floor=config.energy_floor,
            low_freq=config.low_freq,
            high_freq=config.high_freq,
            num_filters=config.num_mel_bins,
        )

    @torch.no_grad()
    def forward(
        self, waveforms: torch.Tensor, lengths: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if waveforms.dim() == 1:
            waveforms = waveforms.unsqueeze(0)
        batch = waveforms.shape[0]
        if lengths is None:
            lengths = torch.full((batch,), waveforms.shape[1], dtype=torch.long)
        lengths = lengths.to("cpu", torch.long)
        shortest, needed = int(lengths.min()), min_fbank_samples(self.config)
        if shortest < needed:
            rate = self.config.sample_rate
            raise AudioError(
                f"audio of {shortest} samples ({1000 * shortest / rate:.2f} ms) is too short for the fbank: "
                f"it needs at least {needed} samples ({1000 * needed / rate:.2f} ms at {rate} Hz)"
            )
        frame_counts = torch.tensor([num_fbank_frames(int(n), self.config) for n in lengths], dtype=torch.long)
        feats = torch.full(
            (batch, int(frame_counts.max()), self.config.num_mel_bins),
            self.config.padding_value,
            dtype=torch.float32,
            device=waveforms.device,
        )
        if bool((lengths == lengths[0]).all()):
            # Equal lengths: one batched call gives each utterance's own frames.
            out = self.extractor(waveforms[:, : int(lengths[0])].float())
            feats[:, : out.shape[1]] = out
        else:
            for i in range(batch):
                out = self.extractor(waveforms[i : i + 1, : int(lengths[i])].float())
                feats[i, : out.shape[1]] = out[0]
        return feats, frame_counts.to(waveforms.device)


@functools.lru_cache(maxsize=4)
def _extractor(config: FbankConfig) -> Fbank:
    return Fbank(config).eval()


def compute_fbank(wave: torch.Tensor, config: FbankConfig = FbankConfig()) -> torch.Tensor:
    """(S,) waveform at 16 kHz -> (T, num_mel_bins) features."""
    wave = validate_waveform(wave)
    feats, _ = _extractor(config)(wave.unsqueeze(0))
    return feats[0]


def fbank_batch(
    waveforms: torch.Tensor, lengths: torch.Tensor | None = None, config: FbankConfig = FbankConfig()
) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, S) zero-padded waveforms + lengths (B,) -> (feats (B, T, bins) padded with log(1e-10), frame counts (B,))."""
    return _extractor(config).to(waveforms.device)(waveforms, lengths)


# -- long waveforms: the same frames, computed in blocks (bounded memory) --------------------------
# Frames are computed per frame (kaldi framing, ``snip_edges=False``), so a long waveform is cut
# into blocks that overlap by a few frames and the interior frames of each block are exactly the
# frames of the whole signal.

HOP = 160  # samples per fbank frame at 16 kHz
FBANK_BLOCK_FRAMES = 6000  # 60 s of fbank per block
_BLOCK_MARGIN = 2  # frames; frame f covers samples [160 f - 120, 160 f + 280)


def fbank_frames(wave: Tensor, f0: int, f1: int) -> Tensor:
    """(S,) -> (f1 - f0, bins): frames [f0, f1) of the whole waveform's fbank, from the samples they cover.

    Kaldi framing is per frame, so the frames computed from a segment with a margin of
    ``_BLOCK_MARGIN`` frames each side are the frames of the whole waveform (the segment's
    own edge frames, which reflect at the segment's ends, fall in the margin and are dropped).
    """
    m = max(0, f0 - _BLOCK_MARGIN)
    seg = wave[HOP * m : min(int(wave.shape[0]), HOP * (f1 + _BLOCK_MARGIN) + 280)].unsqueeze(0)
    feats, _ = fbank_batch(seg, torch.tensor([seg.shape[1]]))
    return feats[0, f0 - m : f1 - m]


def _fbank_blockwise(wave: Tensor, block_frames: int = FBANK_BLOCK_FRAMES) -> Tensor:
    """(S,) -> (T, bins): the fbank of the whole waveform computed block by block."""
    total = num_fbank_frames(int(wave.shape[0]))
    out = None  # filled block by block: a list of blocks joined by torch.cat would hold the fbank twice
    for f0 in range(0, total, block_frames):
        f1 = min(total, f0 + block_frames)
        block = fbank_frames(wave, f0, f1)
        if out is None:
            out = torch.empty(total, block.shape[1], dtype=block.dtype, device=block.device)
        out[f0:f1] = block
    return out


def waveform_fbank(waveforms: Tensor, lengths: Tensor, block_frames: int = FBANK_BLOCK_FRAMES) -> tuple[Tensor, Tensor]:
    """Padded fbank batch (like spear_bench.audio.fbank_batch), blockwise for long waveforms."""
    lengths = lengths.to("cpu", torch.long)
    longest = int(lengths.max())
    if num_fbank_frames(longest) <= block_frames:
        return fbank_batch(waveforms, lengths)
    pad_value = FbankConfig().padding_value
    feats = [_fbank_blockwise(waveforms[i, : int(n)], block_frames) for i, n in enumerate(lengths)]
    if len(feats) == 1:  # one long recording: no padded copy
        return feats[0].unsqueeze(0).to(waveforms.device), torch.tensor([feats[0].shape[0]], device=waveforms.device)
    out = torch.full((len(feats), max(f.shape[0] for f in feats), feats[0].shape[1]), pad_value, dtype=torch.float32)
    for i, f in enumerate(feats):
        out[i, : f.shape[0]] = f
    return out.to(waveforms.device), torch.tensor([f.shape[0] for f in feats], device=waveforms.device)


__all__ = [
    "Fbank",
    "FbankConfig",
    "compute_fbank",
    "fbank_batch",
    "fbank_frames",
    "min_fbank_samples",
    "num_fbank_frames",
    "waveform_fbank",
]
