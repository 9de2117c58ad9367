"""HEAR 2021 module for Dasheng base / 0.6B / 1.2B (dasheng package), 40 ms frames.

    hear-validator hear_spear.dasheng            # random init, default size
    model = hear_spear.dasheng.load_model("path/to/weights", model="base")

``model``: base | 0_6b | 1_2b (or the full registered name); ``layer``: last | all | int.
"""

from __future__ import annotations

from hear_spear._api import HearModel, get_scene_embeddings, get_timestamp_embeddings, load_hear_model


def load_model(model_file_path: str = "", model: str = "base", layer="last", **kwargs) -> HearModel:
    """dasheng ``model`` with random weights, or its released weights from ``model_file_path``."""
    return load_hear_model(model_file_path, model, layer, name_prefix="dasheng_", **kwargs)


__all__ = ["HearModel", "get_scene_embeddings", "get_timestamp_embeddings", "load_model"]
