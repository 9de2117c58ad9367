"""HEAR timestamps are frame centres: checked against each front end's receptive field.

For every family, the input region that one output frame of the (local, attention-free)
front end depends on is found from gradients; its midpoint must be the timestamp the
FrameEmbedder gives that frame.
"""

import pytest
import torch
from _upstreams_tiny import TINY_OVERRIDES

from spear_bench.upstreams import FrameEmbedder, build_encoder

FRAME = 7  # an interior frame: clear of the signal edges


def frame_output(out: torch.Tensor) -> torch.Tensor:
    """A random projection of one frame's features: a plain sum can be constant (normalised outputs)."""
    return (out * torch.randn(out.shape, generator=torch.Generator().manual_seed(0))).sum()


def support_midpoint(grad: torch.Tensor) -> float:
    """Midpoint (in input steps) of the rows of ``grad`` (time first) that are not exactly zero."""
    rows = grad.reshape(grad.shape[0], -1).abs().sum(1).nonzero().flatten()
    return (rows.min().item() + rows.max().item()) / 2


def timestamp(encoder, frame: int) -> float:
    embedder = FrameEmbedder(encoder)
    return embedder.first_centre_ms + embedder.hop_ms * frame


def test_spear_frame_centre_matches_its_front_end_receptive_field():
    encoder = build_encoder("spear_tiny")
    fbank = torch.randn(1, 100, 128, requires_grad=True)
    # as the waveform entry does: replicated edge frames, then the front end
    out, _ = encoder.encoder_embed(*encoder.pad_fbank_edges(fbank, torch.tensor([100])))
    frame_output(out[0, FRAME]).backward()
    centre_ms = (
        10.0 * support_midpoint(fbank.grad[0]) + 5.0
    )  # fbank frame k (snip_edges=False) is centred at 10k + 5 ms
    assert centre_ms == pytest.approx(timestamp(encoder, FRAME), abs=0.01)


def test_wavlm_frame_centre_matches_its_cnn_receptive_field():
    encoder = build_encoder("wavlm_large", overrides=TINY_OVERRIDES["wavlm_large"])  # layer-norm CNN: frame-local
    wave = torch.randn(1, 8000, requires_grad=True)
    features = encoder.model.feature_extractor(wave)  # (1, C, T)
    frame_output(features[0, :, FRAME]).backward()
    centre_ms = 1000.0 * (support_midpoint(wave.grad[0]) + 0.5) / 16000  # + half a sample: samples are intervals
    assert centre_ms == pytest.approx(timestamp(encoder, FRAME), abs=0.05)


def test_dasheng_frame_centre_matches_its_patch_receptive_field():
    encoder = build_encoder("dasheng_base", overrides=TINY_OVERRIDES["dasheng_base"])
    encoder.model.front_end[
        1
    ].top_db = None  # its clamp to (global max - 120 dB) would couple every frame to the loudest
    wave = (0.1 * torch.randn(1, 16000)).requires_grad_(True)
    patches = encoder.model.patch_embed(encoder.model.forward_to_spec(wave))  # (1, D, 1, T)
    frame_output(patches[0, :, 0, FRAME]).backward()
    centre_ms = 1000.0 * (support_midpoint(wave.grad[0]) + 0.5) / 16000
    assert centre_ms == pytest.approx(timestamp(encoder, FRAME), abs=0.05)


def test_usad_frame_centre_matches_its_subsampler_receptive_field():
    encoder = build_encoder("usad_base", overrides=TINY_OVERRIDES["usad_base"])
    feats = torch.randn(1, 60, 128, requires_grad=True)
    out = encoder.model.subsample(feats, torch.tensor([60]))
    frame_output(out[0, FRAME]).backward()
    centre_ms = 10.0 * support_midpoint(feats.grad[0]) + 12.5  # kaldi frame k (snip_edges) spans [10k, 10k + 25) ms
    assert centre_ms == pytest.approx(timestamp(encoder, FRAME), abs=0.01)
