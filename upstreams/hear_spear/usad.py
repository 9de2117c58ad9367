"""HEAR 2021 module for USAD Base / Large (reconstructed architecture or the release's remote code), 20 ms frames.

    hear-validator hear_spear.usad            # random init, default size
    model = hear_spear.usad.load_model("path/to/weights", model="base")

``model``: base | large (or the full registered name); ``layer``: last | all | int.
"""

from __future__ import annotations

from hear_spear._api import HearModel, get_scene_embeddings, get_timestamp_embeddings, load_hear_model


def load_model(model_file_path: str = "", model: str = "base", layer="last", **kwargs) -> HearModel:
    """usad ``model`` with random weights, or its released weights from ``model_file_path``."""
    return load_hear_model(model_file_path, model, layer, name_prefix="usad_", **kwargs)


__all__ = ["HearModel", "get_scene_embeddings", "get_timestamp_embeddings", "load_model"]
