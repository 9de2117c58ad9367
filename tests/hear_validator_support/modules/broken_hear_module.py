"""A HEAR module that breaks the API on purpose (float64 embeddings): the validator must reject it."""

import torch


class _Model(torch.nn.Module):
    sample_rate = 16000
    scene_embedding_size = 4
    timestamp_embedding_size = 4


def load_model(model_file_path: str = ""):
    return _Model()


def get_timestamp_embeddings(audio, model):
    frames = audio.shape[1] // 320
    timestamps = (10.0 + 20.0 * torch.arange(frames)).expand(audio.shape[0], -1)
    return torch.zeros(audio.shape[0], frames, 4, dtype=torch.float64), timestamps


def get_scene_embeddings(audio, model):
    return torch.zeros(audio.shape[0], 4)
