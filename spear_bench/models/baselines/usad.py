"""USAD Base / Large (Universal Speech and Audio Distillation, Chang et al., ASRU 2025).

USAD is released only as Hugging Face remote code (MIT-SLS/USAD-{Small,Base,Large}:
configuration_usad.py, modeling_usad.py, usad_model.py, usad_modules.py). Facts used here
(from the model cards, config.json of USAD-Large and the published parts of usad_model.py):
- Input 16 kHz; features: Kaldi fbank of the mean-removed waveform, 128 bins, 25 ms /
  10 ms, Hann window, htk_compat, no energy, no dither, normalised as
  (fbank - (-4.268)) / (2 * 4.569).
- Student encoder at 50 Hz (fbank frames subsampled by 2 with a "framewise" convolutional
  subsampler of 64 channels and a normalisation), a convolutional positional encoding
  (depth 5, width 95, 16 groups), then ``num_layers`` blocks; ``transformer_style=True``
  in every release, with multi-head self-attention ("mhsa") and FFN expansion 4.
- Sizes: Small 384 x 12 (6 heads, 24M), Base 768 x 12 (12 heads, 94M), Large 1024 x 24
  (16 heads, 330M). The forward returns ``x`` (final output), ``mel``, ``hidden_states``
  (one per layer) and ``ffn``.

What is NOT published in a form we could read: the exact module layout of usad_modules.py
(parameter names, activation, where LayerNorms sit). This module builds the architecture
from the facts above (pre-LN transformer blocks, SiLU FFN as in the Conformer code whose
option names the config reuses, data2vec-2.0-style convolutional positional encoding
with kernel width // depth). Its parameter counts are within about 1 % (Base) and 4 %
(Large) of the published ones (see docs/upstreams.md). Released weights therefore load in
one of two ways from a local folder:
1. the downloaded snapshot with its remote code (``modeling_usad.py`` present): the
   release's own classes are built from the folder (transformers' dynamic-module loader,
   local files only) and its weights loaded strictly, so the authors' code computes the
   features (exact);
2. a folder with only config.json + weights: loaded into this reconstruction, strictly;
   a key mismatch is a one-line CheckpointError saying so.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import torch
import torchaudio.compliance.kaldi  # noqa: F401 - imported here, not inside a caller's torch.device("meta") block
from safetensors.torch import load_file, save_file
from torch import nn

from spear_bench.errors import CheckpointError, ConfigError
from spear_bench.models.base import AudioEncoder, EncoderOutput
from spear_bench.models.baselines._common import existing_path, padding_mask, seeded_init, with_overrides

FBANK_WINDOW = 400  # samples (25 ms)
FBANK_SHIFT = 160  # samples (10 ms)
FBANK_MEAN = -4.268
FBANK_STD = 4.569


@dataclass(frozen=True)
class UsadConfig:
    """The fields of the release's config.json that shape the encoder (same names)."""

    encoder_dim: int = 384
    num_layers: int = 12
    num_attention_heads: int = 6
    attention_type: str = "mhsa"
    feed_forward_expansion_factor: int = 4
    conv_expansion_factor: int = 2
    conv_kernel_size: int = 31
    half_step_residual: bool = True
    transformer_style: bool = True
    use_framewise_subsample: bool = True
    use_patchwise_subsample: bool = False
    conv_subsample_channels: int = 64
    conv_subsample_rate: int = 2
    input_dim: int = 128
    conv_pos: bool = True
    conv_pos_depth: int = 5
    conv_pos_width: int = 95
    conv_pos_groups: int = 16
    subsample_normalization: bool = True

    @classmethod
    def from_json(cls, path: Path) -> "UsadConfig":
        data = json.loads(path.read_text())
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


USAD_SIZES = {
    "usad_base": UsadConfig(encoder_dim=768, num_layers=12, num_attention_heads=12),
    "usad_large": UsadConfig(encoder_dim=1024, num_layers=24, num_attention_heads=16),
}


def usad_fbank(waveform: torch.Tensor, mel_dim: int = 128) -> torch.Tensor:
    """(S,) -> (T, mel_dim) normalised fbank, T = 1 + (S - 400) // 160 (the release's recipe)."""
    wave = waveform.float()
    wave = wave - wave.mean()
    feats = torchaudio.compliance.kaldi.fbank(
        wave[None],
        htk_compat=True,
        sample_frequency=16000,
        use_energy=False,
        window_type="hanning",
        num_mel_bins=mel_dim,
        dither=0.0,
        frame_shift=10,
    )
    return (feats - FBANK_MEAN) / (FBANK_STD * 2)


class FramewiseSubsampler(nn.Module):
    """Two 3x3 convolutions, the first striding time by ``rate`` (frequency kept), then Linear to dim."""

    def __init__(self, input_dim: int, channels: int, rate: int, dim: int, normalize: bool):
        super().__init__()
        self.rate = rate
        self.conv1 = nn.Conv2d(1, channels, 3, stride=(rate, 1), padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, stride=1, padding=1)
        self.proj = nn.Linear(channels * input_dim, dim)
        self.norm = nn.LayerNorm(dim) if normalize else nn.Identity()

    def output_lengths(self, lengths: torch.Tensor) -> torch.Tensor:
        return (lengths - 1) // self.rate + 1

    def forward(self, feats: torch.Tensor, feat_lengths: torch.Tensor) -> torch.Tensor:
        """(B, T, F) -> (B, ceil(T / rate), dim); padded frames are zeroed between the convolutions,
        so an utterance's output does not depend on how much padding its batch has."""
        x = nn.functional.gelu(self.conv1(feats[:, None]))  # (B, C, T', F)
        pad = padding_mask(self.output_lengths(feat_lengths), x.shape[2])
        x = x.masked_fill(pad[:, None, :, None], 0.0)
        x = nn.functional.gelu(self.conv2(x))
        x = x.permute(0, 2, 1, 3).flatten(2)
        return self.norm(self.proj(x))


class ConvPositionalEncoding(nn.Module):
    """``depth`` grouped 1-D convolutions (kernel width // depth), each + LayerNorm (no affine) + GELU; added to x."""

    def __init__(self, dim: int, depth: int, width: int, groups: int):
        super().__init__()
        kernel = max(3, width // depth)
        kernel += 1 - kernel % 2  # odd, so "same" padding keeps the length
        self.convs = nn.ModuleList(
            nn.Conv1d(dim, dim, kernel, padding=kernel // 2, groups=groups) for _ in range(depth)
        )
        self.norms = nn.ModuleList(nn.LayerNorm(dim, elementwise_affine=False) for _ in range(depth))

    def forward(self, x: torch.Tensor, pad: torch.Tensor) -> torch.Tensor:
        y = x.masked_fill(pad[..., None], 0.0)
        for conv, norm in zip(self.convs, self.norms):
            y = nn.functional.gelu(norm(conv(y.transpose(1, 2)).transpose(1, 2)))
            y = y.masked_fill(pad[..., None], 0.0)
        return x + y


class TransformerBlock(nn.Module):
    """Pre-LN block: x + MHSA(LN(x)); x + FFN(LN(x)) with a SiLU FFN of ``expansion`` x dim."""

    def __init__(self, dim: int, heads: int, expansion: int):
        super().__init__()
        self.attn_norm = nn.LayerNorm(dim)
        self.attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.ffn_norm = nn.LayerNorm(dim)
        self.ffn = nn.Sequential(nn.Linear(dim, dim * expansion), nn.SiLU(), nn.Linear(dim * expansion, dim))

    def forward(self, x: torch.Tensor, pad: torch.Tensor) -> torch.Tensor:
        h = self.attn_norm(x)
        x = x + self.attn(h, h, h, key_padding_mask=pad, need_weights=False)[0]
        return x + self.ffn(self.ffn_norm(x))


class UsadModel(nn.Module):
    """fbank (B, T, 128) -> subsampler -> conv positional encoding -> blocks -> LayerNorm."""

    def __init__(self, config: UsadConfig):
        super().__init__()
        if not config.transformer_style or config.attention_type != "mhsa" or not config.use_framewise_subsample:
            raise ConfigError(
                "USAD: only transformer_style=true, attention_type='mhsa', use_framewise_subsample=true "
                "(every released checkpoint) are implemented"
            )
        dim = config.encoder_dim
        self.config = config
        self.subsample = FramewiseSubsampler(
            config.input_dim,
            config.conv_subsample_channels,
            config.conv_subsample_rate,
            dim,
            config.subsample_normalization,
        )
        self.pos_conv = (
            ConvPositionalEncoding(dim, config.conv_pos_depth, config.conv_pos_width, config.conv_pos_groups)
            if config.conv_pos
            else None
        )
        self.layers = nn.ModuleList(
            TransformerBlock(dim, config.num_attention_heads, config.feed_forward_expansion_factor)
            for _ in range(config.num_layers)
        )
        self.final_norm = nn.LayerNorm(dim)

    def forward(self, feats: torch.Tensor, feat_lengths: torch.Tensor):
        x = self.subsample(feats, feat_lengths)
        lengths = self.subsample.output_lengths(feat_lengths).clamp(max=x.shape[1])
        pad = padding_mask(lengths, x.shape[1])
        if self.pos_conv is not None:
            x = self.pos_conv(x, pad)
        hidden = [x]
        for index, layer in enumerate(self.layers):
            x = layer(x, pad)
            hidden.append(self.final_norm(x) if index == len(self.layers) - 1 else x)
        return hidden[-1], tuple(hidden), lengths


class UsadEncoder(AudioEncoder):
    """The USAD reconstruction behind the AudioEncoder interface (50 Hz, num_layers + 1 hidden states)."""

    frame_rate = 50.0
    hidden_frame_rate = 50.0
    frame_centre_offset_ms = 12.5  # fbank frame k centred at 10k + 12.5 ms; output j centred on frame 2j
    min_samples = FBANK_WINDOW  # kaldi's fbank with snip_edges needs one whole window

    def __init__(self, config: UsadConfig):
        super().__init__()
        self.model = UsadModel(config)
        self.hidden_size = config.encoder_dim
        self.num_hidden_states = config.num_layers + 1

    def forward(self, waveforms: torch.Tensor, lengths: torch.Tensor) -> EncoderOutput:
        # Shorter utterances of a batch are zero-padded to a whole window; the batch itself must hold one.
        self.check_min_samples(int(waveforms.shape[1]))
        feats, feat_lengths = _fbank_batch(waveforms, lengths, self.model.config.input_dim)
        last, hidden, frames = self.model(feats, feat_lengths)
        return EncoderOutput(last, hidden, frames)


class RemoteCodeUsadEncoder(AudioEncoder):
    """The authors' released model (their remote code, from a local folder) behind the AudioEncoder interface.

    Utterances are encoded one at a time (the released forward takes unpadded waveforms).
    """

    frame_rate = 50.0
    hidden_frame_rate = 50.0
    frame_centre_offset_ms = UsadEncoder.frame_centre_offset_ms

    def __init__(self, model):
        super().__init__()
        self.model = model
        self.hidden_size = int(model.config.encoder_dim)
        self.num_hidden_states = None  # known after the first forward

    def forward(self, waveforms: torch.Tensor, lengths: torch.Tensor) -> EncoderOutput:
        per_utterance = []
        for wave, length in zip(waveforms, lengths.tolist()):
            result = self.model(wave[None, : max(int(length), FBANK_WINDOW)])
            per_utterance.append((result["x"][0], [h[0] for h in result["hidden_states"]]))
        frames = torch.tensor([x.shape[0] for x, _ in per_utterance], device=waveforms.device)
        pad = nn.utils.rnn.pad_sequence
        last = pad([x for x, _ in per_utterance], batch_first=True)
        hidden = tuple(pad(list(layer), batch_first=True) for layer in zip(*(h for _, h in per_utterance)))
        self.num_hidden_states = len(hidden)
        return EncoderOutput(last, hidden, frames)


def _fbank_batch(waveforms: torch.Tensor, lengths: torch.Tensor, mel_dim: int):
    feats = [usad_fbank(w[: max(int(n), FBANK_WINDOW)], mel_dim) for w, n in zip(waveforms, lengths.tolist())]
    feat_lengths = torch.tensor([f.shape[0] for f in feats], device=waveforms.device)
    return nn.utils.rnn.pad_sequence(feats, batch_first=True), feat_lengths


def _strip_prefix(state: dict, prefix: str = "model.") -> dict:
    return {k[len(prefix) :] if k.startswith(prefix) else k: v for k, v in state.items()}


def _load_weights(folder: Path) -> dict:
    if (folder / "model.safetensors").is_file():
        return load_file(str(folder / "model.safetensors"))
    if (folder / "pytorch_model.bin").is_file():
        return torch.load(str(folder / "pytorch_model.bin"), map_location="cpu", weights_only=True)
    raise CheckpointError(f"USAD: no model.safetensors or pytorch_model.bin in {str(folder)!r}")


def _load_remote_code_model(folder: Path, name: str):
    """The release's own classes (remote code in ``folder``) with its weights, loaded strictly.

    Not ``AutoModel.from_pretrained``: the release's ``USADModel.__init__`` does not call
    ``post_init()``, which transformers 5 requires of from_pretrained models (it fails with
    "no attribute 'all_tied_weights_keys'"); building the class and loading the state dict
    ourselves needs only the remote code itself.
    """
    from transformers import AutoConfig  # heavy optional dependency: only for the release's remote code
    from transformers.dynamic_module_utils import get_class_from_dynamic_module  # (as above)

    try:
        config = AutoConfig.from_pretrained(str(folder), trust_remote_code=True, local_files_only=True)
        model_class = get_class_from_dynamic_module(config.auto_map["AutoModel"], str(folder), local_files_only=True)
        model = model_class(config)
    except Exception as error:  # noqa: BLE001 - the release's own code failed
        raise CheckpointError(
            f"{name}: the remote code in {str(folder)!r} failed to build the model: {error}"
        ) from error
    missing, unexpected = model.load_state_dict(_load_weights(folder), strict=False)
    if missing or unexpected:
        raise CheckpointError(
            f"{name}: weights in {str(folder)!r} do not fit its remote code "
            f"({len(missing)} missing, {len(unexpected)} unexpected keys)"
        )
    return model.eval()


def build_usad(name: str, path: str | None = None, seed: int = 0, **overrides) -> AudioEncoder:
    """USAD ``name`` (a key of USAD_SIZES): random init (seeded) or a local Hugging Face folder (see module doc)."""
    config = with_overrides(USAD_SIZES[name], overrides, name)
    if path is None:
        with seeded_init(seed):
            return UsadEncoder(config).eval()
    folder = existing_path(path, name)
    if not folder.is_dir() or not (folder / "config.json").is_file():
        raise CheckpointError(f"{name}: {str(path)!r} is not a Hugging Face USAD folder (config.json + weights)")
    if (folder / "modeling_usad.py").is_file():
        return RemoteCodeUsadEncoder(_load_remote_code_model(folder, name)).eval()
    encoder = UsadEncoder(UsadConfig.from_json(folder / "config.json"))
    state = _strip_prefix(_load_weights(folder))
    missing, unexpected = encoder.model.load_state_dict(state, strict=False)
    if missing or unexpected:
        example = (list(missing) + list(unexpected))[:3]
        raise CheckpointError(
            f"{name}: weights in {str(path)!r} do not match the reconstructed USAD architecture "
            f"({len(missing)} missing, {len(unexpected)} unexpected keys, e.g. {example}); "
            "keep the release's remote code (modeling_usad.py) in the folder to load it with the authors' code"
        )
    return encoder.eval()


def save_usad(encoder: UsadEncoder, folder: str | Path) -> Path:
    """Write ``encoder`` as config.json + model.safetensors (keys under ``model.``, as the release's wrapper)."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps({"model_type": "usad", **asdict(encoder.model.config)}, indent=2))
    save_file(
        {f"model.{k}": v.contiguous() for k, v in encoder.model.state_dict().items()}, str(out / "model.safetensors")
    )
    return out


def build_usad_base(path: str | None = None, seed: int = 0, **overrides) -> AudioEncoder:
    return build_usad("usad_base", path, seed, **overrides)


def build_usad_large(path: str | None = None, seed: int = 0, **overrides) -> AudioEncoder:
    return build_usad("usad_large", path, seed, **overrides)
