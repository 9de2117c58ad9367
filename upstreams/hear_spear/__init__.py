"""HEAR 2021 module for SPEAR (hear-validator hear_spear; heareval's embedding runner).

    model = hear_spear.load_model()                                 # SPEAR Base, random init
    model = hear_spear.load_model("path/to/spear-base", layer="all")  # released or own weights
    embeddings, timestamps = hear_spear.get_timestamp_embeddings(audio, model)  # audio (n, samples) 16 kHz
    scene = hear_spear.get_scene_embeddings(audio, model)

``model``: base | large | xlarge | tiny (or any registered name, e.g. ``wavlm_large``);
with a ``model_file_path`` the checkpoint's own config decides the size. ``layer``:
``last`` (the paper's default), ``all`` (all hidden states concatenated: the paper's grey
rows) or an integer index into the hidden states. Frames are every 20 ms, timestamps at
frame centres. Baselines have their own modules: ``hear_spear.wavlm``,
``hear_spear.dasheng``, ``hear_spear.usad``.
"""

from __future__ import annotations

from hear_spear._api import HearModel, get_scene_embeddings, get_timestamp_embeddings, load_hear_model


def load_model(model_file_path: str = "", model: str = "base", layer="last", **kwargs) -> HearModel:
    """SPEAR ``model`` (random init) or the SPEAR checkpoint at ``model_file_path`` (folder or weights file)."""
    return load_hear_model(model_file_path, model, layer, name_prefix="spear_", checkpoint_decides=True, **kwargs)


__all__ = ["HearModel", "get_scene_embeddings", "get_timestamp_embeddings", "load_model"]
