"""What can change a result besides the data, the task and the weights: the code and the model's settings.

Both keys that decide whether work is reused include these facts:

- the unit key (``orchestrate.unit_config`` -> the results' config hash): :func:`code_version`
  and the HEAR module's own sources (:func:`module_source_hash`); module kwargs, layer,
  weights by content, task and protocol were already in it;
- the embedding cache key (``EmbeddingCache.settings``): :func:`embedding_settings`, i.e. the
  same code facts plus :func:`module_settings` of the *loaded* model (every config of its
  submodules: chunking, edge padding, layer choice...). The cache's weights hash covers
  tensors only, so a checkpoint whose config.json changes an inference setting (e.g.
  ``edge_pad_frames``) with the same tensors is only told apart by these settings.

Code version: spear-bench's version, a sha256 over the package's Python sources, and the
versions of the libraries that compute features (torch, torchaudio, numpy, s3prl,
transformers). Why a source hash rather than the git commit: the commit misses a dirty
tree (the usual state while fixing the encoder) and does not exist in an installed wheel;
a hash of ``git diff`` needs git and misses new untracked files. Hashing the sources is
exact in every case, and a commit that changes only docs or tests keeps the cache. The
commit is still recorded in every result row (``git_commit``) and in the cache's
``model.json``. ``spear_bench/report`` and ``spear_bench/cli`` are left out: the report only
reads rows, and what the CLI passes on is hashed as the run's config.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import importlib.metadata
import importlib.util
from pathlib import Path

import spear_bench

# Subpackages that cannot change a score (see the module docstring).
PRESENTATION_PACKAGES = ("report", "cli")
LIBRARIES = ("torch", "torchaudio", "numpy", "s3prl", "transformers")


def sources_hash(root: Path, skip: tuple[str, ...] = ()) -> str:
    """sha256 over (relative path, bytes) of every ``*.py`` under ``root``, in path order.

    ``skip``: top-level folders left out."""
    h = hashlib.sha256()
    root = Path(root)
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root)
        if relative.parts[0] in skip or "__pycache__" in relative.parts:
            continue
        h.update(str(relative.as_posix()).encode() + b"\0")
        h.update(path.read_bytes())
        h.update(b"\0")
    return h.hexdigest()[:16]


def _library_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


@functools.lru_cache(maxsize=1)
def code_version() -> dict:
    """spear-bench's version, its sources' hash and the feature libraries' versions (computed once per process)."""
    return {
        "spear_bench": spear_bench.__version__,
        "sources": sources_hash(Path(spear_bench.__file__).parent, PRESENTATION_PACKAGES),
        "libraries": {name: _library_version(name) for name in LIBRARIES},
    }


def module_source_hash(module: str) -> str | None:
    """A hash of a HEAR module's sources (its whole top-level package), found without importing it; None if absent.

    HEAR modules (``hear_spear``, ``hear:MODULE``) live outside spear_bench's package, so
    :func:`code_version` does not see them.
    """
    top = module.split(".")[0]
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    if spec.submodule_search_locations:
        return sources_hash(Path(next(iter(spec.submodule_search_locations))))
    if spec.origin and Path(spec.origin).is_file():
        return hashlib.sha256(Path(spec.origin).read_bytes()).hexdigest()[:16]
    return None


def _plain(value):
    """A JSON-friendly copy of a config value (tuples as lists, unknown objects as their repr)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return repr(value)


# Plain attributes of a module that decide its outputs (FrameEmbedder: layer choice and chunking).
SETTING_ATTRIBUTES = ("layer", "chunk_samples", "hop_samples", "first_centre_ms")


def module_settings(model) -> dict:
    """Every setting a loaded model carries: ``config`` of each submodule (dataclass or ``to_dict()``) and
    the attributes in :data:`SETTING_ATTRIBUTES`, by submodule name. Not a torch module: its type only."""
    import torch

    if not isinstance(model, torch.nn.Module):
        return {"type": f"{type(model).__module__}.{type(model).__qualname__}"}
    out = {}
    for name, sub in model.named_modules():
        entry: dict = {}
        config = getattr(sub, "config", None)
        if dataclasses.is_dataclass(config) and not isinstance(config, type):
            entry["config"] = _plain(config)
        elif callable(getattr(config, "to_dict", None)):  # transformers: where it was loaded from is no setting
            values = config.to_dict()
            entry["config"] = _plain({k: v for k, v in values.items() if k not in ("_name_or_path", "_commit_hash")})
        for attribute in SETTING_ATTRIBUTES:
            value = sub.__dict__.get(attribute)
            if value is not None and not isinstance(value, (torch.nn.Module, torch.Tensor)):
                entry[attribute] = _plain(value)
        if entry:
            out[name or "."] = {"type": f"{type(sub).__module__}.{type(sub).__qualname__}", **entry}
    return out


def embedding_settings(model, loaded, hear_module: str | None = None) -> dict:
    """The embedding cache's settings key: code, the model's identity (module, kwargs), the HEAR module's
    sources (``hear_module``; None for s3prl upstreams, whose code is spear_bench's) and the loaded model's settings."""
    # Weights are keyed by the cache's own weights hash; identity() would hash the files again.
    identity = {
        "name": model.name,
        "hear_module": model.hear_module,
        "hear_kwargs": model.hear_kwargs,
        "s3prl_upstream": model.s3prl_upstream,
    }
    return {
        "code": code_version(),
        "model": identity,
        "module_source": module_source_hash(hear_module) if hear_module else None,
        "module_settings": module_settings(loaded),
    }
