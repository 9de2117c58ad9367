"""One registry of named models (SPEAR sizes and baselines).

A :class:`ModelBundle` is a frozen record (as torchaudio's pipeline bundles) that knows
the model's sample rate, frame rate and how to build it; the CLI, the s3prl upstreams
and the HEAR modules all resolve names here, so a model's facts exist once.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from spear_bench.errors import ConfigError


@dataclass(frozen=True)
class ModelBundle:
    name: str
    family: str  # spear | wavlm | dasheng | usad
    description: str
    builder: str  # "module:function"; called as function(path: str | None, seed: int) -> AudioEncoder
    sample_rate: int = 16000
    frame_rate: float = 50.0

    def build(self, path: str | None = None, seed: int = 0):
        module_name, function_name = self.builder.split(":")
        build = getattr(importlib.import_module(module_name), function_name)
        model = build(path, seed)
        return model.eval()


_REGISTRY: dict[str, ModelBundle] = {}
# Short names accepted everywhere a model name is.
ALIASES = {"base": "spear_base", "large": "spear_large", "xlarge": "spear_xlarge"}


def register(bundle: ModelBundle) -> ModelBundle:
    if bundle.name in _REGISTRY:
        raise ConfigError(f"model {bundle.name!r} is registered twice")
    _REGISTRY[bundle.name] = bundle
    return bundle


def get_bundle(name: str) -> ModelBundle:
    key = ALIASES.get(name, name)
    if key not in _REGISTRY:
        raise ConfigError(f"unknown model {name!r}; known: {', '.join(sorted(_REGISTRY) + sorted(ALIASES))}")
    return _REGISTRY[key]


def model_names() -> list[str]:
    return sorted(_REGISTRY)


for _size in ("base", "large", "xlarge"):
    register(
        ModelBundle(
            name=f"spear_{_size}",
            family="spear",
            description=f"SPEAR {_size.capitalize()} (Zipformer2, 128-bin fbank, 50 Hz)",
            builder=f"spear_bench.models.spear:build_spear_{_size}",
        )
    )
# The released SPEAR checkpoints (spear_bench/models/catalogue.py): one name per published variant;
# spear_base / spear_large / spear_xlarge name the architectures (no weights of their own).
for _name, _size, _what in (
    ("spear_base_s", "base", "speech (Speech-84k)"),
    ("spear_base_sa", "base", "speech + audio (SA-97k)"),
    ("spear_base_s_v2", "base", "speech, v2 release"),
    ("spear_base_sa_v2", "base", "speech + audio, v2 release (token mixing)"),
    ("spear_large_s", "large", "speech (Speech-84k)"),
    ("spear_large_sa", "large", "speech + audio (SA-97k)"),
    ("spear_xlarge_sa", "xlarge", "speech + audio (SA-197k)"),
):
    register(
        ModelBundle(
            name=_name,
            family="spear",
            description=f"SPEAR {_size.capitalize()} released checkpoint, {_what}",
            builder=f"spear_bench.models.spear:build_spear_{_size}",
        )
    )
register(
    ModelBundle(
        name="spear_tiny",
        family="spear",
        description="SPEAR tiny (test/demo size: dims 96, the reference-vector structure, 50 Hz)",
        builder="spear_bench.models.spear:build_spear_tiny",
    )
)
# Baselines (WavLM, Dasheng, USAD) are registered in spear_bench/models/baselines/__init__.py.
importlib.import_module("spear_bench.models.baselines")
