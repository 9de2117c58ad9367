"""Any registered AudioEncoder as an s3prl upstream, a HEAR model and a frame embedder.

- :class:`UpstreamExpert`: s3prl's upstream interface (a list of unpadded 1-D 16 kHz
  waves -> ``{"hidden_states": [(B, T, D), ...]}``, exact ``get_downsample_rates``).
- :func:`hub_entries` / :func:`register`: the hub names (``spear_base`` ...,
  ``spear_local``, ``spear_bench_<baseline>``) set on ``s3prl.hub`` so that
  ``s3prl.nn.S3PRLUpstream(name)`` and s3prl's runners find them.
- :class:`FrameEmbedder`: frame embeddings with timestamps (HEAR's
  ``get_timestamp_embeddings``), long audio chunked on the encoder's frame grid; used by
  the HEAR modules (``hear_spear``) and the X-ARES adapter.

Everything here is model-agnostic: models are resolved through the registry
(``spear_bench.models.registry``), never by string switches.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import torch
import yaml
from torch import nn

from spear_bench.compat.s3prl import apply_s3prl_compat
from spear_bench.errors import CheckpointError, ConfigError
from spear_bench.models.base import AudioEncoder, EncoderOutput
from spear_bench.models.checkpoint import load_spear_checkpoint
from spear_bench.models.model_ref import ModelRef
from spear_bench.models.registry import ModelBundle, get_bundle, model_names

BASELINE_HUB_PREFIX = "spear_bench_"  # s3prl has its own wavlm_* entries; ours must not clash
LOCAL_SPEAR_ENTRY = "spear_local"
# Batches shorter than this are zero-padded before encoding: SPEAR's front end needs 9 fbank
# frames (~90 ms) and s3prl's S3PRLUpstream only pads to 50 ms.
MIN_BATCH_SAMPLES = 1600


# ----------------------------------------------------------------------------- encoders


def build_encoder(
    model: str | None, path: str | None = None, seed: int = 0, overrides: dict | None = None
) -> AudioEncoder:
    """A registered model (random init, or weights from ``path``), or a SPEAR checkpoint when ``model`` is None.

    ``overrides`` change the model's size (baselines accept them; tests use tiny sizes).
    Errors are one-line ConfigError (unknown name, bad override) or CheckpointError (path).
    """
    if path is not None and not Path(path).expanduser().exists():
        raise CheckpointError(f"checkpoint path {str(path)!r} does not exist")
    if model is None:
        if path is None:
            raise ConfigError(f"{LOCAL_SPEAR_ENTRY} needs a checkpoint: pass ckpt=<folder or weights file>")
        return load_spear_checkpoint(str(path)).eval()
    return get_bundle(model).build(path, seed, **(overrides or {}))


def samples_per_frame(encoder: AudioEncoder, frame_rate: float) -> int:
    """The exact hop in samples; a non-integer hop cannot be an s3prl downsample rate."""
    hop = encoder.sample_rate / frame_rate
    if abs(hop - round(hop)) > 1e-6:
        raise ConfigError(
            f"{type(encoder).__name__}: frame rate {frame_rate} Hz is not an integer hop at {encoder.sample_rate} Hz"
        )
    return int(round(hop))


# ----------------------------------------------------------------------------- s3prl


@dataclass(frozen=True)
class HubEntry:
    hub_name: str  # attribute name on s3prl.hub
    model: str | None  # registered model; None: a SPEAR checkpoint decides (spear_local)
    description: str


def hub_name(bundle: ModelBundle) -> str:
    """The s3prl hub name of a registered model: SPEAR's own name, ``spear_bench_<name>`` for the others."""
    return bundle.name if bundle.family == "spear" else BASELINE_HUB_PREFIX + bundle.name


def hub_entries() -> dict[str, HubEntry]:
    """Every s3prl hub entry this project provides, derived from the model registry."""
    entries = {}
    for name in model_names():
        bundle = get_bundle(name)
        entries[hub_name(bundle)] = HubEntry(hub_name(bundle), name, bundle.description)
    entries[LOCAL_SPEAR_ENTRY] = HubEntry(
        LOCAL_SPEAR_ENTRY,
        None,
        "SPEAR from a local checkpoint (ckpt = folder with config.json + weights, or the weights file)",
    )
    return entries


def _read_model_config(model_config) -> dict:
    """s3prl passes ``model_config`` as a file path (yaml/json) or None; a dict is accepted too."""
    if model_config is None or model_config == "":
        return {}
    if isinstance(model_config, dict):
        return dict(model_config)
    path = Path(model_config)
    if not path.is_file():
        raise ConfigError(f"upstream model_config {str(model_config)!r} is not a file")
    if path.suffix == ".json":
        data = json.loads(path.read_text())
    else:
        data = yaml.safe_load(path.read_text()) or {}
    if not isinstance(data, dict):
        raise ConfigError(f"upstream model_config {str(model_config)!r} must hold a mapping")
    return data


class UpstreamExpert(nn.Module):
    """s3prl's UpstreamExpert around any registered AudioEncoder.

    Args (as s3prl's hub calls them): ``ckpt`` (weights path; for ``spear_local`` the
    SPEAR checkpoint), ``model_config`` (optional yaml/json with ``seed`` and
    ``overrides``), ``refresh`` (ignored: nothing is downloaded). Keyword arguments
    ``model``, ``seed`` and size overrides (``extra_conf`` of S3PRLUpstream) are accepted.
    """

    def __init__(
        self,
        ckpt: str | None = None,
        model_config=None,
        refresh: bool = False,
        *,
        model: str | None = None,
        seed: int = 0,
        **overrides,
    ):
        super().__init__()
        config = _read_model_config(model_config)
        seed = int(config.get("seed", seed))
        overrides = {**config.get("overrides", {}), **overrides}
        self.model_name = model
        self.encoder = build_encoder(model, ckpt or None, seed, overrides)
        self._downsample_rate = samples_per_frame(self.encoder, self.encoder.hidden_frame_rate)

    def get_downsample_rates(self, key: str) -> int:
        return self._downsample_rate

    def forward(self, wavs: Sequence[torch.Tensor]) -> dict:
        lengths = torch.tensor([len(w) for w in wavs], device=wavs[0].device)
        padded = nn.utils.rnn.pad_sequence([w.reshape(-1) for w in wavs], batch_first=True)
        if padded.shape[1] < MIN_BATCH_SAMPLES:
            padded = nn.functional.pad(padded, (0, MIN_BATCH_SAMPLES - padded.shape[1]))
        out = self.encoder(padded, lengths)
        hidden_states = list(out.hidden_states)
        result = {"hidden_states": hidden_states}
        if out.last_hidden_state.shape[1] == hidden_states[0].shape[1]:
            result["last_hidden_state"] = out.last_hidden_state
        for index, state in enumerate(hidden_states):
            result[f"hidden_state_{index}"] = state
        return result


@functools.lru_cache(maxsize=None)
def make_hub_entry(entry: HubEntry):
    """The s3prl hub function for ``entry``: ``f(ckpt=None, model_config=None, refresh=False, **kwargs)``.

    One function per entry (cached): spear_s3prl.hubconf and :func:`register` hand out the same objects.
    """

    def hub_function(ckpt: str | None = None, model_config=None, refresh: bool = False, **kwargs) -> UpstreamExpert:
        return UpstreamExpert(ckpt, model_config, refresh, model=entry.model, **kwargs)

    hub_function.__name__ = hub_function.__qualname__ = entry.hub_name
    hub_function.__doc__ = f"{entry.description}. Random init unless ckpt gives weights."
    return hub_function


def register(hub=None) -> list[str]:
    """Set our entries on ``s3prl.hub`` (applying the s3prl compatibility shims first); returns their names."""
    apply_s3prl_compat()
    if hub is None:
        import s3prl.hub as hub  # heavy optional dependency (SUPERB only), importable only after the shims

    names = []
    for name, entry in hub_entries().items():
        setattr(hub, name, make_hub_entry(entry))
        names.append(name)
    return names


# ----------------------------------------------------------------------------- frame embeddings


@dataclass(frozen=True)
class LayerSelection:
    """Which representation a frame embedding is: ``last`` (output), ``all`` (hidden states concatenated)
    or an index."""

    kind: str  # "last" | "all" | "index"
    index: int = -1

    @classmethod
    def parse(cls, layer) -> "LayerSelection":
        if isinstance(layer, int) or (isinstance(layer, str) and layer.lstrip("-").isdigit()):
            return cls("index", int(layer))
        if layer in ("last", "all"):
            return cls(layer)
        raise ConfigError(f"layer must be 'last', 'all' or an integer index, got {layer!r}")

    def select(self, out: EncoderOutput) -> tuple[torch.Tensor, torch.Tensor]:
        if self.kind == "last":
            return out.last_hidden_state, out.lengths
        if self.kind == "all":
            return torch.cat(out.hidden_states, dim=-1), out.hidden_lengths
        count = len(out.hidden_states)
        if not -count <= self.index < count:
            raise ConfigError(f"layer {self.index} is out of range: the encoder has {count} hidden states")
        return out.hidden_states[self.index], out.hidden_lengths


def first_frame_centre_ms(encoder: AudioEncoder, hop_ms: float, hidden: bool) -> float:
    """Time of the first frame's centre, as the encoder states it, else the centre of the first hop.

    Encoders state it as ``frame_centre_offset_ms`` (the baselines) or through
    ``frame_times(num_frames, hidden)`` in seconds (SPEAR: 15 ms + 20 ms x k, its edge-padded front end
    seeing fbank frames 2k .. 2k + 8). tests/test_hear_timestamps.py checks each against
    the front end's receptive field.
    """
    stated = getattr(encoder, "frame_centre_offset_ms", None)
    if stated is not None:
        return float(stated)
    frame_times = getattr(encoder, "frame_times", None)
    if callable(frame_times):
        return 1000.0 * float(frame_times(1, hidden=hidden)[0])
    return hop_ms / 2


@dataclass
class ChunkPlan:
    """Non-overlapping chunks of a clip, each a whole number of frames long except the last."""

    starts: list[int] = field(default_factory=list)
    ends: list[int] = field(default_factory=list)

    @classmethod
    def for_length(cls, num_samples: int, chunk_samples: int) -> "ChunkPlan":
        count = max(1, round(num_samples / chunk_samples)) if chunk_samples > 0 else 1
        starts = [i * chunk_samples for i in range(count)]
        ends = starts[1:] + [num_samples]
        return cls(starts, ends)


class FrameEmbedder(nn.Module):
    """Frame embeddings (and timestamps) of any AudioEncoder, for HEAR and X-ARES.

    ``layer``: ``last`` | ``all`` | int. Audio longer than ``chunk_seconds`` is cut into
    chunks of a whole number of frames; every chunk but the last yields exactly
    chunk_samples / hop frames (padded by repeating its last frame or trimmed), so the
    timestamps stay on one regular grid.
    """

    def __init__(self, encoder: AudioEncoder, layer="last", chunk_seconds: float = 20.0, batch_size: int = 8):
        super().__init__()
        self.encoder = encoder.eval()
        self.layer = LayerSelection.parse(layer)
        self.sample_rate = int(encoder.sample_rate)
        frame_rate = encoder.frame_rate if self.layer.kind == "last" else encoder.hidden_frame_rate
        self.hop_samples = samples_per_frame(encoder, frame_rate)
        self.hop_ms = 1000.0 * self.hop_samples / self.sample_rate
        self.first_centre_ms = first_frame_centre_ms(encoder, self.hop_ms, hidden=self.layer.kind != "last")
        self.chunk_samples = max(1, round(chunk_seconds * self.sample_rate / self.hop_samples)) * self.hop_samples
        self.batch_size = int(batch_size)
        self.embedding_size = int(self._probe_dim())

    @torch.no_grad()
    def _probe_dim(self) -> int:
        device = next(self.encoder.parameters()).device
        generator = torch.Generator().manual_seed(0)
        wave = (0.1 * torch.randn(1, self.sample_rate, generator=generator)).to(device)
        features, _ = self.layer.select(self.encoder(wave, torch.tensor([self.sample_rate], device=device)))
        return features.shape[-1]

    @torch.no_grad()
    def _encode_chunk(self, waves: torch.Tensor, frames_wanted: int | None) -> torch.Tensor:
        if waves.shape[1] < MIN_BATCH_SAMPLES:  # very short clips: trailing silence, so at least one frame
            waves = nn.functional.pad(waves, (0, MIN_BATCH_SAMPLES - waves.shape[1]))
        lengths = torch.full((waves.shape[0],), waves.shape[1], device=waves.device, dtype=torch.long)
        features, _ = self.layer.select(self.encoder(waves, lengths))
        if frames_wanted is None:
            return features
        if features.shape[1] >= frames_wanted:
            return features[:, :frames_wanted]
        repeat = features[:, -1:].expand(-1, frames_wanted - features.shape[1], -1)
        return torch.cat([features, repeat], dim=1)

    @torch.no_grad()
    def timestamp_embeddings(self, audio: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """audio (n, samples) at ``sample_rate`` -> (float32 (n, T, D), timestamps (n, T) in ms)."""
        if audio.ndim != 2:
            raise ConfigError(f"audio must be (n_sounds, n_samples), got shape {tuple(audio.shape)}")
        device = next(self.encoder.parameters()).device
        plan = ChunkPlan.for_length(audio.shape[1], self.chunk_samples)
        last_chunk = len(plan.starts) - 1
        batches = []
        for first in range(0, audio.shape[0], self.batch_size):
            clips = audio[first : first + self.batch_size].to(device=device, dtype=torch.float32)
            pieces = [
                self._encode_chunk(clips[:, start:end], None if i == last_chunk else (end - start) // self.hop_samples)
                for i, (start, end) in enumerate(zip(plan.starts, plan.ends))
            ]
            batches.append(torch.cat(pieces, dim=1))
        embeddings = torch.cat(batches, dim=0).float().to(audio.device)
        frames = torch.arange(embeddings.shape[1], dtype=torch.float32, device=audio.device)
        timestamps = (self.first_centre_ms + self.hop_ms * frames).expand(embeddings.shape[0], -1).contiguous()
        return embeddings, timestamps

    @torch.no_grad()
    def scene_embeddings(self, audio: torch.Tensor) -> torch.Tensor:
        """audio (n, samples) -> (n, D): the mean of the frame embeddings over time."""
        embeddings, _ = self.timestamp_embeddings(audio)
        return embeddings.mean(dim=1)


def resolve_model_name(model: str, family_default_prefix: str = "spear_") -> str:
    """``base`` -> ``spear_base``; ``base_plus`` with prefix ``wavlm_`` -> ``wavlm_base_plus``; full names pass.

    The family's own short names win over the global aliases (:meth:`ModelRef.parse`'s ``family_prefix``).
    """
    ref = ModelRef.parse(model, family_prefix=family_default_prefix)
    if ref.weights or ref.random_init or ref.hear:
        raise ConfigError(f"model {model!r}: expected a model name here (weights are given as a path argument)")
    return ref.name
