"""Encoders: SPEAR (Zipformer2) and the baselines, behind one interface (models/base.py)."""

from __future__ import annotations

import dataclasses

from spear_bench.errors import ConfigError
from spear_bench.models.base import AudioEncoder, EncoderOutput
from spear_bench.models.catalogue import CATALOGUE
from spear_bench.models.checkpoint import load_spear_checkpoint
from spear_bench.models.model_ref import ModelRef
from spear_bench.models.registry import ModelBundle, get_bundle, model_names
from spear_bench.models.weights import fetch, resolve_weights


def load_encoder(name_or_path, *, seed: int = 0, path: str | None = None):
    """An encoder (SPEAR or a baseline) in eval mode.

    ``name_or_path`` is a model name as everywhere in spear-bench (:class:`ModelRef`):
    ``NAME`` (the published weights of a catalogued name, fetched and verified once),
    ``NAME@WEIGHTS`` (local weights; ``path=`` says the same), ``NAME[random-init]``
    (random init seeded with ``seed``, only on request), or a SPEAR checkpoint path
    (a folder with config.json + model.safetensors / pytorch_model.bin, or the weights file).
    """
    ref = ModelRef.parse(str(name_or_path), checkpoint_paths=True)
    if ref.checkpoint:
        return load_spear_checkpoint(ref.weights).eval()
    if path is not None:
        if ref.weights or ref.random_init:
            raise ConfigError(f"model {ref.text!r}: weights given twice (in the name and as path={path!r})")
        ref = dataclasses.replace(ref, weights=str(path))
    weights = resolve_weights(ref)
    return get_bundle(ref.name).build(weights.path, seed)


__all__ = [
    "CATALOGUE",
    "ModelRef",
    "fetch",
    "resolve_weights",
    "AudioEncoder",
    "EncoderOutput",
    "ModelBundle",
    "get_bundle",
    "load_encoder",
    "model_names",
]
