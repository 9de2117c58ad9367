"""Zipformer2 building blocks: formulas, and training-only regularisers that are inert in eval."""

from __future__ import annotations

import math

import torch

from spear_bench.models.zipformer2 import (
    ConvNeXt,
    RelPositionMultiheadAttentionWeights,
    SimpleDownsample,
    SimpleUpsample,
    compact_rel_pos_table,
)
from spear_bench.models.zipformer_ops import Balancer, BiasNorm, ScheduledFloat, Whiten, swoosh_l, swoosh_r


def test_swoosh_formulas():
    x = torch.linspace(-20, 20, 101, dtype=torch.float64)
    assert torch.allclose(swoosh_r(x), torch.log1p(torch.exp(x - 1)) - 0.08 * x - 0.313261687)
    assert torch.allclose(swoosh_l(x), torch.log1p(torch.exp(x - 4)) - 0.08 * x - 0.035)
    assert abs(swoosh_r(torch.zeros(1, dtype=torch.float64)).item()) < 1e-8  # offset centres SwooshR at 0


def test_bias_norm_divides_by_rms_of_x_minus_bias_and_keeps_the_mean():
    norm = BiasNorm(4)
    with torch.no_grad():
        norm.bias.copy_(torch.tensor([1.0, -1.0, 0.5, 0.0]))
        norm.log_scale.fill_(0.3)
    x = torch.randn(3, 5, 4)
    rms = ((x - norm.bias) ** 2).mean(-1, keepdim=True).sqrt()
    assert torch.allclose(norm(x), x / rms * math.exp(0.3), atol=1e-6)


def test_simple_downsample_weights_groups_and_repeats_the_last_frame():
    down = SimpleDownsample(4)
    with torch.no_grad():
        down.bias.copy_(torch.tensor([0.0, 1.0, 2.0, 3.0]))
    x = torch.arange(6, dtype=torch.float32).reshape(1, 6, 1)
    w = torch.softmax(down.bias.detach(), 0)
    out = down(x)
    assert out.shape == (1, 2, 1)
    assert torch.allclose(out[0, 0, 0], (w * torch.tensor([0.0, 1, 2, 3])).sum())
    assert torch.allclose(out[0, 1, 0], (w * torch.tensor([4.0, 5, 5, 5])).sum())


def test_simple_upsample_repeats_frames():
    x = torch.tensor([[[1.0], [2.0]]])
    assert SimpleUpsample(3)(x).flatten().tolist() == [1, 1, 1, 2, 2, 2]


def test_positional_table_is_compressed_and_symmetric():
    pe = compact_rel_pos_table(50, 48)
    assert pe.shape == (99, 48)
    assert torch.all(pe[:, -1] == 1.0)
    centre = 49
    # cos features are even in the offset, sin features odd.
    assert torch.allclose(pe[centre + 7, 0:46:2], pe[centre - 7, 0:46:2], atol=1e-6)
    assert torch.allclose(pe[centre + 7, 1:46:2], -pe[centre - 7, 1:46:2], atol=1e-6)


def test_relative_position_scores_use_offset_key_minus_query():
    torch.manual_seed(0)
    attn = RelPositionMultiheadAttentionWeights(
        embed_dim=16, pos_dim=8, num_heads=2, query_head_dim=4, pos_head_dim=2
    ).eval()
    t = 5
    x = torch.randn(1, t, 16)
    pos = compact_rel_pos_table(t, 8).unsqueeze(0)
    weights = attn(x, pos)
    # Naive computation: score(i, j) = q_i.k_j + p_i.P(j - i), row (j - i) + (t - 1) of the table.
    proj = attn.in_proj(x)[0]
    q, k, p = proj[:, :8].reshape(t, 2, 4), proj[:, 8:16].reshape(t, 2, 4), proj[:, 16:].reshape(t, 2, 2)
    pp = attn.linear_pos(pos[0]).reshape(2 * t - 1, 2, 2)
    scores = torch.empty(2, t, t)
    for h in range(2):
        for i in range(t):
            for j in range(t):
                scores[h, i, j] = q[i, h] @ k[j, h] + p[i, h] @ pp[j - i + t - 1, h]
    assert torch.allclose(weights[0], scores.softmax(-1), atol=1e-6)


def test_padded_keys_get_no_attention():
    attn = RelPositionMultiheadAttentionWeights(16, 8, 2, 4, 2).eval()
    x = torch.randn(1, 6, 16)
    mask = torch.tensor([[False, False, False, False, True, True]])
    weights = attn(x, compact_rel_pos_table(6, 8).unsqueeze(0), key_padding_mask=mask)
    assert torch.all(weights[..., 4:] == 0)


def test_scheduled_float_uses_default_in_eval_and_interpolates_in_training():
    sf = ScheduledFloat((0.0, 0.3), (20000.0, 0.1), default=0.05)
    assert sf.value(training=True) == 0.05  # no batch count yet
    sf.batch_count = 10000
    assert abs(sf.value(training=True) - 0.2) < 1e-12
    assert sf.value(training=False) == 0.05
    sf.batch_count = 1e9
    assert sf.value(training=True) == 0.1


def _grad_through(module, x):
    x = x.clone().requires_grad_(True)
    y = module(x)
    assert torch.equal(y, x.detach())  # identity in the forward pass
    (y * torch.linspace(-1, 1, y.numel()).reshape(y.shape)).sum().backward()
    return x.grad


def test_balancer_changes_gradients_only_in_training():
    balancer = Balancer(8, channel_dim=-1, min_positive=0.45, max_positive=0.55, min_abs=2.0, max_abs=4.0, prob=1.0)
    x = torch.randn(50, 8) * 0.1 + 1.0  # mostly positive, too small: violates both constraints
    plain = _grad_through(balancer.eval(), x)
    trained = _grad_through(balancer.train(), x)
    assert torch.equal(plain, torch.linspace(-1, 1, 400).reshape(50, 8))
    assert not torch.allclose(plain, trained)


def test_whiten_changes_gradients_only_in_training_when_above_the_limit():
    whiten = Whiten(num_groups=1, whitening_limit=1.1, prob=(1.0, 1.0), grad_scale=0.1)
    x = torch.randn(200, 1) @ torch.randn(1, 8)  # rank one: far from white
    plain = _grad_through(whiten.eval(), x)
    trained = _grad_through(whiten.train(), x)
    assert torch.equal(plain, torch.linspace(-1, 1, 1600).reshape(200, 8))
    assert not torch.allclose(plain, trained)


def test_convnext_in_time_slices_equals_one_pass_and_the_training_path():
    """Eval runs long inputs through the ConvNeXt block in time slices (bounded memory); each slice
    sees the depthwise kernel's reach of real frames, so the result is the one-pass result, and
    both equal the training-mode function with its regularisers inert."""
    torch.manual_seed(0)
    block = ConvNeXt(16)
    with torch.no_grad():
        for parameter in block.parameters():
            parameter.normal_(0.0, 0.2)
    x = torch.randn(2, 16, 53, 9)
    block.eval()
    with torch.no_grad():
        block.eval_time_slice = 1000
        one_pass = block(x)
        block.eval_time_slice = 7  # slices shorter than the kernel's reach on both sides
        sliced = block(x)
        reference = block.depthwise_conv(x)
        reference = block.pointwise_conv2(block.activation(block.pointwise_conv1(reference))) + x
    torch.testing.assert_close(sliced, one_pass, rtol=0, atol=1e-6)  # a wrong seam is off by ~0.1
    torch.testing.assert_close(one_pass, reference, rtol=0, atol=1e-5)
