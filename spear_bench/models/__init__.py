"""Encoders: SPEAR (Zipformer2) and the baselines, behind one interface (models/base.py)."""
from __future__ import annotations

from pathlib import Path

from spear_bench.errors import ConfigError
from spear_bench.models.base import AudioEncoder, EncoderOutput
from spear_bench.models.registry import ALIASES, ModelBundle, get_bundle, model_names


def load_encoder(name_or_path, *, seed: int = 0, path: str | None = None):
    """A SPEAR encoder (or a baseline) in eval mode.

    ``name_or_path`` is a registered name (``base``, ``spear_large``, ``wavlm_base_plus`` ...;
    random init seeded with ``seed`` unless ``path`` gives weights) or a SPEAR checkpoint
    (a folder with config.json + model.safetensors / pytorch_model.bin, or the weights file).
    """
    name = str(name_or_path)
    if name in ALIASES or name in model_names():
        return get_bundle(name).build(path, seed)
    if Path(name).exists():
        from spear_bench.models.checkpoint import load_spear_checkpoint

        return load_spear_checkpoint(name).eval()
    raise ConfigError(
        f"{name!r} is neither a known model ({', '.join(sorted(ALIASES) + model_names())}) nor an existing checkpoint path"
    )


__all__ = ["AudioEncoder", "EncoderOutput", "ModelBundle", "get_bundle", "load_encoder", "model_names"]
