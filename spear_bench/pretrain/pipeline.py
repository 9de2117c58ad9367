"""The stages before training, each skipped when its output exists: data -> teacher features -> MVQ -> tokens.

work_dir layout:
  data/                 generated demo audio + cuts.jsonl.gz (when data.demo is used)
  features/<teacher>/   float16 teacher features per cut (<id>.npy) + teacher.json
  mvq/<token_set>.pt    trained quantisers (multi-quantization state + mean/std + meta)
  tokens/<token_set>/   uint8 tokens (lhotse NumpyFilesWriter), tokens/cuts.jsonl.gz the cuts with them
  exp/                  checkpoints, log.jsonl, tensorboard/, encoder/ (release layout)
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm import tqdm

from spear_bench.atomic_io import atomic_path, atomic_write_text
from spear_bench.errors import ConfigError, DatasetError
from spear_bench.pretrain.config import PretrainConfig, TokenSetConfig
from spear_bench.pretrain.data import (
    cut_waveform,
    cuts_from_folders,
    generate_demo_data,
    load_cuts,
    token_field,
)
from spear_bench.pretrain.kmeans import KIND as KMEANS
from spear_bench.pretrain.kmeans import KMeansQuantizer, storage_dtype, train_kmeans
from spear_bench.pretrain.mvq import TrainedQuantizer, sample_training_frames, train_quantizer
from spear_bench.pretrain.teachers import extract_features, load_features

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkLayout:
    root: Path

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def features(self) -> Path:
        return self.root / "features"

    @property
    def tokens(self) -> Path:
        return self.root / "tokens"

    @property
    def tokens_manifest(self) -> Path:
        return self.tokens / "cuts.jsonl.gz"

    @property
    def exp(self) -> Path:
        return self.root / "exp"

    def quantizer(self, token_set: TokenSetConfig) -> Path:
        return Path(token_set.quantizer) if token_set.quantizer else self.root / "mvq" / f"{token_set.name}.pt"


def layout(config: PretrainConfig) -> WorkLayout:
    return WorkLayout(config.work_path)


def prepare_cuts(config: PretrainConfig, progress: bool = True):
    """The training cuts: the manifest, else the audio folders, else generated demo data."""
    data = config.data
    if data.manifest:
        return load_cuts(data.manifest)
    if data.speech_dirs or data.audio_dirs:
        return cuts_from_folders({"speech": list(data.speech_dirs), "audio": list(data.audio_dirs)})
    if data.demo is not None:
        return load_cuts(generate_demo_data(layout(config).data, data.demo, progress))
    raise ConfigError("data: give a manifest, speech_dirs/audio_dirs, or demo settings")


def noise_folders(config: PretrainConfig) -> list[Path]:
    if config.data.noise_dirs:
        return [Path(p) for p in config.data.noise_dirs]
    demo_noise = layout(config).data / "noise"
    return [demo_noise] if config.data.demo is not None and demo_noise.is_dir() else []


def _utterances(cuts) -> list:
    return [(cut.id, float(cut.duration), (lambda c=cut: cut_waveform(c))) for cut in cuts]


def teacher_features(config: PretrainConfig, token_set: TokenSetConfig, cuts, progress: bool = True) -> Path:
    return extract_features(token_set.teacher, _utterances(cuts), layout(config).features, progress)


def load_quantizer(path: str | Path) -> TrainedQuantizer | KMeansQuantizer:
    """A saved quantiser of either kind (``meta.kind`` is ``kmeans`` for k-means, absent for MVQ)."""
    path = Path(path)
    if path.is_file():
        try:
            meta = torch.load(path, map_location="cpu", weights_only=True).get("meta", {})
        except (RuntimeError, ValueError, OSError, AttributeError):
            meta = {}
        if meta.get("kind") == KMEANS:
            return KMeansQuantizer.load(path)
    return TrainedQuantizer.load(path)


def train_mvq(
    config: PretrainConfig, cuts, names: list[str] | None = None, force: bool = False, progress: bool = True
) -> dict[str, Path]:
    """Train (or reuse) one quantiser per token set (MVQ or k-means, its ``target``) on its teacher's features."""
    out = {}
    for token_set in config.token_sets:
        if names and token_set.name not in names:
            continue
        path = layout(config).quantizer(token_set)
        if path.is_file() and not force:
            kind = load_quantizer(path).meta.get("kind", "mvq")
            if kind != token_set.target:
                raise ConfigError(
                    f"{path} holds {kind} targets but token set {token_set.name!r} asks for "
                    f"{token_set.target} (use another work_dir or `mvq train --force`)"
                )
            out[token_set.name] = path
            continue
        if token_set.quantizer and not force:
            raise ConfigError(f"token_sets.{token_set.name}.quantizer: {path} does not exist")
        folder = teacher_features(config, token_set, cuts, progress)
        arrays = list(load_features(folder, [c.id for c in cuts]).values())
        settings = token_set.kmeans if token_set.target == KMEANS else token_set.mvq
        frames = sample_training_frames(arrays, settings.max_train_frames, settings.seed)
        meta = {
            "token_set": token_set.name,
            "teacher": token_set.teacher.label,
            "layer": token_set.teacher.resolved_layer,
            "frame_rate": token_set.teacher.spec.frame_rate,
            "teacher_cache_key": token_set.teacher.cache_key(),
        }
        if token_set.target == KMEANS:
            quantizer = train_kmeans(frames, token_set.kmeans, meta)
        else:
            quantizer = train_quantizer(frames, token_set.mvq, meta, progress)
        error = quantizer.relative_reconstruction_error(frames[:20000])
        quantizer.meta["relative_reconstruction_error"] = error
        quantizer.save(path)
        log.info(
            "MVQ %s: %d codebooks, relative reconstruction error %.4f -> %s",
            token_set.name,
            quantizer.num_codebooks,
            error,
            path,
        )
        out[token_set.name] = path
    return out


def encode_tokens(config: PretrainConfig, cuts, progress: bool = True):
    """uint8 tokens of every cut for every token set, stored beside a new cut manifest; reused when up to date."""
    from lhotse import CutSet  # heavy (~1 s): paid only where cuts are handled
    from lhotse.features.io import NumpyFilesWriter

    work = layout(config)
    quantizers = {t.name: load_quantizer(work.quantizer(t)) for t in config.token_sets}
    stamp = {name: q.quantizer_id for name, q in quantizers.items()}
    stamp_file = work.tokens / "quantizers.json"
    cut_ids = sorted(c.id for c in cuts)
    if work.tokens_manifest.is_file() and stamp_file.is_file():
        recorded = json.loads(stamp_file.read_text())
        if recorded.get("quantizers") == stamp and recorded.get("cuts") == cut_ids:
            return load_cuts(work.tokens_manifest)
    with_tokens = {c.id: c for c in cuts}
    for token_set in config.token_sets:
        quantizer = quantizers[token_set.name]
        folder = teacher_features(config, token_set, cuts, progress)
        if quantizer.meta.get("teacher_cache_key") not in (None, token_set.teacher.cache_key()):
            raise ConfigError(
                f"{work.quantizer(token_set)} was trained on {quantizer.meta['teacher_cache_key']} features, "
                f"but token set {token_set.name!r} uses {token_set.teacher.cache_key()}"
            )
        with NumpyFilesWriter(str((work.tokens / token_set.name).resolve())) as writer:
            for cut in tqdm(cuts, desc=f"tokens {token_set.name}", unit="utt", disable=not progress):
                feats = torch.from_numpy(load_features(folder, [cut.id])[cut.id]).float()
                codes = quantizer.encode(feats, token_set.mvq.refine_iters).numpy()
                codes = codes.astype(storage_dtype(quantizer.codebook_size))
                array = writer.store_array(
                    cut.id, codes, frame_shift=1.0 / quantizer.frame_rate, temporal_dim=0, start=0
                )
                with_tokens[cut.id] = with_tokens[cut.id].with_custom(token_field(token_set.name), array)
    result = CutSet.from_cuts(with_tokens[c.id] for c in cuts)
    with atomic_path(work.tokens_manifest, suffix=".jsonl.gz") as tmp:  # lhotse picks the format from the suffix
        result.to_file(tmp)
    atomic_write_text(stamp_file, json.dumps({"quantizers": stamp, "cuts": cut_ids}, indent=1) + "\n")
    return load_cuts(work.tokens_manifest)


def prepare_training_data(config: PretrainConfig, progress: bool = True):
    """Run every missing stage; returns the cuts with tokens."""
    cuts = prepare_cuts(config, progress)
    if len(cuts) == 0:
        raise DatasetError("no training cuts")
    train_mvq(config, cuts, progress=progress)
    return encode_tokens(config, cuts, progress)
