"""Which model a benchmark run scores, and how each suite reaches it.

``--model`` takes a registered model name (``spear_base``, ``spear_tiny``,
``wavlm_base_plus`` ...; aliases ``base|large|xlarge``), optionally with local weights as
``NAME@PATH``, or any HEAR module as ``hear:MODULE[@PATH]`` (the way heareval takes a
module name). HEAR tasks load it through a HEAR module (``hear_spear`` for every
registered model); SUPERB tasks through its s3prl hub entry (``spear_bench.upstreams``:
``spear_<size>``, ``spear_local`` for a SPEAR checkpoint, ``spear_bench_<baseline>``).
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path

import torch

from spear_bench.bench.cache import file_hash, state_dict_hash
from spear_bench.bench.extract import precision
from spear_bench.errors import CheckpointError, ConfigError

HEAR_MODULE_PREFIX = "hear:"


@dataclass(frozen=True)
class BenchModel:
    name: str  # the model's name in the results store
    hear_module: str
    hear_kwargs: dict = field(default_factory=dict)
    weights: str | None = None  # local weights (file or folder)
    s3prl_upstream: str | None = None  # s3prl hub name
    s3prl_ckpt: str | None = None
    family: str = ""

    def identity(self) -> dict:
        """What identifies the model for the results' config hash (weights by content, without loading the model)."""
        return {
            "name": self.name,
            "hear_module": self.hear_module,
            "hear_kwargs": self.hear_kwargs,
            "s3prl_upstream": self.s3prl_upstream,
            "weights": _weights_fingerprint(self.weights) if self.weights else None,
        }


def _weights_fingerprint(path: str) -> str:
    p = Path(path)
    if p.is_file():
        return file_hash(p)
    if p.is_dir():
        files = sorted(f for f in p.rglob("*") if f.is_file())
        return ",".join(f"{f.relative_to(p)}:{file_hash(f)}" for f in files)
    raise CheckpointError(f"model weights {path}: no such file or folder")


def resolve_model(spec: str, layer: str = "last") -> BenchModel:
    """``NAME``, ``NAME@PATH`` or ``hear:MODULE[@PATH]`` -> BenchModel."""
    from spear_bench.models.registry import get_bundle

    spec = spec.strip()
    target, _, path = spec.partition("@")
    weights = path or None
    if weights is not None and not Path(weights).exists():
        raise CheckpointError(f"model weights {weights}: no such file or folder (from --model {spec})")
    if target.startswith(HEAR_MODULE_PREFIX):
        module = target[len(HEAR_MODULE_PREFIX):]
        if not module:
            raise ConfigError(f"--model {spec}: give a module after 'hear:'")
        return BenchModel(name=module, hear_module=module, hear_kwargs={}, weights=weights, family="hear")
    bundle = get_bundle(target)  # ConfigError naming the known models
    if bundle.family == "spear":
        upstream, ckpt = ("spear_local", weights) if weights else (bundle.name, None)
    else:
        upstream, ckpt = "spear_bench_" + bundle.name, weights
    return BenchModel(
        name=bundle.name, hear_module="hear_spear", hear_kwargs={"model": bundle.name, "layer": layer},
        weights=weights, s3prl_upstream=upstream, s3prl_ckpt=ckpt, family=bundle.family,
    )


class HearModelHandle:
    """A HEAR module and its loaded model (loaded on first use), with the weights hash for the cache."""

    def __init__(self, model: BenchModel, device: str = "cpu", dtype: str = "float32"):
        self.spec = model
        self.device = device
        self.dtype = dtype  # float32 | bfloat16 | float16 (autocast, spear_bench.bench.extract)
        self._module = None
        self._model = None
        self._weights_hash: str | None = None

    def load(self):
        if self._model is None:
            try:
                module = importlib.import_module(self.spec.hear_module)
            except ImportError as error:
                raise ConfigError(f"HEAR module {self.spec.hear_module!r} cannot be imported ({error})") from error
            for attr in ("load_model", "get_scene_embeddings", "get_timestamp_embeddings"):
                if not hasattr(module, attr):
                    raise ConfigError(f"HEAR module {self.spec.hear_module!r} has no {attr}() (not a HEAR 2021 module)")
            args = [self.spec.weights] if self.spec.weights else []
            model = module.load_model(*args, **self.spec.hear_kwargs)
            if isinstance(model, torch.nn.Module):
                model = model.to(self.device).eval()
            self._module, self._model = module, model
        return self._module, self._model

    @property
    def sample_rate(self) -> int:
        return int(self.load()[1].sample_rate)

    @property
    def weights_hash(self) -> str:
        if self._weights_hash is None:
            _, model = self.load()
            if isinstance(model, torch.nn.Module):
                self._weights_hash = state_dict_hash(model)
            elif self.spec.weights:
                self._weights_hash = _weights_fingerprint(self.spec.weights)
            else:
                raise ConfigError(f"HEAR module {self.spec.hear_module!r}: model is not a torch module and has no weights file to hash")
        return self._weights_hash

    @torch.no_grad()
    def scene_embeddings(self, audio: torch.Tensor) -> torch.Tensor:
        module, model = self.load()
        with precision(self.dtype, self.device):
            return module.get_scene_embeddings(audio.to(self.device), model).detach().float().cpu()

    @torch.no_grad()
    def timestamp_embeddings(self, audio: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        module, model = self.load()
        with precision(self.dtype, self.device):
            embeddings, timestamps = module.get_timestamp_embeddings(audio.to(self.device), model)
        return embeddings.detach().float().cpu(), timestamps.detach().float().cpu()
