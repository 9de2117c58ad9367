"""One registry of named models: the SPEAR sizes and released checkpoints, the baselines, HuBERT.

A :class:`ModelBundle` is a frozen record (as torchaudio's pipeline bundles) and the one
authority for a named model: its sample and frame rates, how to build it (random init or
weights, size overrides), its architecture config and its default layer as a pre-training
teacher. The CLI, the runners, the s3prl upstreams, the HEAR modules and pre-training all
resolve names here (after :class:`spear_bench.models.model_ref.ModelRef` has parsed them),
so a model's facts exist once. Builders are named ``"module:function"`` and imported when a
model is built, so listing the models imports no model code (nor transformers, dasheng).
"""

from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass
from typing import Callable

from spear_bench.errors import ConfigError

LAST = -1  # a teacher layer: the encoder's output (last_hidden_state) rather than a hidden state


def load_function(reference: str) -> Callable:
    """The function named by ``"module:function"`` (imported on first use)."""
    module_name, _, function_name = reference.partition(":")
    return getattr(importlib.import_module(module_name), function_name)


@dataclass(frozen=True)
class ModelBundle:
    name: str
    family: str  # spear | wavlm | dasheng | usad | hubert
    description: str
    builder: str  # "module:function"; called as function(path: str | None, seed: int, **overrides) -> AudioEncoder
    sample_rate: int = 16000
    frame_rate: float = 50.0
    size: str = ""  # the architecture within its family, for ``configurer`` (SPEAR: base | large | xlarge | tiny)
    configurer: str = ""  # "module:function"; called as function(size, **overrides) -> the architecture's config
    teacher_layer: int | None = None  # default layer as a pre-training teacher (LAST: the output); None: no teacher

    def build(self, path: str | None = None, seed: int = 0, **overrides):
        """The encoder in eval mode: random init seeded with ``seed`` (``path`` None) or the weights at ``path``.

        ``overrides`` change the size (baselines accept them; tests use tiny sizes).
        """
        build = load_function(self.builder)
        if overrides and not any(p.kind is p.VAR_KEYWORD for p in inspect.signature(build).parameters.values()):
            raise ConfigError(f"model {self.name!r} takes no config overrides (got {sorted(overrides)})")
        return build(path, seed, **overrides).eval()

    def config(self, **overrides):
        """The architecture's config (no weights are read or built)."""
        if not self.configurer:
            raise ConfigError(f"model {self.name!r} has no architecture config of its own here")
        return load_function(self.configurer)(self.size, **overrides)

    @property
    def is_teacher(self) -> bool:
        return self.teacher_layer is not None


_REGISTRY: dict[str, ModelBundle] = {}
# Short names accepted everywhere a model name is.
ALIASES = {"base": "spear_base", "large": "spear_large", "xlarge": "spear_xlarge"}


def register(bundle: ModelBundle) -> ModelBundle:
    if bundle.name in _REGISTRY:
        raise ConfigError(f"model {bundle.name!r} is registered twice")
    _REGISTRY[bundle.name] = bundle
    return bundle


def get_bundle(name: str, family_prefix: str = "") -> ModelBundle:
    """The bundle of a registered name or alias; with ``family_prefix`` (``wavlm_`` ...) the family's
    short names (``large`` -> ``wavlm_large``) come first."""
    if family_prefix and family_prefix + name in _REGISTRY:
        return _REGISTRY[family_prefix + name]
    key = ALIASES.get(name, name)
    if key not in _REGISTRY:
        raise ConfigError(f"unknown model {name!r}; known: {', '.join(sorted(_REGISTRY) + sorted(ALIASES))}")
    return _REGISTRY[key]


def is_registered(name: str) -> bool:
    """Whether ``name`` is a registered name or alias."""
    return name in ALIASES or name in _REGISTRY


def model_names() -> list[str]:
    return sorted(_REGISTRY)


# ----------------------------------------------------------------------------- SPEAR


def _spear(name: str, size: str, description: str) -> ModelBundle:
    return ModelBundle(
        name,
        "spear",
        description,
        f"spear_bench.models.checkpoint:build_spear_{size}",
        size=size,
        configurer="spear_bench.models.spear:spear_config",
    )


for _size in ("base", "large", "xlarge"):
    register(_spear(f"spear_{_size}", _size, f"SPEAR {_size.capitalize()} (Zipformer2, 128-bin fbank, 50 Hz)"))
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
    register(_spear(_name, _size, f"SPEAR {_size.capitalize()} released checkpoint, {_what}"))
register(_spear("spear_tiny", "tiny", "SPEAR tiny (test/demo size: dims 96, the reference-vector structure, 50 Hz)"))


# ----------------------------------------------------------------------------- baselines

# Every builder is ``build_<name>(path=None, seed=0, **overrides)`` (spear_bench/models/baselines/):
# random init (seeded) without a path, the released weights from a local path otherwise; the facts
# behind each model are in its module's docstring and in docs/upstreams.md. Teacher layers follow
# the paper (Sec. 4, Appendix F.1/G): WavLM Large layer 21 (SPEAR's speech teacher), Dasheng 1.2B's
# output (its audio teacher), WavLM Base+'s output (the USAD-aligned ablation).
_WAVLM = "spear_bench.models.baselines.wavlm:build_"
_DASHENG = "spear_bench.models.baselines.dasheng:build_"
_USAD = "spear_bench.models.baselines.usad:build_"
BASELINES = (
    ModelBundle(
        "wavlm_base_plus",
        "wavlm",
        "WavLM Base+ (transformers WavLMModel, 12 x 768, 50 Hz)",
        _WAVLM + "wavlm_base_plus",
        teacher_layer=LAST,
    ),
    ModelBundle(
        "wavlm_large",
        "wavlm",
        "WavLM Large (transformers WavLMModel, 24 x 1024, 50 Hz)",
        _WAVLM + "wavlm_large",
        teacher_layer=21,
    ),
    ModelBundle(
        "dasheng_base",
        "dasheng",
        "Dasheng base (dasheng package, 12 x 768, 25 Hz)",
        _DASHENG + "dasheng_base",
        frame_rate=25.0,
        teacher_layer=LAST,
    ),
    ModelBundle(
        "dasheng_0_6b",
        "dasheng",
        "Dasheng 0.6B (dasheng package, 32 x 1280, 25 Hz)",
        _DASHENG + "dasheng_0_6b",
        frame_rate=25.0,
    ),
    ModelBundle(
        "dasheng_1_2b",
        "dasheng",
        "Dasheng 1.2B (dasheng package, 40 x 1536, 25 Hz)",
        _DASHENG + "dasheng_1_2b",
        frame_rate=25.0,
        teacher_layer=LAST,
    ),
    ModelBundle(
        "usad_base",
        "usad",
        "USAD Base (reconstructed from the release's config, 12 x 768, 50 Hz)",
        _USAD + "usad_base",
    ),
    ModelBundle(
        "usad_large",
        "usad",
        "USAD Large (reconstructed from the release's config, 24 x 1024, 50 Hz)",
        _USAD + "usad_large",
    ),
)
# HuBERT Large: a teacher of the teacher ablation (layer 21), not one of the paper's compared baselines
# (no published weights in the catalogue, no HEAR module of its own).
HUBERT_LARGE = ModelBundle(
    "hubert_large",
    "hubert",
    "HuBERT Large (transformers HubertModel, 24 x 1024, 50 Hz)",
    "spear_bench.models.baselines.hubert:build_hubert_large",
    teacher_layer=21,
)
for _bundle in (*BASELINES, HUBERT_LARGE):
    register(_bundle)
