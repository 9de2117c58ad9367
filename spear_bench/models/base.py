"""What every encoder in spear-bench (SPEAR and the baselines) looks like from outside."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from spear_bench.errors import AudioError


@dataclass
class EncoderOutput:
    """Output of an encoder forward.

    last_hidden_state: (B, T, D) at the encoder's output frame rate.
    hidden_states: one (B, T_h, D_h) tensor per layer; for SPEAR every entry is at 50 Hz.
    lengths: (B,) valid frames of ``last_hidden_state``.
    hidden_lengths: (B,) valid frames of each hidden state (equal to ``lengths`` when the
        output frame rate equals the hidden-state rate).
    """

    last_hidden_state: torch.Tensor
    hidden_states: tuple[torch.Tensor, ...]
    lengths: torch.Tensor
    hidden_lengths: torch.Tensor | None = None

    def __post_init__(self):
        if self.hidden_lengths is None:
            self.hidden_lengths = self.lengths


class AudioEncoder(nn.Module):
    """Base class of all encoders: waveform (B, S) at ``sample_rate`` + lengths (B,) -> EncoderOutput.

    Subclasses set ``sample_rate`` (Hz), ``frame_rate`` (Hz of ``last_hidden_state``),
    ``hidden_size`` (D of ``last_hidden_state``), ``num_hidden_states`` and
    ``hidden_frame_rate`` (Hz of the entries of ``hidden_states``).
    """

    sample_rate: int = 16000
    frame_rate: float = 50.0
    hidden_frame_rate: float = 50.0
    hidden_size: int
    num_hidden_states: int
    min_samples: int = 1  # the shortest waveform forward accepts (samples at sample_rate)

    def check_min_samples(self, num_samples: int) -> None:
        """A one-line AudioError when a waveform of ``num_samples`` is shorter than ``min_samples``."""
        if num_samples < self.min_samples:
            name = getattr(getattr(self, "config", None), "name", None) or type(self).__name__
            raise AudioError(
                f"audio of {num_samples} samples ({1000 * num_samples / self.sample_rate:.2f} ms) is too short for "
                f"{name}: it needs at least {self.min_samples} samples "
                f"({1000 * self.min_samples / self.sample_rate:.2f} ms at {self.sample_rate} Hz)"
            )

    def forward(self, waveforms: torch.Tensor, lengths: torch.Tensor) -> EncoderOutput:  # pragma: no cover - abstract
        raise NotImplementedError
