"""A sweep's variants (every knob combination x seed): names, folders, derived pre-training configs."""

from __future__ import annotations

import copy
import itertools
from dataclasses import dataclass
from pathlib import Path

import yaml

from spear_bench.ablate.config import SweepConfig
from spear_bench.ablate.knobs import KNOBS, set_knob, value_text
from spear_bench.atomic_io import atomic_write_text
from spear_bench.pretrain.config import load_pretrain_config
from spear_bench.results.store import config_hash


@dataclass(frozen=True)
class Variant:
    model: str  # the registered model name (base of the variant's name)
    knobs: tuple[tuple[str, object], ...]  # (knob, value) in the sweep file's order
    seed: int

    @property
    def name(self) -> str:
        """The variant's model name in the results store: ``spear_tiny@alpha=0.5`` (seeds share it)."""
        return f"{self.model}@" + ",".join(f"{k}={value_text(v)}" for k, v in self.knobs)

    @property
    def folder(self) -> str:
        return ",".join(f"{k}={value_text(v)}" for k, v in self.knobs)

    @property
    def label(self) -> str:
        return f"{self.name} seed {self.seed}"


def variants(sweep: SweepConfig) -> list[Variant]:
    names = list(sweep.knobs)
    out = []
    for combo in itertools.product(*(sweep.knobs[n] for n in names)):
        for seed in sweep.seeds:
            out.append(Variant(sweep.model, tuple(zip(names, combo)), int(seed)))
    return out


def _merge(base: dict, extra: dict) -> dict:
    out = dict(base)
    for key, value in extra.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def variant_dir(sweep: SweepConfig, variant: Variant) -> Path:
    return sweep.work_path / "variants" / variant.folder / f"seed{variant.seed}"


def derive_config(sweep: SweepConfig, variant: Variant) -> dict:
    """The variant's pre-training config: base YAML + sweep overrides + knobs + seed, in its own work_dir."""
    where = sweep.source or sweep.name
    values = yaml.safe_load(Path(sweep.base).read_text()) or {}
    values = _merge(values, copy.deepcopy(sweep.overrides))
    for name, value in variant.knobs:
        kind = KNOBS[name].kind
        values = set_knob(values, name, value if isinstance(value, kind) else kind(value), where)
    model, train = dict(values.get("model") or {}), dict(values.get("train") or {})
    model["seed"] = int(model.get("seed", 0)) + variant.seed
    train["seed"] = int(train.get("seed", 42)) + variant.seed
    values["model"], values["train"] = model, train
    values["work_dir"] = str(variant_dir(sweep, variant))
    return values


def targets_key(values: dict) -> str:
    """What the targets depend on: the data and the token sets (teacher, layer, quantiser)."""
    return config_hash({"data": values.get("data"), "token_sets": values.get("token_sets")})


def write_variant_config(sweep: SweepConfig, variant: Variant):
    """Write ``pretrain.yaml`` into the variant's folder (when changed) and load it as a PretrainConfig."""
    values = derive_config(sweep, variant)
    path = variant_dir(sweep, variant) / "pretrain.yaml"
    header = f"# derived by spear-bench ablate from {sweep.source or sweep.name}: {variant.label}\n"
    text = header + yaml.safe_dump(values, sort_keys=False)
    if not path.is_file() or path.read_text() != text:
        atomic_write_text(path, text)
    return load_pretrain_config(path), path, values


def targets_dir(sweep: SweepConfig, key: str) -> Path:
    """The shared targets of every variant with targets key ``key``."""
    return sweep.work_path / "targets" / key


def encoder_dir(sweep: SweepConfig, variant: Variant) -> Path:
    """The variant's pre-trained encoder (what the score stage loads)."""
    return variant_dir(sweep, variant) / "exp" / "encoder"
