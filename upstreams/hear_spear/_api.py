"""The HEAR 2021 API over spear_bench's FrameEmbedder, shared by hear_spear and its baseline submodules."""

from __future__ import annotations

from typing import Tuple

import torch

from spear_bench.models.registry import get_bundle
from spear_bench.upstreams import FrameEmbedder, build_encoder, resolve_model_name


class HearModel(FrameEmbedder):
    """A torch module with HEAR's attributes: ``sample_rate``, ``scene_embedding_size``,
    ``timestamp_embedding_size``."""

    @property
    def scene_embedding_size(self) -> int:
        return self.embedding_size

    @property
    def timestamp_embedding_size(self) -> int:
        return self.embedding_size


def load_hear_model(
    model_file_path: str = "",
    model: str = "base",
    layer="last",
    *,
    name_prefix: str = "spear_",
    checkpoint_decides: bool = False,
    seed: int = 0,
    chunk_seconds: float = 20.0,
    batch_size: int = 8,
    overrides: dict | None = None,
) -> HearModel:
    """``model`` (a short or registered name) with random weights, or weights from ``model_file_path``.

    With ``checkpoint_decides`` (SPEAR), a given checkpoint's own config decides the size.
    ``overrides`` change a baseline's size (tests use tiny ones).
    """
    path = model_file_path or None
    name = resolve_model_name(model, name_prefix)
    # Only a SPEAR checkpoint carries its own size (config.json); a baseline's weights
    # (hear_spear.load_model(path, model="wavlm_base_plus")) are loaded into the named model.
    if path is not None and checkpoint_decides and get_bundle(name).family == "spear":
        encoder = build_encoder(None, path)
    else:
        encoder = build_encoder(name, path, seed, overrides)
    return HearModel(encoder, layer=layer, chunk_seconds=chunk_seconds, batch_size=batch_size).eval()


def get_timestamp_embeddings(audio: torch.Tensor, model: HearModel) -> Tuple[torch.Tensor, torch.Tensor]:
    """audio (n_sounds, n_samples) -> embeddings float32 (n_sounds, n_frames, D),
    timestamps (n_sounds, n_frames) in ms."""
    return model.timestamp_embeddings(audio)


def get_scene_embeddings(audio: torch.Tensor, model: HearModel) -> torch.Tensor:
    """audio (n_sounds, n_samples) -> float32 (n_sounds, D): the mean of the timestamp embeddings."""
    return model.scene_embeddings(audio)
