"""HEAR module for SPEAR (and, as submodules, the baselines): load_model, get_timestamp_embeddings, get_scene_embeddings."""
