"""Zipformer2 (Yao et al., 2024), the encoder of SPEAR, non-causal, written from the facts in
the project's shared SPEAR facts (spear-facts.md) and the reference implementation's documented behaviour.

Layout: tensors are (batch, time, channels) throughout (the reference uses (time, batch,
channels); the arithmetic is the same). Module and parameter names follow the released
checkpoints (``encoder_embed.*``, ``encoder.encoders.{i}[.encoder].layers.{j}.*``), so a
released state dict loads with strict key matching.

Structure::

    fbank (B, T, 128) -> Conv2dSubsampling ("encoder_embed", 100 Hz -> 50 Hz, (T - 7) // 2 frames)
      -> Zipformer2 ("encoder"): stacks with their own dim / layer count / frame rate;
         a stack with downsampling factor d > 1 runs at 50/d Hz between a learned
         SimpleDownsample and a repeat-upsampling, then a learned bypass (out_combiner)
      -> channels of the stacks joined (_full_dim_output) -> optional SimpleDownsample by 2.

Each layer: ff1, non-linear attention, self-attention 1, conv 1, ff2, mid bypass,
self-attention 2, conv 2, ff3, BiasNorm, bypass; one set of relative-position attention
weights is shared by the two self-attentions and (head 0) the non-linear attention.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field, fields
from typing import Sequence

import torch
from torch import Tensor, nn

from spear_bench.errors import ConfigError
from spear_bench.models.zipformer_ops import (
    ActivationDropoutAndLinear,
    Balancer,
    BiasNorm,
    FloatLike,
    ScaleGrad,
    ScheduledFloat,
    SwooshL,
    SwooshR,
    Whiten,
    convert_num_channels,
    float_value,
    limit_param_value,
    scaled_conv2d,
    scaled_linear,
    shared_dropout,
    whitening_schedule,
)

# ---------------------------------------------------------------------------------------
# Hyper-parameters
# ---------------------------------------------------------------------------------------

# Fields that hold one value per stack (an int broadcasts to every stack).
PER_STACK_FIELDS = (
    "encoder_dim",
    "num_encoder_layers",
    "encoder_unmasked_dim",
    "query_head_dim",
    "pos_head_dim",
    "value_head_dim",
    "num_heads",
    "feedforward_dim",
    "cnn_module_kernel",
)


def parse_int_tuple(value, name: str) -> tuple[int, ...]:
    """An int, a list/tuple of ints, or a comma-separated string ("1,2,3") -> tuple of ints."""
    try:
        if isinstance(value, str):
            items = [v for v in value.replace(" ", "").split(",") if v != ""]
            if not items:
                raise ValueError("empty")
            return tuple(int(v) for v in items)
        if isinstance(value, bool):
            raise ValueError("boolean")
        if isinstance(value, int):
            return (value,)
        if isinstance(value, float) and value.is_integer():
            return (int(value),)
        items = tuple(value)
        if not items:
            raise ValueError("empty")
        out = []
        for v in items:
            if isinstance(v, bool) or not float(v).is_integer():
                raise ValueError(repr(v))
            out.append(int(v))
        return tuple(out)
    except (TypeError, ValueError) as error:
        raise ConfigError(
            f"config setting {name}={value!r} is not an int, a list of ints or a comma-separated string ({error})"
        ) from None


@dataclass
class Zipformer2Config:
    """Zipformer2 hyper-parameters, named as in the reference code and the released config.json.

    Per-stack settings accept an int (same for every stack), a list, or a comma-separated
    string; after construction each is a tuple with one entry per stack.
    """

    num_mel_bins: int = 128
    downsampling_factor: tuple[int, ...] = (1, 2, 4, 8, 4, 2, 1)
    output_downsampling_factor: int = 1
    encoder_dim: tuple[int, ...] = (512,)
    num_encoder_layers: tuple[int, ...] = (1, 2, 3, 3, 1, 1, 1)
    encoder_unmasked_dim: tuple[int, ...] = (256,)
    query_head_dim: tuple[int, ...] = (32,)
    pos_head_dim: tuple[int, ...] = (4,)
    value_head_dim: tuple[int, ...] = (12,)
    num_heads: tuple[int, ...] = (8,)
    feedforward_dim: tuple[int, ...] = (1536,)
    cnn_module_kernel: tuple[int, ...] = (31, 31, 15, 15, 15, 31, 31)
    pos_dim: int = 48

    def __post_init__(self):
        self.downsampling_factor = parse_int_tuple(self.downsampling_factor, "downsampling_factor")
        n = len(self.downsampling_factor)
        for name in PER_STACK_FIELDS:
            values = parse_int_tuple(getattr(self, name), name)
            if len(values) == 1:
                values = values * n
            if len(values) != n:
                raise ConfigError(
                    f"config setting {name} has {len(values)} entries but downsampling_factor has {n} stacks"
                )
            setattr(self, name, values)
        for name in ("num_mel_bins", "output_downsampling_factor", "pos_dim"):
            (value,) = parse_int_tuple(getattr(self, name), name)
            setattr(self, name, value)
        self.validate()

    def validate(self) -> None:
        if self.output_downsampling_factor not in (1, 2):
            raise ConfigError(
                f"config setting output_downsampling_factor={self.output_downsampling_factor} must be 1 or 2"
            )
        if any(d < 1 for d in self.downsampling_factor):
            raise ConfigError(f"config setting downsampling_factor={self.downsampling_factor} must be >= 1")
        if self.num_mel_bins < 7:
            raise ConfigError(f"config setting num_mel_bins={self.num_mel_bins} must be >= 7")
        if self.pos_dim % 2:
            raise ConfigError(f"config setting pos_dim={self.pos_dim} must be even")
        for i, (u, d) in enumerate(zip(self.encoder_unmasked_dim, self.encoder_dim)):
            if u > d:
                raise ConfigError(f"config setting encoder_unmasked_dim[{i}]={u} exceeds encoder_dim[{i}]={d}")
        for i, k in enumerate(self.cnn_module_kernel):
            if k % 2 == 0:
                raise ConfigError(f"config setting cnn_module_kernel[{i}]={k} must be odd")
        for i, (d, h) in enumerate(zip(self.encoder_dim, self.num_heads)):
            if (3 * d // 4) % h:
                raise ConfigError(f"config setting encoder_dim[{i}]={d}: 3*dim/4 must be divisible by num_heads={h}")

    @property
    def num_stacks(self) -> int:
        return len(self.downsampling_factor)

    @property
    def num_layers(self) -> int:
        return sum(self.num_encoder_layers)

    @property
    def output_dim(self) -> int:
        return max(self.encoder_dim)

    def to_dict(self) -> dict:
        """JSON-ready dict with the reference names (lists for per-stack settings)."""
        out = {}
        for f in fields(Zipformer2Config):
            value = getattr(self, f.name)
            out[f.name] = list(value) if isinstance(value, tuple) else value
        return out


# ---------------------------------------------------------------------------------------
# Front end: Conv2dSubsampling with a ConvNeXt block
# ---------------------------------------------------------------------------------------


class ConvNeXt(nn.Module):
    """Depthwise 7x7 conv -> pointwise (x3 channels) -> SwooshL -> pointwise, plus residual."""

    def __init__(self, channels: int, hidden_ratio: int = 3, kernel_size: tuple[int, int] = (7, 7)):
        super().__init__()
        padding = ((kernel_size[0] - 1) // 2, (kernel_size[1] - 1) // 2)
        hidden = channels * hidden_ratio
        self.layerdrop_rate: FloatLike = ScheduledFloat((0.0, 0.2), (20000.0, 0.015))
        self.depthwise_conv = nn.Conv2d(channels, channels, kernel_size, groups=channels, padding=padding)
        self.pointwise_conv1 = nn.Conv2d(channels, hidden, kernel_size=1)
        self.hidden_balancer = Balancer(
            hidden, channel_dim=1, min_positive=0.3, max_positive=1.0, min_abs=0.75, max_abs=5.0
        )
        self.activation = SwooshL()
        self.pointwise_conv2 = scaled_conv2d(hidden, channels, kernel_size=1, initial_scale=0.01)
        self.out_balancer = Balancer(
            channels, channel_dim=1, min_positive=0.4, max_positive=0.6, min_abs=1.0, max_abs=6.0
        )
        self.out_whiten = Whiten(num_groups=1, whitening_limit=5.0, prob=(0.025, 0.25), grad_scale=0.01)

    def forward(self, x: Tensor) -> Tensor:
        """x: (B, C, T, F)."""
        if not self.training:
            return self._forward_channels_last(x)
        bypass = x
        x = self.depthwise_conv(x)
        x = self.pointwise_conv1(x)
        x = self.hidden_balancer(x)
        x = self.activation(x)
        x = self.pointwise_conv2(x)
        if self.training:
            rate = float_value(self.layerdrop_rate, True)
            if rate > 0:
                keep = (torch.rand(x.shape[0], 1, 1, 1, device=x.device) > rate).to(x.dtype)
                x = x * keep
        x = self.out_balancer(bypass + x)
        if self.training and x.requires_grad:
            x = self.out_whiten(x.transpose(1, 3)).transpose(1, 3)
        return x

    # Eval: time frames per slice. The hidden activations are 3x the block's input (71 MiB for
    # a 30 s chunk); slicing keeps one slice of them alive, the front end's largest tensor.
    eval_time_slice = 512

    def _forward_channels_last(self, x: Tensor) -> Tensor:
        """Eval: the same function with the 1x1 convolutions as matrix products over channels-last
        activations (mkldnn's 1x1 convolution on (B, 384, T, F) was the largest single cost of
        the whole encoder on CPU); the regularisers are identities in eval mode. Long inputs go
        through in time slices, each with the depthwise kernel's reach of real frames on both
        sides (the zero padding falls only where the whole input's does), so every output frame
        sees exactly the inputs it sees in one pass."""
        frames = x.shape[2]
        if frames <= self.eval_time_slice:
            return x + self._residual_channels_last(x)
        reach = (self.depthwise_conv.kernel_size[0] - 1) // 2
        out = torch.empty_like(x)
        for t0 in range(0, frames, self.eval_time_slice):
            t1 = min(frames, t0 + self.eval_time_slice)
            lo, hi = max(0, t0 - reach), min(frames, t1 + reach)
            residual = self._residual_channels_last(x[:, :, lo:hi])
            out[:, :, t0:t1] = x[:, :, t0:t1] + residual[:, :, t0 - lo : t1 - lo]
        return out

    def _residual_channels_last(self, x: Tensor) -> Tensor:
        hidden = self.depthwise_conv(x).permute(0, 2, 3, 1)  # (B, T, F, C)
        w1, w2 = self.pointwise_conv1.weight, self.pointwise_conv2.weight
        hidden = nn.functional.linear(hidden, w1.reshape(w1.shape[0], -1), self.pointwise_conv1.bias)
        hidden = self.activation(hidden)
        hidden = nn.functional.linear(hidden, w2.reshape(w2.shape[0], -1), self.pointwise_conv2.bias)
        return hidden.permute(0, 3, 1, 2)


class Conv2dSubsampling(nn.Module):
    """(B, T, F) fbank at 100 Hz -> (B, (T - 7) // 2, out_channels) at 50 Hz.

    Conv 1->8 (3x3, freq pad 1), SwooshR; conv 8->32 (3x3, stride 2), SwooshR; conv 32->128
    (3x3, stride (1, 2)), SwooshR; ConvNeXt; Linear(128 * 31 -> out); BiasNorm. Sequential
    indices 0/4/7 of ``conv`` are the convolutions (1-3, 5-6, 8-9 are gradient scaling,
    balancers and activations), matching the released key names.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        layer1_channels: int = 8,
        layer2_channels: int = 32,
        layer3_channels: int = 128,
    ):
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(1, layer1_channels, kernel_size=3, padding=(0, 1)),
            ScaleGrad(0.2),
            Balancer(layer1_channels, channel_dim=1, max_abs=1.0),
            SwooshR(),
            nn.Conv2d(layer1_channels, layer2_channels, kernel_size=3, stride=2, padding=0),
            Balancer(layer2_channels, channel_dim=1, max_abs=4.0),
            SwooshR(),
            nn.Conv2d(layer2_channels, layer3_channels, kernel_size=3, stride=(1, 2)),
            Balancer(layer3_channels, channel_dim=1, max_abs=4.0),
            SwooshR(),
        )
        self.convnext = ConvNeXt(layer3_channels)
        self.out_width = (((in_channels - 1) // 2) - 1) // 2
        self.out = nn.Linear(self.out_width * layer3_channels, out_channels)
        self.out_whiten = Whiten(
            num_groups=1,
            whitening_limit=ScheduledFloat((0.0, 4.0), (20000.0, 8.0), default=4.0),
            prob=(0.025, 0.25),
            grad_scale=0.02,
        )
        self.out_norm = BiasNorm(out_channels)
        self.dropout: FloatLike = ScheduledFloat((0.0, 0.3), (20000.0, 0.1))

    @staticmethod
    def output_lengths(lengths: Tensor) -> Tensor:
        return (lengths - 7) // 2

    def forward(self, x: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        x = self.conv(x.unsqueeze(1))  # (B, C, T', F')
        x = self.convnext(x)
        b, c, t, f = x.shape
        x = x.transpose(1, 2).reshape(b, t, c * f)
        x = self.out(x)
        x = self.out_whiten(x)
        x = self.out_norm(x)
        # Dropout with its mask shared over time.
        x = shared_dropout(x, float_value(self.dropout, self.training), 1, self.training)
        return x, self.output_lengths(lengths)


# ---------------------------------------------------------------------------------------
# Positional encoding and attention
# ---------------------------------------------------------------------------------------


def compact_rel_pos_table(num_frames: int, pos_dim: int, length_factor: float = 1.0, device=None) -> Tensor:
    """(2T - 1, pos_dim) encodings of the relative offsets -(T-1) .. T-1 (row r: offset r - (T-1)).

    Offsets are compressed logarithmically (slope 1 near 0) and mapped into (-pi/2, pi/2)
    with atan before the Fourier features, so large offsets differ little from each
    other; the last channel is a constant 1 (a bias term).
    """
    x = torch.arange(-(num_frames - 1), num_frames, device=device).to(torch.float32).unsqueeze(1)
    freqs = 1 + torch.arange(pos_dim // 2, device=device)
    compression_length = pos_dim**0.5
    x_compressed = compression_length * x.sign() * ((x.abs() + compression_length).log() - math.log(compression_length))
    length_scale = length_factor * pos_dim / (2.0 * math.pi)
    x_atan = (x_compressed / length_scale).atan()
    pe = torch.zeros(x.shape[0], pos_dim, device=device)
    pe[:, 0::2] = (x_atan * freqs).cos()
    pe[:, 1::2] = (x_atan * freqs).sin()
    pe[:, -1] = 1.0
    return pe


class CompactRelPositionalEncoding(nn.Module):
    """Relative positional encodings for a sequence of T frames: (1, 2T - 1, pos_dim), cached."""

    def __init__(self, pos_dim: int, dropout_rate: FloatLike = 0.15, length_factor: float = 1.0):
        super().__init__()
        self.pos_dim = pos_dim
        self.dropout_rate = dropout_rate
        self.length_factor = length_factor
        self._cache: dict[tuple[int, str], Tensor] = {}

    def forward(self, num_frames: int, device, dtype) -> Tensor:
        key = (num_frames, str(device))
        pe = self._cache.get(key)
        if pe is None:
            pe = compact_rel_pos_table(num_frames, self.pos_dim, self.length_factor, device=device)
            if len(self._cache) > 8:
                self._cache.clear()
            self._cache[key] = pe
        pe = pe.to(dtype).unsqueeze(0)
        return shared_dropout(pe, float_value(self.dropout_rate, self.training), None, self.training)


class RelPositionMultiheadAttentionWeights(nn.Module):
    """Attention weights (B, H, T, T) from query/key heads plus relative-position scores.

    in_proj gives per head a query (query_head_dim), key (query_head_dim) and a
    position query (pos_head_dim); linear_pos projects the positional encodings to
    pos_head_dim per head. Score(i, j) = q_i . k_j + p_i . pos(j - i); padded keys get
    -1000 before the softmax.
    """

    def __init__(
        self, embed_dim: int, pos_dim: int, num_heads: int, query_head_dim: int, pos_head_dim: int, dropout: float = 0.0
    ):
        super().__init__()
        self.embed_dim = embed_dim
        self.num_heads = num_heads
        self.query_head_dim = query_head_dim
        self.pos_head_dim = pos_head_dim
        self.dropout = dropout
        self.pos_emb_skip_rate: FloatLike = ScheduledFloat((0.0, 0.5), (4000.0, 0.0))
        in_proj_dim = (2 * query_head_dim + pos_head_dim) * num_heads
        self.in_proj = scaled_linear(embed_dim, in_proj_dim, bias=True, initial_scale=query_head_dim**-0.25)
        self.whiten_keys = Whiten(
            num_groups=num_heads, whitening_limit=whitening_schedule(3.0), prob=(0.025, 0.25), grad_scale=0.025
        )
        self.balance_keys = Balancer(
            query_head_dim * num_heads,
            channel_dim=-1,
            min_positive=0.4,
            max_positive=0.6,
            min_abs=0.0,
            max_abs=100.0,
            prob=0.025,
        )
        self.linear_pos = scaled_linear(pos_dim, num_heads * pos_head_dim, bias=False, initial_scale=0.05)

    def forward(self, x: Tensor, pos_emb: Tensor, key_padding_mask: Tensor | None = None) -> Tensor:
        """x (B, T, C), pos_emb (1, 2T - 1, pos_dim), key_padding_mask (B, T) True = padding."""
        b, t, _ = x.shape
        h, dq, dp = self.num_heads, self.query_head_dim, self.pos_head_dim
        x = self.in_proj(x)
        q = x[..., : h * dq]
        k = self.whiten_keys(self.balance_keys(x[..., h * dq : 2 * h * dq]))
        p = x[..., 2 * h * dq :]
        q = q.reshape(b, t, h, dq).permute(0, 2, 1, 3)  # (B, H, T, dq)
        k = k.reshape(b, t, h, dq).permute(0, 2, 3, 1)  # (B, H, dq, T)
        p = p.reshape(b, t, h, dp).permute(0, 2, 1, 3)  # (B, H, T, dp)
        scores = torch.matmul(q, k)
        if not scores.requires_grad:
            return self._inference_weights(scores, p, pos_emb, key_padding_mask)

        skip_pos = self.training and torch.rand(()).item() < float_value(self.pos_emb_skip_rate, True)
        if not skip_pos:
            pos = self.linear_pos(pos_emb)  # (1, 2T - 1, H * dp)
            pos = pos.reshape(-1, 2 * t - 1, h, dp).permute(0, 2, 3, 1)  # (1, H, dp, 2T - 1)
            pos_scores = torch.matmul(p, pos).contiguous()  # (B, H, T, 2T - 1), column = offset + T - 1
            # Relative -> absolute: entry (i, j) reads column (T - 1) - i + j, i.e. offset j - i.
            s0, s1, s2, s3 = pos_scores.stride()
            pos_scores = pos_scores.as_strided((b, h, t, t), (s0, s1, s2 - s3, s3), storage_offset=s3 * (t - 1))
            scores = scores + pos_scores

        if self.training and torch.is_grad_enabled() and torch.rand(()).item() < 0.1:
            scores = _penalize_abs_values_gt(scores, limit=25.0, penalty=1.0e-4)
        if key_padding_mask is not None:
            # -1000 rather than -inf: an all-padding row stays finite (exp(-1000) is exactly 0).
            scores = scores.masked_fill(key_padding_mask[:, None, None, :], -1000.0)
        weights = scores.softmax(dim=-1)
        return nn.functional.dropout(weights, p=self.dropout, training=self.training)

    def _inference_weights(self, scores: Tensor, p: Tensor, pos_emb: Tensor, key_padding_mask: Tensor | None) -> Tensor:
        """The same weights without autograd, in place: the (T, 2T - 1) position scores
        exist for one head of one sequence at a time and the softmax overwrites the scores,
        so a batch of 30 s chunks needs one (B, H, T, T) tensor instead of about four."""
        b, h, t, _ = scores.shape
        pos = (
            self.linear_pos(pos_emb).reshape(-1, 2 * t - 1, h, self.pos_head_dim).permute(0, 2, 3, 1)
        )  # (1, H, dp, 2T - 1)
        for i in range(b):
            row = scores[i]
            for head in range(h):  # (T, 2T - 1) position scores of one head at a time
                pos_scores = torch.matmul(p[i, head], pos[0, head]).contiguous()
                s1, s2 = pos_scores.stride()
                row[head].add_(pos_scores.as_strided((t, t), (s1 - s2, s2), storage_offset=s2 * (t - 1)))
                del pos_scores
            if key_padding_mask is not None:
                row.masked_fill_(key_padding_mask[i, None, None, :], -1000.0)
            if row.device.type == "cpu":
                torch.softmax(row, dim=-1, out=row)  # the CPU kernel reads each row before writing it
            else:
                row.copy_(row.softmax(dim=-1))
        return scores


class _WithLoss(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: Tensor, loss: Tensor) -> Tensor:
        ctx.loss_shape = loss.shape
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: Tensor):
        return grad, torch.ones(ctx.loss_shape, dtype=grad.dtype, device=grad.device)


def _penalize_abs_values_gt(x: Tensor, limit: float, penalty: float) -> Tensor:
    """Identity; adds penalty * (|x| - limit)_+ to the loss via the backward pass (training only)."""
    aux_loss = penalty * ((x.abs() - limit) > 0).to(x.dtype) * x.sign() * x
    return _WithLoss.apply(x, aux_loss)


class SelfAttention(nn.Module):
    """Values (num_heads * value_head_dim) weighted by precomputed attention weights, projected back."""

    def __init__(self, embed_dim: int, num_heads: int, value_head_dim: int):
        super().__init__()
        self.in_proj = nn.Linear(embed_dim, num_heads * value_head_dim, bias=True)
        self.out_proj = scaled_linear(num_heads * value_head_dim, embed_dim, bias=True, initial_scale=0.05)
        self.whiten = Whiten(
            num_groups=1, whitening_limit=whitening_schedule(7.5, ratio=3.0), prob=(0.025, 0.25), grad_scale=0.01
        )

    def forward(self, x: Tensor, attn_weights: Tensor) -> Tensor:
        b, t, _ = x.shape
        h = attn_weights.shape[1]
        v = self.in_proj(x).reshape(b, t, h, -1).permute(0, 2, 1, 3)  # (B, H, T, dv)
        out = torch.matmul(attn_weights, v).permute(0, 2, 1, 3).reshape(b, t, -1)
        return self.whiten(self.out_proj(out))


class NonlinAttention(nn.Module):
    """tanh-gated values averaged with one head's attention weights, times a second gate, projected."""

    def __init__(self, channels: int, hidden_channels: int):
        super().__init__()
        self.hidden_channels = hidden_channels
        self.in_proj = nn.Linear(channels, hidden_channels * 3, bias=True)
        self.balancer = Balancer(
            hidden_channels,
            channel_dim=-1,
            min_positive=ScheduledFloat((0.0, 0.25), (20000.0, 0.05)),
            max_positive=ScheduledFloat((0.0, 0.75), (20000.0, 0.95)),
            min_abs=0.5,
            max_abs=5.0,
        )
        self.out_proj = scaled_linear(hidden_channels, channels, bias=True, initial_scale=0.05)
        self.whiten1 = Whiten(
            num_groups=1, whitening_limit=whitening_schedule(5.0), prob=(0.025, 0.25), grad_scale=0.01
        )
        self.whiten2 = Whiten(
            num_groups=1, whitening_limit=whitening_schedule(5.0, ratio=3.0), prob=(0.025, 0.25), grad_scale=0.01
        )

    def forward(self, x: Tensor, attn_weights: Tensor) -> Tensor:
        """attn_weights: (B, H', T, T) with H' heads (the layer passes head 0 only)."""
        b, t, _ = x.shape
        s, x, y = self.in_proj(x).chunk(3, dim=-1)
        s = torch.tanh(self.balancer(s))
        x = self.whiten1(x) * s
        h = attn_weights.shape[1]
        x = x.reshape(b, t, h, -1).permute(0, 2, 1, 3)
        x = torch.matmul(attn_weights, x).permute(0, 2, 1, 3).reshape(b, t, -1)
        x = x * y
        return self.whiten2(self.out_proj(x))


class ConvolutionModule(nn.Module):
    """Sigmoid-gated linear -> depthwise conv over time (padded frames zeroed first) -> SwooshR -> linear."""

    def __init__(self, channels: int, kernel_size: int):
        super().__init__()
        self.in_proj = nn.Linear(channels, 2 * channels)
        self.balancer1 = Balancer(
            channels,
            channel_dim=-1,
            min_positive=ScheduledFloat((0.0, 0.05), (8000.0, 0.025)),
            max_positive=1.0,
            min_abs=1.5,
            max_abs=ScheduledFloat((0.0, 5.0), (8000.0, 10.0), default=1.0),
        )
        self.depthwise_conv = nn.Conv1d(channels, channels, kernel_size, groups=channels, padding=kernel_size // 2)
        self.balancer2 = Balancer(
            channels,
            channel_dim=1,
            min_positive=ScheduledFloat((0.0, 0.1), (8000.0, 0.05)),
            max_positive=1.0,
            min_abs=ScheduledFloat((0.0, 0.2), (20000.0, 0.5)),
            max_abs=10.0,
        )
        self.whiten = Whiten(num_groups=1, whitening_limit=whitening_schedule(7.5), prob=(0.025, 0.25), grad_scale=0.01)
        self.out_proj = ActivationDropoutAndLinear(
            channels, channels, activation="SwooshR", dropout_p=0.0, initial_scale=0.05
        )

    def forward(self, x: Tensor, key_padding_mask: Tensor | None = None) -> Tensor:
        if not self.training:
            return self._forward_time_major(x, key_padding_mask)
        x, s = self.in_proj(x).chunk(2, dim=-1)
        x = x * torch.sigmoid(self.balancer1(s))
        x = x.transpose(1, 2)  # (B, C, T)
        if key_padding_mask is not None:
            # Padding must not leak into valid frames through the kernel.
            x = x.masked_fill(key_padding_mask[:, None, :], 0.0)
        x = self.balancer2(self.depthwise_conv(x))
        x = x.transpose(1, 2)
        return self.out_proj(self.whiten(x))

    def _forward_time_major(self, x: Tensor, key_padding_mask: Tensor | None) -> Tensor:
        """Eval: the same function without leaving (B, T, C) memory order. (B, T, C) viewed as
        (B, C, 1, T) is channels-last, which mkldnn's depthwise conv2d reads and writes
        directly; the conv1d path copied to (B, C, T) and back and ran several times slower."""
        x, s = self.in_proj(x).chunk(2, dim=-1)
        x = x * torch.sigmoid(s)
        if key_padding_mask is not None:
            x = x.masked_fill(key_padding_mask[:, :, None], 0.0)
        conv = self.depthwise_conv
        x = nn.functional.conv2d(
            x.transpose(1, 2).unsqueeze(2),
            conv.weight.unsqueeze(2),
            conv.bias,
            padding=(0, conv.padding[0]),
            groups=conv.groups,
        )
        return self.out_proj(x.squeeze(2).transpose(1, 2))


class FeedforwardModule(nn.Module):
    """Linear -> SwooshL -> dropout (shared over time) -> linear."""

    def __init__(self, embed_dim: int, feedforward_dim: int, dropout: FloatLike):
        super().__init__()
        self.in_proj = nn.Linear(embed_dim, feedforward_dim)
        self.hidden_balancer = Balancer(
            feedforward_dim, channel_dim=-1, min_positive=0.3, max_positive=1.0, min_abs=0.75, max_abs=5.0
        )
        self.out_proj = ActivationDropoutAndLinear(
            feedforward_dim,
            embed_dim,
            activation="SwooshL",
            dropout_p=dropout,
            dropout_shared_axis=1,
            bias=True,
            initial_scale=0.1,
        )
        self.out_whiten = Whiten(
            num_groups=1, whitening_limit=whitening_schedule(7.5), prob=(0.025, 0.25), grad_scale=0.01
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.out_whiten(self.out_proj(self.hidden_balancer(self.in_proj(x))))


class BypassModule(nn.Module):
    """src_orig + (src - src_orig) * bypass_scale; in training the scale is limited to
    [scale_min, scale_max] (via gradients) and zeroed per sequence with ``skip_rate`` (layer skip)."""

    def __init__(self, embed_dim: int, skip_rate: FloatLike = 0.0, straight_through_rate: FloatLike = 0.0):
        super().__init__()
        self.bypass_scale = nn.Parameter(torch.full((embed_dim,), 0.5))
        self.skip_rate = copy.deepcopy(skip_rate)
        self.straight_through_rate = copy.deepcopy(straight_through_rate)
        self.scale_min: FloatLike = ScheduledFloat((0.0, 0.9), (20000.0, 0.2), default=0.0)
        self.scale_max: FloatLike = 1.0

    def _scale(self, batch_size: int) -> Tensor:
        if not self.training:
            return self.bypass_scale
        scale = limit_param_value(
            self.bypass_scale, float_value(self.scale_min, True), float_value(self.scale_max, True), training=True
        )
        skip = float_value(self.skip_rate, True)
        if skip != 0.0:
            scale = scale * (torch.rand(batch_size, 1, device=scale.device) > skip)
        straight = float_value(self.straight_through_rate, True)
        if straight != 0.0:
            scale = torch.maximum(scale, (torch.rand(batch_size, 1, device=scale.device) < straight).to(scale.dtype))
        return scale

    def forward(self, src_orig: Tensor, src: Tensor) -> Tensor:
        scale = self._scale(src.shape[0])
        if not self.training:
            return torch.lerp(src_orig, src, scale)  # the same formula in one kernel
        if scale.ndim == 2:
            scale = scale.unsqueeze(1)  # (B, 1, C) per-sequence scales
        return src_orig + (src - src_orig) * scale


# ---------------------------------------------------------------------------------------
# Layers and stacks
# ---------------------------------------------------------------------------------------


def _sequence_dropout(x: Tensor, rate: float, training: bool) -> Tensor:
    """Zero a module's whole output for a random subset of sequences (training only)."""
    if not training or rate == 0.0:
        return x
    return x * (torch.rand(x.shape[0], 1, 1, device=x.device) > rate).to(x.dtype)


class Zipformer2EncoderLayer(nn.Module):
    def __init__(
        self,
        embed_dim: int,
        pos_dim: int,
        num_heads: int,
        query_head_dim: int,
        pos_head_dim: int,
        value_head_dim: int,
        feedforward_dim: int,
        dropout: FloatLike = 0.1,
        cnn_module_kernel: int = 31,
    ):
        super().__init__()
        self.embed_dim = embed_dim
        self.bypass = BypassModule(embed_dim, skip_rate=ScheduledFloat((0.0, 0.5), (4000.0, 0.02), default=0.0))
        self.bypass_mid = BypassModule(embed_dim)
        # Training-only skip rates (sequence-level dropout of whole modules).
        self.attention_skip_rate: FloatLike = ScheduledFloat((0.0, 0.2), (4000.0, 0.05), (16000, 0.0), default=0.0)
        self.conv_skip_rate: FloatLike = ScheduledFloat((0.0, 0.2), (4000.0, 0.05), (16000, 0.0), default=0.0)
        self.ff2_skip_rate: FloatLike = ScheduledFloat((0.0, 0.1), (4000.0, 0.01), (50000.0, 0.0))
        self.ff3_skip_rate: FloatLike = ScheduledFloat((0.0, 0.1), (4000.0, 0.01), (50000.0, 0.0))
        # The reference also defines a "const attention" regulariser, but its condition
        # (eval mode and a zero default rate) never fires, so it is not reproduced.

        self.self_attn_weights = RelPositionMultiheadAttentionWeights(
            embed_dim,
            pos_dim=pos_dim,
            num_heads=num_heads,
            query_head_dim=query_head_dim,
            pos_head_dim=pos_head_dim,
            dropout=0.0,
        )
        self.self_attn1 = SelfAttention(embed_dim, num_heads, value_head_dim)
        self.self_attn2 = SelfAttention(embed_dim, num_heads, value_head_dim)
        self.feed_forward1 = FeedforwardModule(embed_dim, (feedforward_dim * 3) // 4, dropout)
        self.feed_forward2 = FeedforwardModule(embed_dim, feedforward_dim, dropout)
        self.feed_forward3 = FeedforwardModule(embed_dim, (feedforward_dim * 5) // 4, dropout)
        self.nonlin_attention = NonlinAttention(embed_dim, hidden_channels=3 * embed_dim // 4)
        self.conv_module1 = ConvolutionModule(embed_dim, cnn_module_kernel)
        self.conv_module2 = ConvolutionModule(embed_dim, cnn_module_kernel)
        # Unused by the forward pass, but present (and counted) in the released weights.
        self.bypass_scale = nn.Parameter(torch.full((embed_dim,), 0.5))
        self.norm = BiasNorm(embed_dim)
        self.balancer1 = Balancer(
            embed_dim, channel_dim=-1, min_positive=0.45, max_positive=0.55, min_abs=0.2, max_abs=4.0
        )
        self.balancer_na = Balancer(
            embed_dim,
            channel_dim=-1,
            min_positive=0.3,
            max_positive=0.7,
            min_abs=ScheduledFloat((0.0, 0.004), (4000.0, 0.02)),
            prob=0.05,
        )
        self.balancer_ff2 = Balancer(
            embed_dim,
            channel_dim=-1,
            min_positive=0.3,
            max_positive=0.7,
            min_abs=ScheduledFloat((0.0, 0.0), (4000.0, 0.1), default=0.0),
            max_abs=2.0,
            prob=0.05,
        )
        self.balancer_ff3 = Balancer(
            embed_dim,
            channel_dim=-1,
            min_positive=0.3,
            max_positive=0.7,
            min_abs=ScheduledFloat((0.0, 0.0), (4000.0, 0.2), default=0.0),
            max_abs=4.0,
            prob=0.05,
        )
        self.whiten = Whiten(
            num_groups=1, whitening_limit=whitening_schedule(4.0, ratio=3.0), prob=(0.025, 0.25), grad_scale=0.01
        )
        self.balancer2 = Balancer(
            embed_dim, channel_dim=-1, min_positive=0.45, max_positive=0.55, min_abs=0.1, max_abs=4.0
        )

    def forward(self, src: Tensor, pos_emb: Tensor, key_padding_mask: Tensor | None = None) -> Tensor:
        training = self.training
        src_orig = src
        attn_weights = self.self_attn_weights(src, pos_emb=pos_emb, key_padding_mask=key_padding_mask)

        src = src + self.feed_forward1(src)

        attention_skip = float_value(self.attention_skip_rate, training) if training else 0.0
        attn_keep = None
        if attention_skip > 0.0:
            attn_keep = (torch.rand(src.shape[0], 1, 1, device=src.device) > attention_skip).to(src.dtype)

        def maybe_skip(y: Tensor) -> Tensor:
            return y if attn_keep is None else y * attn_keep

        na = self.balancer_na(self.nonlin_attention(src, attn_weights[:, 0:1]))
        src = src + maybe_skip(na)
        src = src + maybe_skip(self.self_attn1(src, attn_weights))

        conv_skip = float_value(self.conv_skip_rate, training) if training else 0.0
        src = src + _sequence_dropout(self.conv_module1(src, key_padding_mask), conv_skip, training)
        ff2_skip = float_value(self.ff2_skip_rate, training) if training else 0.0
        src = src + _sequence_dropout(self.balancer_ff2(self.feed_forward2(src)), ff2_skip, training)

        src = self.bypass_mid(src_orig, src)

        src = src + maybe_skip(self.self_attn2(src, attn_weights))
        src = src + _sequence_dropout(self.conv_module2(src, key_padding_mask), conv_skip, training)
        ff3_skip = float_value(self.ff3_skip_rate, training) if training else 0.0
        src = src + _sequence_dropout(self.balancer_ff3(self.feed_forward3(src)), ff3_skip, training)

        src = self.norm(self.balancer1(src))
        src = self.bypass(src_orig, src)
        return self.whiten(self.balancer2(src))


class Zipformer2Encoder(nn.Module):
    """A stack of layers at one frame rate, sharing one positional encoding."""

    def __init__(
        self,
        encoder_layer: Zipformer2EncoderLayer,
        num_layers: int,
        pos_dim: int,
        warmup_begin: float,
        warmup_end: float,
        initial_layerdrop_rate: float = 0.5,
        final_layerdrop_rate: float = 0.05,
    ):
        super().__init__()
        self.encoder_pos = CompactRelPositionalEncoding(pos_dim, dropout_rate=0.15, length_factor=1.0)
        self.layers = nn.ModuleList([copy.deepcopy(encoder_layer) for _ in range(num_layers)])
        self.num_layers = num_layers
        # Layer skipping (via each layer's bypass) warms up one layer after another.
        delta = (warmup_end - warmup_begin) / num_layers
        begin = warmup_begin
        for layer in self.layers:
            layer.bypass.skip_rate = ScheduledFloat(
                (begin, initial_layerdrop_rate), (begin + delta, final_layerdrop_rate), default=0.0
            )
            begin += delta

    def forward(
        self,
        src: Tensor,
        feature_mask: Tensor | float = 1.0,
        key_padding_mask: Tensor | None = None,
        layer_outputs: list[Tensor] | None = None,
    ) -> Tensor:
        pos_emb = self.encoder_pos(src.shape[1], src.device, src.dtype)
        out = src * feature_mask if self.training else src
        for layer in self.layers:
            out = layer(out, pos_emb, key_padding_mask=key_padding_mask)
            if self.training:
                out = out * feature_mask
            if layer_outputs is not None:
                layer_outputs.append(out)
        return out


class SimpleDownsample(nn.Module):
    """Frame rate / d by a softmax(bias)-weighted sum of each group of d frames (the last
    frame is repeated to fill the final group)."""

    def __init__(self, downsample: int, dropout: FloatLike = 0.0):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(downsample))
        self.downsample = downsample
        self.dropout = copy.deepcopy(dropout)  # kept for parity with the reference; unused in forward

    def forward(self, src: Tensor) -> Tensor:
        b, t, c = src.shape
        d = self.downsample
        t_out = (t + d - 1) // d
        pad = t_out * d - t
        if pad:
            src = torch.cat((src, src[:, -1:].expand(b, pad, c)), dim=1)
        weights = self.bias.softmax(dim=0)[:, None]  # (d, 1)
        return (src.reshape(b, t_out, d, c) * weights).sum(dim=2)


class SimpleUpsample(nn.Module):
    """Frame rate * u by repeating each frame u times."""

    def __init__(self, upsample: int):
        super().__init__()
        self.upsample = upsample

    def forward(self, src: Tensor) -> Tensor:
        return torch.repeat_interleave(src, self.upsample, dim=1)


class DownsampledZipformer2Encoder(nn.Module):
    """A stack run at 1/d of the input frame rate, upsampled back and combined with its input."""

    def __init__(self, encoder: Zipformer2Encoder, dim: int, downsample: int, dropout: FloatLike):
        super().__init__()
        self.downsample_factor = downsample
        self.downsample = SimpleDownsample(downsample, dropout)
        self.num_layers = encoder.num_layers
        self.encoder = encoder
        self.upsample = SimpleUpsample(downsample)
        self.out_combiner = BypassModule(dim)

    def forward(self, src, feature_mask=1.0, key_padding_mask=None, layer_outputs=None) -> Tensor:
        src_orig = src
        src = self.downsample(src)
        src = self.encoder(
            src, feature_mask=feature_mask, key_padding_mask=key_padding_mask, layer_outputs=layer_outputs
        )
        src = self.upsample(src)[:, : src_orig.shape[1]]
        return self.out_combiner(src_orig, src)


@dataclass
class Zipformer2Output:
    """Everything one forward pass computes.

    encoder_out (B, T_out, D) and encoder_out_lens: the final output (T_out = T50 or
    ceil(T50 / 2)); full_dim_out (B, T50, D): the output before the output downsampling;
    layer_outputs[i][j] (B, ceil(T50 / d_i), D_i): layer j of stack i at the stack's rate.
    """

    encoder_out: Tensor
    encoder_out_lens: Tensor
    full_dim_out: Tensor
    layer_outputs: list[list[Tensor]] = field(default_factory=list)


class Zipformer2(nn.Module):
    def __init__(self, config: Zipformer2Config, dropout: FloatLike | None = None, warmup_batches: float = 4000.0):
        super().__init__()
        self.config = config
        c = config
        if dropout is None:
            dropout = ScheduledFloat((0.0, 0.3), (20000.0, 0.1))
        self.output_downsampling_factor = c.output_downsampling_factor
        self.downsampling_factor = c.downsampling_factor
        self.encoder_dim = c.encoder_dim
        self.encoder_unmasked_dim = c.encoder_unmasked_dim
        # Probability with which a sequence's upper channels are zeroed in training.
        self.feature_mask_dropout_prob = 0.125
        n = c.num_stacks
        encoders = []
        for i in range(n):
            layer = Zipformer2EncoderLayer(
                embed_dim=c.encoder_dim[i],
                pos_dim=c.pos_dim,
                num_heads=c.num_heads[i],
                query_head_dim=c.query_head_dim[i],
                pos_head_dim=c.pos_head_dim[i],
                value_head_dim=c.value_head_dim[i],
                feedforward_dim=c.feedforward_dim[i],
                dropout=dropout,
                cnn_module_kernel=c.cnn_module_kernel[i],
            )
            stack = Zipformer2Encoder(
                layer,
                c.num_encoder_layers[i],
                pos_dim=c.pos_dim,
                warmup_begin=warmup_batches * (i + 1) / (n + 1),
                warmup_end=warmup_batches * (i + 2) / (n + 1),
                final_layerdrop_rate=0.035 * (c.downsampling_factor[i] ** 0.5),
            )
            if c.downsampling_factor[i] != 1:
                stack = DownsampledZipformer2Encoder(
                    stack, dim=c.encoder_dim[i], downsample=c.downsampling_factor[i], dropout=dropout
                )
            encoders.append(stack)
        self.encoders = nn.ModuleList(encoders)
        # Always built with 2 weights (they are part of the released parameter count); only
        # applied when output_downsampling_factor is 2.
        self.downsample_output = SimpleDownsample(2, dropout)

    def feature_masks(self, x: Tensor) -> list[Tensor | float]:
        """Training only: per sequence, zero the channels above encoder_unmasked_dim (two bands)."""
        if not self.training:
            return [1.0] * len(self.encoder_dim)
        b = x.shape[0]
        p = self.feature_mask_dropout_prob
        mask1 = (torch.rand(b, 1, 1, device=x.device) > p).to(x.dtype)
        mask2 = mask1 * (torch.rand(b, 1, 1, device=x.device) > p).to(x.dtype)
        masks = []
        for dim, unmasked in zip(self.encoder_dim, self.encoder_unmasked_dim):
            m = torch.ones(b, 1, dim, dtype=x.dtype, device=x.device)
            mid = unmasked + (dim - unmasked) // 2
            m[:, :, unmasked:mid] *= mask1[:, :, 0:1]
            m[:, :, mid:] *= mask2[:, :, 0:1]
            masks.append(m)
        return masks

    def _full_dim_output(self, outputs: Sequence[Tensor]) -> Tensor:
        """Join stack outputs: the last stack's channels, then each higher channel range from
        the most recent stack that has it."""
        pieces = [outputs[-1]]
        cur = self.encoder_dim[-1]
        for i in range(len(outputs) - 2, -1, -1):
            d = self.encoder_dim[i]
            if d > cur:
                pieces.append(outputs[i][..., cur:d])
                cur = d
        return torch.cat(pieces, dim=-1) if len(pieces) > 1 else pieces[0]

    def forward(
        self, x: Tensor, x_lens: Tensor, key_padding_mask: Tensor | None = None, return_layer_outputs: bool = False
    ) -> Zipformer2Output:
        """x (B, T, D0) at 50 Hz, x_lens (B,), key_padding_mask (B, T) True = padding."""
        masks = self.feature_masks(x)
        outputs = []
        layer_outputs: list[list[Tensor]] = []
        for i, stack in enumerate(self.encoders):
            ds = self.downsampling_factor[i]
            x = convert_num_channels(x, self.encoder_dim[i])
            collected: list[Tensor] | None = [] if return_layer_outputs else None
            x = stack(
                x,
                feature_mask=masks[i],
                key_padding_mask=None if key_padding_mask is None else key_padding_mask[:, ::ds],
                layer_outputs=collected,
            )
            outputs.append(x)
            if collected is not None:
                layer_outputs.append(collected)
        full = self._full_dim_output(outputs)
        if self.output_downsampling_factor == 2:
            out = self.downsample_output(full)
            lens = (x_lens + 1) // 2
        else:
            out, lens = full, x_lens
        return Zipformer2Output(encoder_out=out, encoder_out_lens=lens, full_dim_out=full, layer_outputs=layer_outputs)


def make_pad_mask(lengths: Tensor, max_len: int) -> Tensor:
    """(B, max_len) True at padding positions."""
    return torch.arange(max_len, device=lengths.device)[None, :] >= lengths[:, None]
