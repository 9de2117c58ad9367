"""Getting weights: the download into the standard caches, verification, fingerprints, and where a model
reference's weights are (:func:`resolve_weights`).

Published weights come through ``huggingface_hub`` (standard cache, ``HF_HOME``, ``HF_HUB_OFFLINE``,
tokens) or, for Dasheng, the ``dasheng`` package's own URLs (torch hub cache); each is verified
(config matches the family, strict loading, parameter count), then loaded by the same checkpoint
loader as a local folder.
"""

from __future__ import annotations

import functools
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import torch

from spear_bench.errors import CheckpointError, ConfigError
from spear_bench.hashing import file_hash
from spear_bench.models.catalogue import CATALOGUE, CatalogueEntry, no_published_weights
from spear_bench.models.model_ref import RANDOM_INIT, RANDOM_INIT_SUFFIX, ModelRef
from spear_bench.models.registry import get_bundle

# Files a Hub snapshot needs: the checkpoint loaders read config + weights (+ USAD's remote code).
HUB_FILES = ("config.json", "preprocessor_config.json", "model.safetensors", "pytorch_model.bin", "*.py")
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt")


def weights_fingerprint(path: str | Path) -> str:
    """``sha256:<16 hex>`` over the weights (and config) file(s) of a checkpoint file or folder."""
    p = Path(path)
    if p.is_file():
        return _fingerprint((p,), p.parent, (_stamp(p),), single=True)
    if not p.is_dir():
        raise CheckpointError(f"model weights {path}: no such file or folder")
    every = sorted(f for f in p.rglob("*") if f.is_file())
    if not every:
        raise CheckpointError(f"model weights {p}: empty folder")
    chosen = [f for f in every if f.suffix in WEIGHT_SUFFIXES or f.name == "config.json"]
    # A checkpoint folder: its weights + config (a README or code edit is not new weights); otherwise every file.
    files = tuple(chosen if any(f.suffix in WEIGHT_SUFFIXES for f in chosen) else every)
    return _fingerprint(files, p, tuple(_stamp(f) for f in files))


def _stamp(file: Path) -> tuple:
    stat = file.stat()
    return (stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=64)
def _fingerprint(files: tuple[Path, ...], root: Path, stamps: tuple, single: bool = False) -> str:
    """Hashed once per (files, sizes, mtimes) in a process: runs resolve a model several times."""
    if single:  # a weights file: its own sha256
        return "sha256:" + file_hash(files[0])
    h = hashlib.sha256()
    for f in files:
        h.update(f"{f.relative_to(root).as_posix()}:{file_hash(f, 64)}\n".encode())
    return "sha256:" + h.hexdigest()[:16]


def _offline() -> bool:
    """HF_HUB_OFFLINE as huggingface_hub reads it (at import) or as set since."""
    from huggingface_hub import constants  # on first use: huggingface_hub fixes HF_* settings at import

    env = os.environ.get("HF_HUB_OFFLINE", "").strip().lower()
    return bool(constants.HF_HUB_OFFLINE) or env in ("1", "true", "yes", "on")


def _not_available(entry: CatalogueEntry, why: str) -> CheckpointError:
    return CheckpointError(
        f"{entry.name}: no cached copy of {entry.where} ({why}); run `spear-bench fetch {entry.name}` where there is "
        f"network, or point at local weights with --model {entry.name}@FOLDER "
        f"({entry.name}{RANDOM_INIT_SUFFIX} for random weights)"
    )


def cached_path(entry: CatalogueEntry) -> Path | None:
    """The local copy of ``entry``'s weights if it is in the cache, without any network access."""
    if entry.source == "dasheng":
        file = _dasheng_file(entry)
        return file if file.is_file() else None
    from huggingface_hub import snapshot_download  # on first use: huggingface_hub fixes HF_* settings at import
    from huggingface_hub.errors import LocalEntryNotFoundError  # (as above)

    try:
        return Path(
            snapshot_download(
                entry.repo_id, revision=entry.revision, allow_patterns=list(HUB_FILES), local_files_only=True
            )
        )
    except (LocalEntryNotFoundError, FileNotFoundError, OSError, ValueError):
        return None


def _dasheng_file(entry: CatalogueEntry) -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(urlparse(entry.repo_id).path).name


def download(entry: CatalogueEntry) -> Path:
    """The local copy of ``entry``'s weights: the cache, or a (resumable) download into it."""
    cached = cached_path(entry)
    if cached is not None and _has_weights(cached):
        return cached
    if _offline():
        raise _not_available(entry, "HF_HUB_OFFLINE is set")
    try:
        if entry.source == "dasheng":
            file = _dasheng_file(entry)
            file.parent.mkdir(parents=True, exist_ok=True)
            torch.hub.download_url_to_file(entry.repo_id, str(file), progress=True)
            return file
        from huggingface_hub import snapshot_download  # on first use: huggingface_hub fixes HF_* settings at import

        return Path(snapshot_download(entry.repo_id, revision=entry.revision, allow_patterns=list(HUB_FILES)))
    except Exception as error:  # noqa: BLE001 - no network, unknown repo, auth: all end in the same advice
        first = (str(error).splitlines() or [type(error).__name__])[0]
        raise _not_available(entry, f"download failed: {type(error).__name__}: {first[:160]}") from None


def _has_weights(path: Path) -> bool:
    if path.is_file():
        return True
    return any(f.suffix in WEIGHT_SUFFIXES for f in path.iterdir() if f.is_file())


def verify(entry: CatalogueEntry, path: Path, model=None):
    """Load ``path`` as ``entry`` (its family's loader: config checked against the size, strict keys) and check the
    parameter count; returns the loaded encoder. A mismatch is a one-line CheckpointError naming the path."""
    encoder = model if model is not None else get_bundle(entry.size).build(str(path), 0)
    count = sum(p.numel() for p in encoder.parameters())
    allowed = entry.parameters * entry.parameter_tolerance
    if abs(count - entry.parameters) > allowed:
        expected = f"{entry.parameters:,}" + (f" +- {entry.parameter_tolerance:.0%}" if allowed else "")
        raise CheckpointError(f"{path}: {count:,} parameters, but {entry.name} ({entry.where}) has {expected}")
    return encoder


@functools.lru_cache(maxsize=None)
def _fetched(name: str) -> str:
    entry = CATALOGUE[name]
    path = download(entry)
    verify(entry, path)
    return str(path)


def fetch(name: str) -> Path:
    """Download (or find in the cache) and verify the published weights of a catalogued name; once per process."""
    canonical = get_bundle(name).name
    entry = CATALOGUE.get(canonical)
    if entry is None:
        raise ConfigError(no_published_weights(canonical))
    return Path(_fetched(canonical))


@dataclass(frozen=True)
class ResolvedWeights:
    path: str | None  # local weights; None: random init
    fingerprint: str  # sha256:... or "random-init"
    source: str  # "random-init" | "local" | the catalogue's ``where``


def resolve_weights(ref: ModelRef) -> ResolvedWeights:
    """Where ``ref``'s weights are (fetching a catalogued name), with their fingerprint."""
    if ref.random_init:
        return ResolvedWeights(None, RANDOM_INIT, RANDOM_INIT)
    if ref.weights:
        if not Path(ref.weights).expanduser().exists():
            raise CheckpointError(
                f"model weights {ref.weights}: no such file or folder (from --model {ref.text or ref.name})"
            )
        return ResolvedWeights(ref.weights, weights_fingerprint(ref.weights), "local")
    if ref.hear:
        return ResolvedWeights(None, "", "hear module")
    path = fetch(ref.name)
    return ResolvedWeights(str(path), weights_fingerprint(path), CATALOGUE[ref.name].where)
