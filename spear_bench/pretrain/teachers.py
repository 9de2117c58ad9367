"""Teacher models whose features are quantised into SPEAR's pre-training targets.

A teacher is a registered model with a teacher layer (its ModelBundle in
spear_bench/models/registry.py; paper Sec. 4 and Appendix F.1/G): WavLM Large (speech,
layer 21), Dasheng 1.2B (audio, last layer, 25 Hz), and the ablation teachers HuBERT Large
(layer 21) and WavLM Base+, all built by spear_bench.models.baselines. A teacher's weights
are its ``path``, else the published checkpoint of its name
(spear_bench/models/catalogue.py, fetched once and verified by models/weights.py), else an error; random init
(seeded; ``overrides`` shrink it for tests and demos) only with ``random_init: true``,
and the teacher is then labelled ``NAME[random-init]`` in its quantisers and logs.

Layer convention (``TeacherConfig.layer``):
- WavLM / HuBERT: ``hidden_states`` as transformers returns them: index 0 is the
  transformer input (CNN features + convolutional positions), index L (1-based) is the
  output of the L-th transformer layer. For the "stable layer norm" Large models that
  output is taken *before* the final LayerNorm (only ``last_hidden_state`` has it), which
  is what fairseq/unilm's ``extract_features(output_layer=L)`` returns and what the
  SPEAR release quantised for WavLM Large layer 21.
- Dasheng: index 0 is the first block's input, index i the output of block i; the last
  entry is after the final norm (= ``last_hidden_state``).
- ``layer: -1`` is ``last_hidden_state``; ``layer: null`` is the teacher's default.

Features are extracted in length-sorted batches (``batch_seconds`` of padded audio),
stored as float16 ``.npy`` per utterance under a cache folder named after the teacher
config, and reused on the next run (a killed extraction resumes where it stopped).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
import torch
from tqdm import tqdm

from spear_bench.atomic_io import atomic_write_text, atomic_write_with
from spear_bench.audio import collate_waveforms
from spear_bench.audio.batching import length_batches
from spear_bench.errors import ConfigError
from spear_bench.models.catalogue import CATALOGUE
from spear_bench.models.model_ref import ModelRef
from spear_bench.models.registry import LAST, ModelBundle, get_bundle, is_registered, model_names
from spear_bench.models.weights import fetch


def teacher_names() -> list[str]:
    """The registered models with a teacher layer (spear_bench/models/registry.py)."""
    return [name for name in model_names() if get_bundle(name).is_teacher]


def get_teacher_bundle(name: str) -> ModelBundle:
    if not is_registered(name) or not get_bundle(name).is_teacher:
        raise ConfigError(f"unknown teacher {name!r}; known: {', '.join(teacher_names())}")
    return get_bundle(name)


# -- feature extraction ------------------------------------------------------------------


@dataclass(frozen=True)
class TeacherConfig:
    name: str = "wavlm_large"
    layer: int | None = None  # None: the teacher's default; -1: last_hidden_state
    path: str | None = None  # released weights; None: the name's published weights (or random_init)
    seed: int = 0
    overrides: dict = field(default_factory=dict)  # size overrides for random init (tests, demos)
    batch_seconds: float = 120.0  # padded audio per extraction batch
    random_init: bool = False  # random weights (seeded), only on request

    @property
    def ref(self) -> ModelRef:
        """The teacher as a model reference (``name``, ``path`` as its weights, ``random_init``)."""
        return ModelRef(self.spec.name, self.path, self.random_init, text=self.name)

    @property
    def label(self) -> str:
        return self.ref.label

    def weights_path(self) -> str | None:
        """The teacher's weights: ``path``, the published checkpoint of its name, or None for random init."""
        ref = self.ref
        if ref.random_init:
            if ref.weights:
                raise ConfigError(f"teacher {self.name}: give either path or random_init, not both")
            return None
        if ref.weights:
            return ref.weights
        if ref.name in CATALOGUE:
            return str(fetch(ref.name))
        raise ConfigError(
            f"teacher {self.name} has no published weights in the catalogue: give teacher.path "
            "(its weights folder), or teacher.random_init: true for random weights"
        )

    @property
    def spec(self) -> ModelBundle:
        """The teacher's bundle: builder, frame rate, default layer."""
        return get_teacher_bundle(self.name)

    @property
    def resolved_layer(self) -> int:
        return self.spec.teacher_layer if self.layer is None else int(self.layer)

    def cache_key(self) -> str:
        """Folder name for this teacher's cached features (changes with anything that changes them)."""
        identity = {
            "name": self.name,
            "layer": self.resolved_layer,
            "path": self.path,
            "seed": self.seed,
            "overrides": dict(sorted(self.overrides.items())),
        }
        if not self.random_init:  # random-init folders keep their names; released weights get their own
            identity["weights"] = self.path or (CATALOGUE[self.name].where if self.name in CATALOGUE else None)
        digest = hashlib.sha1(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()[:10]
        layer = "last" if self.resolved_layer == LAST else f"L{self.resolved_layer}"
        return f"{self.name}-{layer}-{digest}"


class Teacher:
    """A frozen teacher: waveforms -> per-utterance features of the configured layer."""

    def __init__(self, config: TeacherConfig):
        bundle = config.spec
        self.config = config
        self.frame_rate = bundle.frame_rate
        path = config.weights_path()
        if path is not None and config.overrides:
            raise ConfigError(f"teacher {config.label}: size overrides apply to random init only (random_init: true)")
        self.encoder = bundle.build(path, config.seed, **config.overrides)
        self.layer = config.resolved_layer
        if self.layer != LAST and not 0 <= self.layer < self.encoder.num_hidden_states:
            raise ConfigError(
                f"teacher {config.name}: layer {self.layer} out of range "
                f"(0..{self.encoder.num_hidden_states - 1}, or -1 for the output)"
            )

    @torch.no_grad()
    def features(self, waves: list[torch.Tensor]) -> list[torch.Tensor]:
        batch, lengths = collate_waveforms(waves)
        out = self.encoder(batch, lengths)
        if self.layer == LAST:
            hidden, frames = out.last_hidden_state, out.lengths
        else:
            hidden, frames = out.hidden_states[self.layer], out.hidden_lengths
        return [hidden[i, : int(frames[i])].float() for i in range(len(waves))]


def feature_dir(cache_root: str | Path, config: TeacherConfig) -> Path:
    return Path(cache_root) / config.cache_key()


def extract_features(
    config: TeacherConfig,
    utterances: list[tuple[str, float, Callable[[], torch.Tensor]]],
    cache_root: str | Path,
    progress: bool = True,
) -> Path:
    """Write ``<cache>/<key>/<id>.npy`` (float16, (T, D)) for each (id, duration, load_wave); returns the folder.

    Utterances whose file exists already are skipped; nothing is built when all exist.
    """
    folder = feature_dir(cache_root, config)
    folder.mkdir(parents=True, exist_ok=True)
    todo = [u for u in utterances if not (folder / f"{u[0]}.npy").exists()]
    info = {"teacher": asdict(config), "layer": config.resolved_layer, "frame_rate": config.spec.frame_rate}
    if not todo:
        return folder
    teacher = Teacher(config)
    # seconds as the length unit: longest first, batch size x longest clip within batch_seconds, no clip cap
    batches = length_batches([u[1] for u in todo], config.batch_seconds, max_clips=len(todo))
    with tqdm(total=len(todo), desc=f"features {config.cache_key()}", unit="utt", disable=not progress) as bar:
        for batch in batches:
            waves = [todo[i][2]() for i in batch]
            for i, feats in zip(batch, teacher.features(waves)):
                _save_npy(folder / f"{todo[i][0]}.npy", feats.numpy().astype(np.float16))
            bar.update(len(batch))
    info["dim"] = int(feats.shape[-1])
    atomic_write_text(folder / "teacher.json", json.dumps(info, indent=1, default=str) + "\n")
    return folder


def _save_npy(path: Path, array: np.ndarray) -> None:
    atomic_write_with(path, lambda handle: np.save(handle, array))


def load_features(folder: str | Path, ids: Iterable[str]) -> dict[str, np.ndarray]:
    folder = Path(folder)
    out = {}
    for utt in ids:
        path = folder / f"{utt}.npy"
        if not path.exists():
            raise ConfigError(f"{path}: teacher features missing (run feature extraction first)")
        out[utt] = np.load(path)
    return out
