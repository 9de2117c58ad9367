"""Which model a benchmark run scores, and how each suite reaches it.

``--model`` takes a model name as parsed by :class:`spear_bench.models.model_ref.ModelRef`:
a catalogued name (``spear_base_sa``, ``wavlm_large`` ...: its published weights, fetched and
verified once), ``NAME@PATH`` (local weights), ``NAME[random-init]`` (random weights, only on
request, stored under that label), or any HEAR module as ``hear:MODULE[@PATH]`` (the way
heareval takes a module name). HEAR tasks load it through a HEAR module (``hear_spear`` for every
registered model); SUPERB tasks through its s3prl hub entry (``spear_bench.upstreams``:
``spear_<size>``, ``spear_local`` for a SPEAR checkpoint, ``spear_bench_<baseline>``).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field

import torch

from spear_bench.bench.extract import precision
from spear_bench.errors import ConfigError
from spear_bench.hashing import state_dict_hash
from spear_bench.models.model_ref import ModelRef
from spear_bench.models.registry import get_bundle
from spear_bench.models.weights import resolve_weights, weights_fingerprint
from spear_bench.upstreams import LOCAL_SPEAR_ENTRY, hub_name


@dataclass(frozen=True)
class BenchModel:
    name: str  # the model's name in the results store (NAME[random-init] for random weights)
    hear_module: str
    hear_kwargs: dict = field(default_factory=dict)
    weights: str | None = None  # local weights (file or folder)
    s3prl_upstream: str | None = None  # s3prl hub name
    s3prl_ckpt: str | None = None
    family: str = ""
    fingerprint: str = ""  # the weights' sha256 (models.weights.weights_fingerprint) or "random-init"

    @property
    def random_init(self) -> bool:
        return self.fingerprint == "random-init"

    def identity(self) -> dict:
        """What identifies the model for the results' config hash (weights by content, without loading the model)."""
        return {
            "name": self.name,
            "hear_module": self.hear_module,
            "hear_kwargs": self.hear_kwargs,
            "s3prl_upstream": self.s3prl_upstream,
            "weights": self.fingerprint or (weights_fingerprint(self.weights) if self.weights else None),
        }


def resolve_model(spec: str, layer: str = "last") -> BenchModel:
    """``NAME``, ``NAME@PATH``, ``NAME[random-init]`` or ``hear:MODULE[@PATH]`` -> BenchModel.

    A catalogued name is fetched (or found in the cache) and verified here, so a run fails
    in one line before any work when its weights cannot be had.
    """
    ref = ModelRef.parse(spec)
    resolved = resolve_weights(ref)  # one-line errors: no such path, nothing cached offline, no published weights
    weights = resolved.path
    if ref.hear:
        return BenchModel(
            name=ref.name,
            hear_module=ref.name,
            hear_kwargs={},
            weights=weights,
            family="hear",
            fingerprint=resolved.fingerprint,
        )
    bundle = get_bundle(ref.name)
    if bundle.family == "spear":  # SPEAR weights carry their own config: the checkpoint entry reads it
        upstream, ckpt = (LOCAL_SPEAR_ENTRY, weights) if weights else (hub_name(bundle), None)
    else:
        upstream, ckpt = hub_name(bundle), weights
    return BenchModel(
        name=ref.label,
        hear_module="hear_spear",
        hear_kwargs={"model": bundle.name, "layer": layer},
        weights=weights,
        s3prl_upstream=upstream,
        s3prl_ckpt=ckpt,
        family=bundle.family,
        fingerprint=resolved.fingerprint,
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
                self._weights_hash = weights_fingerprint(self.spec.weights)
            else:
                raise ConfigError(
                    f"HEAR module {self.spec.hear_module!r}: "
                    "model is not a torch module and has no weights file to hash"
                )
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
