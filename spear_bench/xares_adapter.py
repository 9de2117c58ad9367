"""SPEAR and the baselines as an X-ARES encoder (PyPI ``xares`` 0.1.3).

X-ARES loads an encoder from a Python file, takes the one attribute whose name ends in
``Encoder`` and calls it with no arguments; the object must expose ``sampling_rate``,
``output_dim``, ``hop_size_in_ms`` and ``forward(audio (B, T)) -> (B, T', D)``. This
module holds exactly one such class, configured by keyword arguments or, when X-ARES
builds it, by environment variables:

    SPEAR_BENCH_XARES_MODEL=spear_base        # any registered model (wavlm_large, dasheng_base ...)
    SPEAR_BENCH_XARES_CKPT=/path/to/weights   # optional; random init without it
    SPEAR_BENCH_XARES_LAYER=last              # last | all | integer index
    python -m xares.run spear_bench/xares_adapter.py <xares task files>

Run X-ARES from outside this repository's root: its wheel installs a top-level ``tasks``
package that merges with this repository's ``tasks/`` data folder on ``sys.path``.
"""

from __future__ import annotations

import os

import torch
from torch import nn

from spear_bench import upstreams as _upstreams

ENV_MODEL = "SPEAR_BENCH_XARES_MODEL"
ENV_CKPT = "SPEAR_BENCH_XARES_CKPT"
ENV_LAYER = "SPEAR_BENCH_XARES_LAYER"


class SpearBenchXaresEncoder(nn.Module):
    """Any registered model behind X-ARES's encoder contract (the only ``*Encoder`` name in this module)."""

    def __init__(
        self,
        model: str | None = None,
        ckpt: str | None = None,
        layer=None,
        seed: int = 0,
        chunk_seconds: float = 20.0,
        batch_size: int = 8,
        overrides: dict | None = None,
    ):
        super().__init__()
        model = model or os.environ.get(ENV_MODEL, "spear_base")
        ckpt = ckpt or os.environ.get(ENV_CKPT) or None
        layer = layer if layer is not None else os.environ.get(ENV_LAYER, "last")
        name = _upstreams.resolve_model_name(model)
        encoder = _upstreams.build_encoder(name, ckpt, seed, overrides)
        self.embedder = _upstreams.FrameEmbedder(
            encoder, layer=layer, chunk_seconds=chunk_seconds, batch_size=batch_size
        )
        self.model_name = name
        self.sampling_rate = self.embedder.sample_rate
        self.output_dim = self.embedder.embedding_size
        self.hop_size_in_ms = self.embedder.hop_ms

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        """audio (B, T) or (T,) at ``sampling_rate`` -> (B, T', output_dim)."""
        if audio.ndim == 1:
            audio = audio[None]
        embeddings, _ = self.embedder.timestamp_embeddings(audio)
        return embeddings
