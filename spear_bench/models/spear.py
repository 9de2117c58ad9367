"""SPEAR: 128-bin fbank -> Zipformer2 encoder, behind the AudioEncoder interface.

``SpearEncoder.forward(waveforms, lengths)`` computes the fbank (spear_bench.audio) and
runs ``forward_fbank``; both return an EncoderOutput whose ``last_hidden_state`` is the
encoder output (50 Hz, or 25 Hz when ``output_downsampling_factor`` is 2) and whose
``hidden_states`` hold one entry per Zipformer2 layer, each repeated back to 50 Hz.
Inputs longer than ``SpearConfig.long_audio_threshold_s`` are encoded in overlapping
chunks (spear_bench.models.long_audio; see docs/models.md for the approximation).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, fields
from typing import Sequence

import torch
from torch import Tensor

from spear_bench.audio.fbank import FbankConfig, min_fbank_samples, num_fbank_frames, waveform_fbank
from spear_bench.errors import AudioError, ConfigError
from spear_bench.models.base import AudioEncoder, EncoderOutput
from spear_bench.models.long_audio import chunked_forward_fbank, chunked_forward_waveform
from spear_bench.models.zipformer2 import (
    Conv2dSubsampling,
    Zipformer2,
    Zipformer2Config,
    Zipformer2Output,
    make_pad_mask,
)

# encoder_embed's unpadded convolutions need 9 fbank frames for one 50 Hz frame.
MIN_FBANK_FRAMES = 9


@dataclass
class SpearConfig(Zipformer2Config):
    """A SPEAR encoder: Zipformer2 hyper-parameters (reference names) plus inference settings.

    The long-audio and edge-padding settings are not part of the released config.json;
    they are inference settings of the waveform entry.
    """

    name: str = "spear"
    # Waveform entry only: fbank frames replicated before the first and after the last
    # frame of each utterance. The front end's unpadded convolutions consume 7 fbank
    # frames, so without padding S samples give (S / 160 - 7) // 2 frames (196 for 4 s);
    # with 3 + 4 replicated frames they give round(S / 160) // 2 (200 for 4 s), i.e. one
    # frame per 320 samples as s3prl's downsample rate and frame-level labels assume.
    # (0, 0) reproduces the release's front end exactly; forward_fbank never pads.
    edge_pad_frames: tuple[int, int] = (3, 4)
    long_audio_threshold_s: float = 30.0  # inputs longer than this are chunked
    chunk_s: float = 20.0  # centre part of each chunk whose frames are kept
    chunk_context_s: float = 5.0  # extra left and right context per chunk, discarded
    chunk_batch_size: int = 4  # chunks encoded together

    def validate(self) -> None:
        super().validate()
        if self.chunk_s <= 0 or self.chunk_context_s < 0:
            raise ConfigError(
                f"config settings chunk_s={self.chunk_s} / chunk_context_s={self.chunk_context_s} must be positive"
            )
        if len(self.edge_pad_frames) != 2 or min(self.edge_pad_frames) < 0:
            raise ConfigError(f"config setting edge_pad_frames={self.edge_pad_frames} must be two counts >= 0")
        self.edge_pad_frames = tuple(int(n) for n in self.edge_pad_frames)
        if self.chunk_batch_size < 1:
            raise ConfigError(f"config setting chunk_batch_size={self.chunk_batch_size} must be >= 1")

    @classmethod
    def from_dict(cls, values: dict, source: str = "config") -> "SpearConfig":
        """From a released config.json (unknown keys such as ``model_type`` are ignored)."""
        known = {f.name for f in fields(cls)}
        kwargs = {k: v for k, v in values.items() if k in known}
        try:
            return cls(**kwargs)
        except ConfigError as error:
            raise ConfigError(f"{source}: {error}") from None


# Sizes from the paper (Table 8) and the released configs; Base/Large/XLarge use 8 heads,
# query/key head dim 32, value head dim 12, pos head dim 4, pos dim 48.
SPEAR_SIZES: dict[str, SpearConfig] = {
    "base": SpearConfig(
        name="spear_base",
        encoder_dim=512,
        feedforward_dim=1536,
        num_encoder_layers=(1, 2, 3, 3, 1, 1, 1),
        encoder_unmasked_dim=256,
    ),
    "large": SpearConfig(
        name="spear_large",
        encoder_dim=1024,
        feedforward_dim=3072,
        num_encoder_layers=(1, 2, 2, 3, 1, 1, 1),
        encoder_unmasked_dim=512,
    ),
    "xlarge": SpearConfig(
        name="spear_xlarge",
        encoder_dim=1280,
        feedforward_dim=3840,
        num_encoder_layers=(1, 2, 3, 4, 1, 1, 1),
        encoder_unmasked_dim=768,
    ),
    # Test/demo size: the structure of the reference vectors in tests/data/zipformer2-tiny.
    "tiny": SpearConfig(
        name="spear_tiny",
        encoder_dim=96,
        feedforward_dim=192,
        num_encoder_layers=(1, 2, 2, 2, 1, 1, 1),
        encoder_unmasked_dim=64,
        num_heads=4,
        output_downsampling_factor=1,
    ),
}


@dataclass
class SpearForward:
    """All intermediate results of one forward pass (used by the fidelity test and chunking)."""

    embed_out: Tensor  # (B, T50, D0)
    embed_lens: Tensor  # (B,)
    encoder: Zipformer2Output


class SpearEncoder(AudioEncoder):
    """encoder_embed (Conv2dSubsampling) + encoder (Zipformer2); parameter names as released."""

    sample_rate = 16000

    def __init__(self, config: SpearConfig):
        super().__init__()
        self.config = config
        self.encoder_embed = Conv2dSubsampling(config.num_mel_bins, config.encoder_dim[0])
        self.encoder = Zipformer2(config)
        self.frame_rate = 50.0 / config.output_downsampling_factor
        self.hidden_frame_rate = 50.0
        self.hidden_size = config.output_dim
        self.num_hidden_states = config.num_layers

    # -- facts ---------------------------------------------------------------------------

    def num_parameters(self) -> int:
        """Parameters of encoder_embed + encoder (the count the paper reports)."""
        return sum(p.numel() for p in self.parameters())

    @staticmethod
    def num_frames_50hz(num_fbank_frames: int) -> int:
        """50 Hz frames for this many fbank frames given to ``forward_fbank``."""
        return max(0, (num_fbank_frames - 7) // 2)

    def num_frames(self, num_samples: int) -> int:
        """50 Hz frames (every hidden state) for a waveform of ``num_samples`` samples given to ``forward``."""
        return self.num_frames_50hz(num_fbank_frames(num_samples) + sum(self.config.edge_pad_frames))

    def frame_times(self, num_frames: int, hidden: bool = False) -> Tensor:
        """Centre time in seconds of each output frame of ``forward`` (``hidden``: of each 50 Hz hidden-state frame).

        The unpadded convolutions of the front end give 50 Hz frame k the fbank frames
        2k .. 2k + 8 of its input (centre 2k + 4; the ConvNeXt widens the field
        symmetrically), and fbank frame i's 25 ms window is centred at 10 ms x i + 5 ms:
        0.045 + 0.02 k for ``forward_fbank``, shifted back by the replicated left edge
        frames (10 ms each) for ``forward`` (0.015 + 0.02 k with the default 3). With output
        downsampling by 2, output frame m averages 50 Hz frames 2m and 2m + 1.
        """
        k = torch.arange(num_frames, dtype=torch.float64)
        first = 0.045 - 0.01 * self.config.edge_pad_frames[0]
        if hidden or self.config.output_downsampling_factor == 1:
            return first + 0.02 * k
        return first + 0.01 + 0.04 * k

    def pad_fbank_edges(self, fbank: Tensor, fbank_lens: Tensor) -> tuple[Tensor, Tensor]:
        """Replicate each utterance's first and last fbank frames (``config.edge_pad_frames``)."""
        left, right = self.config.edge_pad_frames
        if left == right == 0:
            return fbank, fbank_lens
        batch, frames, bins = fbank.shape
        lens = fbank_lens.to(fbank.device).long()
        new_lens = lens + left + right
        pos = torch.arange(frames + left + right, device=fbank.device)
        # source frame of each output position: clamp into the utterance's own frames
        source = torch.minimum((pos[None, :] - left).clamp(min=0), (lens - 1).clamp(min=0)[:, None])
        out = torch.gather(fbank, 1, source[..., None].expand(batch, -1, bins))
        out = out.masked_fill((pos[None, :] >= new_lens[:, None])[..., None], FbankConfig().padding_value)
        return out, new_lens

    # -- forward -------------------------------------------------------------------------

    def run(self, fbank: Tensor, fbank_lens: Tensor, return_layer_outputs: bool = True) -> SpearForward:
        """One pass over a padded fbank batch, no chunking; every intermediate kept."""
        if fbank.dim() != 3 or fbank.shape[-1] != self.config.num_mel_bins:
            raise ConfigError(f"fbank must be (B, T, {self.config.num_mel_bins}), got {tuple(fbank.shape)}")
        if fbank.shape[1] < MIN_FBANK_FRAMES:
            raise AudioError(f"input too short: {fbank.shape[1]} fbank frames, the encoder needs {MIN_FBANK_FRAMES}")
        fbank_lens = fbank_lens.to(fbank.device)
        embed, embed_lens = self.encoder_embed(fbank, fbank_lens)
        embed_lens = embed_lens.clamp(min=0)
        mask = make_pad_mask(embed_lens, embed.shape[1])
        if not bool(mask.any()):
            mask = None  # equal lengths: masking nothing would only cost masked_fill passes
        out = self.encoder(embed, embed_lens, key_padding_mask=mask, return_layer_outputs=return_layer_outputs)
        return SpearForward(embed_out=embed, embed_lens=embed_lens, encoder=out)

    def hidden_states_50hz(self, result: SpearForward, layers: Sequence[int] | None = None) -> tuple[Tensor, ...]:
        """Per-layer outputs (flat index over stacks) repeated to 50 Hz and cut to the 50 Hz length."""
        t50 = result.embed_out.shape[1]
        flat = []
        for i, stack_outputs in enumerate(result.encoder.layer_outputs):
            ds = self.config.downsampling_factor[i]
            flat.extend((ds, out) for out in stack_outputs)
        chosen = range(len(flat)) if layers is None else layers
        states = []
        for k in chosen:
            ds, out = flat[k]
            states.append(out if ds == 1 else torch.repeat_interleave(out, ds, dim=1)[:, :t50])
        return tuple(states)

    def forward_fbank(
        self,
        fbank: Tensor,
        fbank_lens: Tensor,
        *,
        output_hidden_states: bool = True,
        layers: Sequence[int] | None = None,
    ) -> EncoderOutput:
        """fbank (B, T, 128) at 100 Hz + lengths (B,) -> EncoderOutput.

        ``layers``: keep only these hidden states (0-based layer indices, in this order);
        ``output_hidden_states=False`` keeps none (saves memory for long inputs).
        """
        layers = self._check_layers(layers)
        if fbank.shape[1] > self.long_audio_threshold_frames:
            return chunked_forward_fbank(
                self, fbank, fbank_lens, output_hidden_states=output_hidden_states, layers=layers
            )
        result = self.run(fbank, fbank_lens, return_layer_outputs=output_hidden_states)
        hidden = self.hidden_states_50hz(result, layers) if output_hidden_states else ()
        return EncoderOutput(
            last_hidden_state=result.encoder.encoder_out,
            hidden_states=hidden,
            lengths=result.encoder.encoder_out_lens,
            hidden_lengths=result.embed_lens,
        )

    def forward(
        self,
        waveforms: Tensor,
        lengths: Tensor | None = None,
        *,
        output_hidden_states: bool = True,
        layers: Sequence[int] | None = None,
    ) -> EncoderOutput:
        """waveforms (B, S) float32 at 16 kHz, zero-padded, + lengths (B,) in samples.

        The fbank of each utterance is edge-padded (``config.edge_pad_frames``) before
        ``forward_fbank``: S samples give ``num_frames(S)`` frames, one per 320 samples.
        """
        if waveforms.dim() == 1:
            waveforms = waveforms.unsqueeze(0)
        if lengths is None:
            lengths = torch.full((waveforms.shape[0],), waveforms.shape[1], dtype=torch.long)
        self.check_min_samples(int(lengths.min()))
        padded_frames = num_fbank_frames(int(lengths.max())) + sum(self.config.edge_pad_frames)
        if padded_frames > self.long_audio_threshold_frames:
            # Long audio: each chunk's fbank from its own samples, never the whole fbank at once.
            return chunked_forward_waveform(
                self, waveforms, lengths, output_hidden_states=output_hidden_states, layers=self._check_layers(layers)
            )
        feats, feat_lens = self.pad_fbank_edges(*waveform_fbank(waveforms, lengths))
        return self.forward_fbank(feats, feat_lens, output_hidden_states=output_hidden_states, layers=layers)

    # -- helpers -------------------------------------------------------------------------

    @property
    def min_samples(self) -> int:
        """The shortest waveform ``forward`` takes: one the fbank computes and that gives one output frame."""
        n = min_fbank_samples()
        while self.num_frames(n) < 1:  # i.e. fewer than MIN_FBANK_FRAMES with the replicated edge frames
            n += 1
        return n

    @property
    def long_audio_threshold_frames(self) -> int:
        return int(round(self.config.long_audio_threshold_s * 100))

    def _check_layers(self, layers: Sequence[int] | None) -> list[int] | None:
        if layers is None:
            return None
        n = self.num_hidden_states
        out = []
        for k in layers:
            k = int(k)
            if not -n <= k < n:
                raise ConfigError(f"layer {k} out of range: this encoder has {n} hidden states (0..{n - 1})")
            out.append(k % n)
        return out


def spear_config(size: str, **overrides) -> SpearConfig:
    """The config of a named size (base, large, xlarge, tiny), with optional overrides."""
    if size not in SPEAR_SIZES:
        raise ConfigError(f"unknown SPEAR size {size!r}; known: {', '.join(SPEAR_SIZES)}")
    return dataclasses.replace(SPEAR_SIZES[size], **overrides)
