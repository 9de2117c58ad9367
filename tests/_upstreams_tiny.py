"""Tiny sizes of the baselines for fast tests (the real sizes are tested for parameter counts)."""

import torch

TINY_OVERRIDES = {
    "wavlm_base_plus": dict(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, conv_dim=16
    ),
    "wavlm_large": dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, conv_dim=16),
    "dasheng_base": dict(embed_dim=32, depth=2, num_heads=2),
    "dasheng_0_6b": dict(embed_dim=32, depth=3, num_heads=2),
    "dasheng_1_2b": dict(embed_dim=48, depth=2, num_heads=3),
    "usad_base": dict(encoder_dim=32, num_layers=2, num_attention_heads=2, conv_subsample_channels=4),
    "usad_large": dict(encoder_dim=32, num_layers=3, num_attention_heads=2, conv_subsample_channels=4),
}
HOP_SAMPLES = {"wavlm": 320, "usad": 320, "dasheng": 640, "spear": 320}


def three_waves(seed: int = 0):
    """Three unpadded 16 kHz waves of different lengths (1.0 s, 1.53 s, 0.61 s)."""
    generator = torch.Generator().manual_seed(seed)
    return [0.1 * torch.randn(n, generator=generator) for n in (16000, 24480, 9760)]
