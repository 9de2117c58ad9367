"""The pre-training settings an ablation sweep can vary, and how their values read in model names."""

from __future__ import annotations

import copy
from dataclasses import dataclass

from spear_bench.errors import ConfigError


@dataclass(frozen=True)
class Knob:
    """A pre-training setting a sweep can vary: where it lives in the config and how its values read."""

    path: tuple[str, ...]  # keys into the pre-training config; ("token_sets", NAME, ...) picks a token set by name
    kind: type
    description: str


KNOBS: dict[str, Knob] = {
    "alpha": Knob(("loss", "alpha"), float, "Eq. 1 weight of the masked frames' loss (Fig. 3)"),
    "lambda": Knob(("loss", "audio_weight"), float, "audio-token loss weight (Table 24)"),
    "strategy": Knob(("loss", "strategy"), str, "dual-domain strategy: joint | disjoint | asymmetrical (Table 7)"),
    "codebooks": Knob(("token_sets", "speech", "mvq", "num_codebooks"), int, "speech MVQ codebooks (Table 22)"),
    "audio_codebooks": Knob(("token_sets", "audio", "mvq", "num_codebooks"), int, "audio MVQ codebooks (Table 23)"),
    "teacher_layer": Knob(("token_sets", "speech", "teacher", "layer"), int, "speech teacher layer (Table 19a)"),
    "audio_teacher_layer": Knob(("token_sets", "audio", "teacher", "layer"), int, "audio teacher layer (Table 19b)"),
    "token_mixing": Knob(("augment", "token_mixing", "prob"), float, "token-mixing probability (Table 6)"),
    "target": Knob(("token_sets", "speech", "target"), str, "speech targets: mvq | kmeans (Table 21)"),
}


def value_text(value) -> str:
    """A knob value as it appears in model names: 0.5, 1, 16, kmeans (floats without trailing zeros)."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def set_knob(config: dict, name: str, value, where: str) -> dict:
    """A copy of the pre-training config dict with knob ``name`` set to ``value``."""
    knob = KNOBS[name]
    out = copy.deepcopy(config)
    node = out
    keys = list(knob.path)
    while len(keys) > 1:
        key = keys.pop(0)
        if key == "token_sets":
            wanted = keys.pop(0)
            sets = node.get("token_sets") or []
            matches = [t for t in sets if t.get("name", "speech") == wanted]
            if not matches:
                raise ConfigError(f"{where}: knob {name!r} needs a token set named {wanted!r} in the base config")
            node = matches[0]
            continue
        if not isinstance(node.get(key), dict):
            node[key] = {}
        node = node[key]
    node[keys[0]] = value
    return out
