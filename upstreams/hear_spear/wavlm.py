"""HEAR 2021 module for WavLM Base+ / Large (transformers), 20 ms frames.

    hear-validator hear_spear.wavlm            # random init, default size
    model = hear_spear.wavlm.load_model("path/to/weights", model="base_plus")

``model``: base_plus | large (or the full registered name); ``layer``: last | all | int.
"""

from __future__ import annotations

from hear_spear._api import HearModel, get_scene_embeddings, get_timestamp_embeddings, load_hear_model


def load_model(model_file_path: str = "", model: str = "base_plus", layer="last", **kwargs) -> HearModel:
    """wavlm ``model`` with random weights, or its released weights from ``model_file_path``."""
    return load_hear_model(model_file_path, model, layer, name_prefix="wavlm_", **kwargs)


__all__ = ["HearModel", "get_scene_embeddings", "get_timestamp_embeddings", "load_model"]
