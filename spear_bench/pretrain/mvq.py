"""Multi-codebook vector quantisation of teacher features with the ``multi-quantization`` package.

Everything MVQ does is the package's (k2-fsa, Guo et al. 2023): ``QuantizerTrainer``
trains in two phases (2N codebooks of 16 entries, then merged pairwise into N codebooks
of 256), and ``Quantizer.encode`` computes the codes with 5 refinement passes, returned
as uint8. This module only adds what the SPEAR release does around it: teacher features
are normalised by the training set's per-dimension mean and std, (x - mean) / (std + 1e-5),
and the saved quantiser carries that mean and std (a ``.pt`` file with ``quantizer``,
``mean``, ``std`` as the release writes, plus ``meta``: teacher, layer, frame rate, sizes).
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from multi_quantization import Quantizer, QuantizerTrainer
from tqdm import tqdm

from spear_bench.errors import CheckpointError, ConfigError
from spear_bench.train.checkpoint import save_state

CODEBOOK_SIZE = 256  # fixed by the package's two-phase training (16 x 16) and the uint8 storage
NORMALISATION_EPS = 1e-5


@dataclass(frozen=True)
class MVQConfig:
    num_codebooks: int = 16  # speech 16, audio 8 in the paper
    phase_one_iters: int = 20000  # the release trains 35000 + 35000 on GPUs
    phase_two_iters: int = 20000
    batch_frames: int = 1024  # frames per training minibatch, as the release
    lr: float = 0.005  # the package's default
    max_train_frames: int = 2_000_000  # random subset of the cached frames used for training
    refine_iters: int = 5
    seed: int = 0

    def __post_init__(self):
        if self.num_codebooks not in (1, 2, 4, 8, 16, 32):
            raise ConfigError(
                f"mvq.num_codebooks={self.num_codebooks}: multi-quantization supports 1, 2, 4, 8, 16 or 32"
            )


@dataclass
class TrainedQuantizer:
    """A ``multi_quantization.Quantizer`` with the normalisation statistics it was trained on."""

    quantizer: torch.nn.Module
    mean: torch.Tensor  # (D,)
    std: torch.Tensor  # (D,)
    meta: dict

    @property
    def num_codebooks(self) -> int:
        return self.quantizer.num_codebooks

    @property
    def codebook_size(self) -> int:
        return CODEBOOK_SIZE

    @property
    def frame_rate(self) -> float:
        return float(self.meta["frame_rate"])

    @property
    def quantizer_id(self) -> str:
        return self.quantizer.get_id()

    def normalise(self, feats: torch.Tensor) -> torch.Tensor:
        return (feats.float() - self.mean) / (self.std + NORMALISATION_EPS)

    @torch.no_grad()
    def encode(self, feats: torch.Tensor, refine_iters: int = 5) -> torch.Tensor:
        """(T, D) teacher features -> (T, N) uint8 tokens."""
        if feats.shape[0] == 0:
            return torch.zeros(0, self.num_codebooks, dtype=torch.uint8)
        return self.quantizer.encode(self.normalise(feats), refine_indexes_iters=refine_iters, as_bytes=True)

    @torch.no_grad()
    def relative_reconstruction_error(self, feats: torch.Tensor, refine_iters: int = 5) -> float:
        """||x - decode(encode(x))||^2 / ||x - mean(x)||^2 on normalised features (lower is better)."""
        x = self.normalise(feats)
        codes = self.quantizer.encode(x, refine_indexes_iters=refine_iters, as_bytes=False)
        recon = self.quantizer.decode(codes)
        return float((x - recon).pow(2).sum() / (x - x.mean(0)).pow(2).sum().clamp_min(1e-20))

    def save(self, path: str | Path) -> Path:
        state = {"quantizer": self.quantizer.state_dict(), "mean": self.mean, "std": self.std, "meta": self.meta}
        return save_state(state, path)

    @classmethod
    def load(cls, path: str | Path) -> "TrainedQuantizer":
        path = Path(path)
        if not path.is_file():
            raise CheckpointError(f"{path}: no such quantiser file (train it with `spear-bench mvq train`)")
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
            meta = state["meta"]
            quantizer = Quantizer(
                dim=int(meta["dim"]), codebook_size=CODEBOOK_SIZE, num_codebooks=int(meta["num_codebooks"])
            )
            quantizer.load_state_dict(state["quantizer"])
        except (KeyError, RuntimeError, ValueError, OSError) as error:
            raise CheckpointError(f"{path}: not a spear-bench MVQ quantiser ({str(error).splitlines()[0]})") from error
        return cls(quantizer.eval(), state["mean"].float(), state["std"].float(), meta)


def sample_training_frames(arrays: list[np.ndarray], max_frames: int, seed: int) -> torch.Tensor:
    """All frames of ``arrays`` stacked (float32), or a seeded random subset of ``max_frames``."""
    frames = np.concatenate(arrays, axis=0)
    if frames.shape[0] > max_frames:
        rows = np.random.default_rng(seed).choice(frames.shape[0], max_frames, replace=False)
        frames = frames[np.sort(rows)]
    return torch.from_numpy(frames.astype(np.float32))


def train_quantizer(features: torch.Tensor, config: MVQConfig, meta: dict, progress: bool = True) -> TrainedQuantizer:
    """Normalise ``features`` (F, D), train with ``QuantizerTrainer`` on shuffled minibatches."""
    if features.shape[0] < 2:
        raise ConfigError(f"MVQ training needs teacher frames, got {features.shape[0]}")
    mean, std = features.mean(0), features.std(0)
    data = (features - mean) / (std + NORMALISATION_EPS)
    total = config.phase_one_iters + config.phase_two_iters + 1
    python_state = random.getstate()
    random.seed(config.seed)  # the trainer draws its one-or-two refinement passes from `random`
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)
            data = data[torch.randperm(data.shape[0])]
            trainer = QuantizerTrainer(
                dim=data.shape[1],
                bytes_per_frame=config.num_codebooks,
                device=torch.device("cpu"),
                phase_one_iters=config.phase_one_iters,
                phase_two_iters=config.phase_two_iters,
                lr=config.lr,
            )
            batch = min(config.batch_frames, data.shape[0])
            offset = 0
            with tqdm(total=total, desc=f"MVQ x{config.num_codebooks}", unit="it", disable=not progress) as bar:
                while not trainer.done():
                    start = offset % (data.shape[0] - batch + 1)
                    trainer.step(data[start : start + batch])
                    offset += batch
                    bar.update(1)
            quantizer = trainer.get_quantizer().eval()
    finally:
        random.setstate(python_state)
    meta = {
        **meta,
        "dim": int(data.shape[1]),
        "num_codebooks": config.num_codebooks,
        "codebook_size": CODEBOOK_SIZE,
        "mvq": asdict(config),
        "train_frames": int(data.shape[0]),
    }
    return TrainedQuantizer(quantizer, mean, std, meta)


def tokens_to_frame_rate(tokens: torch.Tensor, token_rate: float, target_rate: float = 50.0) -> torch.Tensor:
    """Repeat each token frame to reach ``target_rate`` (25 Hz Dasheng tokens -> 50 Hz: every frame twice)."""
    if token_rate == target_rate:
        return tokens
    ratio = target_rate / token_rate
    if ratio != int(ratio) or ratio < 1:
        raise ConfigError(f"tokens at {token_rate} Hz cannot be repeated to {target_rate} Hz")
    return torch.repeat_interleave(tokens, int(ratio), dim=0)
