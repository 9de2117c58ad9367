"""K-means targets: the alternative to MVQ in the paper's Table 21 (k-means with 2000 clusters on WavLM Large layer 21).

The clustering is scikit-learn's ``MiniBatchKMeans`` with the settings of fairseq's HuBERT
recipe (``examples/hubert/simple_kmeans/learn_kmeans.py``: k-means++ init, ``max_iter``
100, ``batch_size`` 10000, ``tol`` 0, ``max_no_improvement`` 100, ``n_init`` 20,
``reassignment_ratio`` 0), fitted on the raw teacher features (HuBERT does not normalise
them). A frame's token is its nearest centroid (what ``MiniBatchKMeans.predict`` returns);
the tokens are one "codebook" of ``num_clusters`` entries, shape (T, 1), uint8 when
``num_clusters`` <= 256 and uint16 otherwise. The saved ``.pt`` holds the centroids and
``meta`` with ``kind: kmeans`` (no pickled estimator, so it loads with ``weights_only``).
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from spear_bench.errors import CheckpointError, ConfigError
from spear_bench.train.checkpoint import save_state

KIND = "kmeans"


@dataclass(frozen=True)
class KMeansConfig:
    num_clusters: int = 2000  # Table 21
    batch_size: int = 10000
    max_iter: int = 100
    n_init: int = 20
    max_no_improvement: int = 100
    max_train_frames: int = 2_000_000  # random subset of the cached frames used for fitting
    seed: int = 0

    def __post_init__(self):
        if not 2 <= self.num_clusters <= 65536:
            raise ConfigError(f"kmeans.num_clusters={self.num_clusters}: must be in [2, 65536] (uint16 tokens)")


@dataclass
class KMeansQuantizer:
    """Centroids (K, D) of a fitted MiniBatchKMeans; the same interface as :class:`TrainedQuantizer`."""

    centers: torch.Tensor
    meta: dict

    num_codebooks = 1

    @property
    def codebook_size(self) -> int:
        return int(self.centers.shape[0])

    @property
    def frame_rate(self) -> float:
        return float(self.meta["frame_rate"])

    @property
    def quantizer_id(self) -> str:
        return "kmeans-" + hashlib.sha256(self.centers.numpy().tobytes()).hexdigest()[:16]

    @torch.no_grad()
    def labels(self, feats: torch.Tensor) -> torch.Tensor:
        """(T, D) -> (T,) int64 index of the nearest centroid (squared Euclidean distance)."""
        x = feats.double()
        c = self.centers.double()
        distances = x.pow(2).sum(1, keepdim=True) - 2 * x @ c.T + c.pow(2).sum(1)[None, :]
        return distances.argmin(1)

    @torch.no_grad()
    def encode(self, feats: torch.Tensor, refine_iters: int | None = None) -> torch.Tensor:
        """(T, D) teacher features -> (T, 1) tokens: uint8 for K <= 256, else int32 (stored as uint16)."""
        del refine_iters  # MVQ's refinement passes; k-means has none
        dtype = torch.uint8 if self.codebook_size <= 256 else torch.int32
        if feats.shape[0] == 0:
            return torch.zeros(0, 1, dtype=dtype)
        return self.labels(feats)[:, None].to(dtype)

    @torch.no_grad()
    def relative_reconstruction_error(self, feats: torch.Tensor, refine_iters: int | None = None) -> float:
        """||x - centroid(x)||^2 / ||x - mean(x)||^2 (lower is better), comparable with MVQ's."""
        x = feats.double()
        recon = self.centers.double()[self.labels(feats)]
        return float((x - recon).pow(2).sum() / (x - x.mean(0)).pow(2).sum().clamp_min(1e-20))

    def save(self, path: str | Path) -> Path:
        return save_state({"centers": self.centers, "meta": self.meta}, path)

    @classmethod
    def load(cls, path: str | Path) -> "KMeansQuantizer":
        path = Path(path)
        if not path.is_file():
            raise CheckpointError(f"{path}: no such k-means file (train it with `spear-bench mvq train`)")
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
            return cls(state["centers"].float(), state["meta"])
        except (KeyError, RuntimeError, ValueError, OSError) as error:
            raise CheckpointError(f"{path}: not a spear-bench k-means file ({str(error).splitlines()[0]})") from error


def storage_dtype(codebook_size: int) -> type:
    """The on-disk token type of a codebook of ``codebook_size`` entries."""
    return np.uint8 if codebook_size <= 256 else np.uint16


def train_kmeans(features: torch.Tensor, config: KMeansConfig, meta: dict) -> KMeansQuantizer:
    """Fit scikit-learn's MiniBatchKMeans (fairseq HuBERT settings) on (F, D) features."""
    from sklearn.cluster import MiniBatchKMeans  # heavy (~2 s): only k-means training needs it

    if features.shape[0] < config.num_clusters:
        raise ConfigError(
            f"k-means with {config.num_clusters} clusters needs at least as many teacher frames, "
            f"got {features.shape[0]}"
        )
    model = MiniBatchKMeans(
        n_clusters=config.num_clusters,
        init="k-means++",
        max_iter=config.max_iter,
        batch_size=config.batch_size,
        tol=0.0,
        max_no_improvement=config.max_no_improvement,
        n_init=config.n_init,
        reassignment_ratio=0.0,
        compute_labels=False,
        random_state=config.seed,
    )
    model.fit(features.double().numpy())
    centers = torch.from_numpy(model.cluster_centers_.astype(np.float32))
    meta = {
        **meta,
        "kind": KIND,
        "dim": int(features.shape[1]),
        "num_codebooks": 1,
        "codebook_size": config.num_clusters,
        "kmeans": asdict(config),
        "train_frames": int(features.shape[0]),
        "inertia": float(model.inertia_),
    }
    return KMeansQuantizer(centers, meta)
