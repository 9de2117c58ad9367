"""Small building blocks of Zipformer2: activations, BiasNorm, scheduled values and the
training-only regularisers (Balancer, Whiten, sequence/layer dropout).

Written from the published description of Zipformer (Yao et al., 2024) and the facts of
the reference implementation (icefall): every regulariser here changes only gradients or
applies only when ``module.training`` is True, so an encoder in eval mode computes exactly
the inference function whose outputs the reference vectors record.
"""

from __future__ import annotations

import math
import random
from typing import Iterable, Union

import torch
from torch import Tensor, nn

# ---------------------------------------------------------------------------------------
# Scheduled values (functions of the training batch count)
# ---------------------------------------------------------------------------------------


class ScheduledFloat:
    """A float that is a piecewise-linear function of the training batch count.

    ``value(training)`` is ``default`` in eval mode or while no batch count has been set
    (``set_batch_count``); otherwise the schedule interpolated at the batch count and
    held constant outside the given points.
    """

    def __init__(self, *points: tuple[float, float], default: float = 0.0):
        if not points:
            raise ValueError("ScheduledFloat needs at least one (batch_count, value) point")
        xs = [float(x) for x, _ in points]
        if any(b <= a for a, b in zip(xs, xs[1:])):
            raise ValueError(f"ScheduledFloat points must have increasing batch counts: {points}")
        self.points = [(float(x), float(y)) for x, y in points]
        self.default = float(default)
        self.batch_count: float | None = None

    def at(self, batch_count: float) -> float:
        pts = self.points
        if batch_count <= pts[0][0]:
            return pts[0][1]
        if batch_count >= pts[-1][0]:
            return pts[-1][1]
        for (x0, y0), (x1, y1) in zip(pts, pts[1:]):
            if x0 <= batch_count <= x1:
                return y0 + (y1 - y0) * (batch_count - x0) / (x1 - x0)
        raise AssertionError("unreachable")

    def value(self, training: bool) -> float:
        if not training or self.batch_count is None:
            return self.default
        return self.at(self.batch_count)

    def __repr__(self) -> str:
        return f"ScheduledFloat({self.points}, default={self.default}, batch_count={self.batch_count})"


FloatLike = Union[float, ScheduledFloat]


def float_value(x: FloatLike, training: bool) -> float:
    return x.value(training) if isinstance(x, ScheduledFloat) else float(x)


def scheduled_floats(module: nn.Module) -> Iterable[ScheduledFloat]:
    """Every ScheduledFloat held as an attribute by ``module`` or its submodules."""
    for sub in module.modules():
        for value in vars(sub).values():
            if isinstance(value, ScheduledFloat):
                yield value


def set_batch_count(module: nn.Module, batch_count: float) -> None:
    """Advance every schedule of ``module`` (dropout, layer-skip, regulariser limits) to ``batch_count``."""
    for sf in scheduled_floats(module):
        sf.batch_count = float(batch_count)


# ---------------------------------------------------------------------------------------
# Activations
# ---------------------------------------------------------------------------------------


def _needs_graph(x: Tensor) -> bool:
    return torch.is_grad_enabled() and x.requires_grad


def _swoosh(x: Tensor, shift: float, offset: float) -> Tensor:
    """softplus(x - shift) - 0.08 x - offset; softplus(y) = log(1 + exp(y)), one fused kernel."""
    if _needs_graph(x):
        return nn.functional.softplus(x - shift) - 0.08 * x - offset
    # Inference: one new tensor updated in place instead of five temporaries (the
    # activations of the front end's ConvNeXt are 100s of MB for a batch of 10 s clips).
    y = x - shift
    torch._C._nn.softplus(y, 1.0, 20.0, out=y)
    return y.add_(x, alpha=-0.08).sub_(offset)


def swoosh_l(x: Tensor) -> Tensor:
    """SwooshL(x) = log(1 + exp(x - 4)) - 0.08 x - 0.035."""
    return _swoosh(x, 4.0, 0.035)


def swoosh_r(x: Tensor) -> Tensor:
    """SwooshR(x) = log(1 + exp(x - 1)) - 0.08 x - 0.313261687 (offset makes SwooshR(0) = 0)."""
    return _swoosh(x, 1.0, 0.313261687)


class SwooshL(nn.Module):
    def forward(self, x: Tensor) -> Tensor:
        return swoosh_l(x)


class SwooshR(nn.Module):
    def forward(self, x: Tensor) -> Tensor:
        return swoosh_r(x)


ACTIVATIONS = {"SwooshL": swoosh_l, "SwooshR": swoosh_r}


# ---------------------------------------------------------------------------------------
# Gradient-only parameter limits
# ---------------------------------------------------------------------------------------


class _LimitParamValue(torch.autograd.Function):
    """Identity forward; the backward flips gradients that would push ``x`` further outside [min, max]."""

    @staticmethod
    def forward(ctx, x: Tensor, min_value: float, max_value: float) -> Tensor:
        ctx.save_for_backward(x)
        ctx.bounds = (min_value, max_value)
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: Tensor):
        (x,) = ctx.saved_tensors
        lo, hi = ctx.bounds
        # Gradient descent moves x by -grad: positive grad below min, negative grad above max
        # would move it further out, so those signs are flipped.
        flip = torch.logical_or(torch.logical_and(grad > 0, x < lo), torch.logical_and(grad < 0, x > hi))
        return torch.where(flip, -grad, grad), None, None


def limit_param_value(x: Tensor, min_value: float, max_value: float, training: bool, prob: float = 0.6) -> Tensor:
    if training and torch.is_grad_enabled() and random.random() < prob:
        return _LimitParamValue.apply(x, min_value, max_value)
    return x


# ---------------------------------------------------------------------------------------
# BiasNorm
# ---------------------------------------------------------------------------------------


class BiasNorm(nn.Module):
    """x * exp(log_scale) / rms(x - bias) over the channel axis (a LayerNorm replacement).

    Unlike LayerNorm the bias is subtracted only to compute the rms; the output keeps the
    input's mean, and there is one learned scalar scale (limited to [-1.5, 1.5] in log
    space during training, via gradients only).
    """

    def __init__(self, num_channels: int, channel_dim: int = -1, log_scale: float = 1.0):
        super().__init__()
        self.num_channels = num_channels
        self.channel_dim = channel_dim
        self.log_scale = nn.Parameter(torch.tensor(float(log_scale)))
        self.bias = nn.Parameter(torch.empty(num_channels).normal_(mean=0.0, std=1e-4))
        self.log_scale_min, self.log_scale_max = -1.5, 1.5

    def forward(self, x: Tensor) -> Tensor:
        channel_dim = self.channel_dim % x.ndim
        bias = self.bias.reshape([-1] + [1] * (x.ndim - 1 - channel_dim))
        log_scale = limit_param_value(self.log_scale, self.log_scale_min, self.log_scale_max, self.training)
        if _needs_graph(x) or _needs_graph(self.bias):
            scales = torch.mean((x - bias) ** 2, dim=channel_dim, keepdim=True) ** -0.5 * log_scale.exp()
            return x * scales
        # Inference: square the centred copy in place, rsqrt on the (B, T, 1) means only.
        centred = x - bias
        scales = torch.mean(centred.mul_(centred), dim=channel_dim, keepdim=True).rsqrt_().mul_(log_scale.exp())
        return x * scales


# ---------------------------------------------------------------------------------------
# Balancer: keeps per-channel sign balance and magnitude in range (gradient-only)
# ---------------------------------------------------------------------------------------


def _proportion_positive_to_mean(p: float) -> float:
    """Mean/rms ratio of a Gaussian that is positive with probability ``p`` (approximation via atanh)."""
    x = 2.0 * p - 1.0
    eps = 1e-10
    atanh = 0.5 * (math.log(1.0 + x + eps) - math.log(1.0 - x + eps))
    return 0.8139535143 * atanh  # 1 / (sqrt(pi) * ln 2) approximates the inverse erf


class _BalancerFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, min_mean, max_mean, min_rms, max_rms, grad_scale, channel_dim):
        ctx.save_for_backward(x)
        ctx.config = (min_mean, max_mean, min_rms, max_rms, grad_scale, channel_dim % x.ndim)
        return x.view_as(x)

    @staticmethod
    def backward(ctx, x_grad: Tensor):
        (x,) = ctx.saved_tensors
        min_mean, max_mean, min_rms, max_rms, grad_scale, channel_dim = ctx.config
        with torch.enable_grad():
            x = x.detach().float().requires_grad_(True)
            mean_dims = [d for d in range(x.ndim) if d != channel_dim]
            x_mean = x.mean(dim=mean_dims, keepdim=True)
            x_rms = ((x**2).mean(dim=mean_dims, keepdim=True) + 1e-20).sqrt()
            m = x_mean / x_rms
            mean_loss = (m - m.detach().clamp(min=min_mean, max=max_mean)).abs()
            rms_loss = (x_rms.detach().clamp(min=min_rms, max=max_rms) / x_rms).log().abs()
            (mean_loss + rms_loss).sum().backward()
        loss_grad = x.grad
        loss_grad_rms = (loss_grad**2).mean(dim=mean_dims, keepdim=True).sqrt().clamp(min=1e-20)
        loss_grad = loss_grad * (grad_scale / loss_grad_rms)
        g = x_grad.float()
        return (g + g.abs() * loss_grad).to(x_grad.dtype), None, None, None, None, None, None


class Balancer(nn.Module):
    """Identity in the forward pass. In training, with probability ``prob``, adds a gradient
    term pushing each channel's proportion of positive values into [min_positive,
    max_positive] and its mean absolute value into [min_abs, max_abs]."""

    def __init__(
        self,
        num_channels: int,
        channel_dim: int,
        min_positive: FloatLike = 0.05,
        max_positive: FloatLike = 0.95,
        min_abs: FloatLike = 0.2,
        max_abs: FloatLike = 100.0,
        grad_scale: FloatLike = 0.04,
        prob: FloatLike | None = None,
    ):
        super().__init__()
        self.num_channels = num_channels
        self.channel_dim = channel_dim
        self.min_positive, self.max_positive = min_positive, max_positive
        self.min_abs, self.max_abs = min_abs, max_abs
        self.grad_scale = grad_scale
        self.prob = ScheduledFloat((0.0, 0.5), (8000.0, 0.125), default=0.4) if prob is None else prob

    def forward(self, x: Tensor) -> Tensor:
        t = self.training
        if not t or not torch.is_grad_enabled() or not x.requires_grad:
            return x
        if random.random() >= float_value(self.prob, t):
            return x
        return _BalancerFunction.apply(
            x,
            _proportion_positive_to_mean(float_value(self.min_positive, t)),
            _proportion_positive_to_mean(float_value(self.max_positive, t)),
            float_value(self.min_abs, t) * math.sqrt(math.pi / 2),
            float_value(self.max_abs, t) * math.sqrt(math.pi / 2),
            float_value(self.grad_scale, t),
            self.channel_dim,
        )


# ---------------------------------------------------------------------------------------
# Whiten: discourages a few directions from dominating the covariance (gradient-only)
# ---------------------------------------------------------------------------------------


def whitening_metric(x: Tensor, num_groups: int) -> Tensor:
    """>= 1, equal to 1 iff the per-group covariance of ``x`` is a multiple of the identity."""
    x = x.reshape(-1, x.shape[-1])
    num_frames, num_channels = x.shape
    per_group = num_channels // num_groups
    x = x.reshape(num_frames, num_groups, per_group).transpose(0, 1)
    x = x - x.mean(dim=1, keepdim=True)
    covar = torch.matmul(x.transpose(1, 2), x)
    mean_diag = covar.diagonal(dim1=1, dim2=2).mean()
    mean_sq = (covar**2).sum() / (num_groups * per_group)
    return mean_sq / (mean_diag**2 + 1e-20)


class _WhitenFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, module):
        ctx.save_for_backward(x)
        ctx.module = module
        return x.view_as(x)

    @staticmethod
    def backward(ctx, x_grad: Tensor):
        (x,) = ctx.saved_tensors
        w: Whiten = ctx.module
        with torch.enable_grad():
            x_det = x.detach().float().requires_grad_(True)
            metric = whitening_metric(x_det, w.num_groups)
            limit = float_value(w.whitening_limit, True)
            # Raise the application probability while the limit is exceeded.
            w.prob = w.max_prob if metric.item() > limit else w.min_prob
            if metric.item() < limit:
                return x_grad, None
            (metric - limit).backward()
        penalty = x_det.grad
        scale = float_value(w.grad_scale, True) * x_grad.float().norm() / (penalty.norm() + 1e-20)
        return x_grad + (penalty * scale).to(x_grad.dtype), None


class Whiten(nn.Module):
    def __init__(
        self, num_groups: int, whitening_limit: FloatLike, prob: float | tuple[float, float], grad_scale: FloatLike
    ):
        super().__init__()
        self.num_groups = num_groups
        self.whitening_limit = whitening_limit
        self.grad_scale = grad_scale
        self.min_prob, self.max_prob = (prob, prob) if isinstance(prob, float) else prob
        self.prob = self.max_prob

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or not torch.is_grad_enabled() or not x.requires_grad:
            return x
        if float_value(self.grad_scale, True) == 0 or random.random() > self.prob:
            return x
        return _WhitenFunction.apply(x, self)


def whitening_schedule(x: float, ratio: float = 2.0) -> ScheduledFloat:
    return ScheduledFloat((0.0, x), (20000.0, ratio * x), default=x)


# ---------------------------------------------------------------------------------------
# Dropout variants and the fused activation + dropout + linear
# ---------------------------------------------------------------------------------------


def shared_dropout(x: Tensor, p: float, shared_dim: int | None, training: bool) -> Tensor:
    """Dropout whose mask is shared along ``shared_dim`` (e.g. the time axis) when given."""
    if not training or p == 0.0:
        return x
    if shared_dim is None:
        return nn.functional.dropout(x, p=p, training=True)
    shape = list(x.shape)
    shape[shared_dim] = 1
    mask = (torch.rand(shape, device=x.device) > p).to(x.dtype) / (1.0 - p)
    return x * mask


class ActivationDropoutAndLinear(nn.Module):
    """activation -> dropout -> linear, holding ``weight`` and ``bias`` directly (released key
    names ``out_proj.weight`` / ``out_proj.bias``).

    ``dropout_shared_axis``: axis of the (B, T, C) input along which the dropout mask is
    shared (1 = time, as the reference does for the feed-forward modules), or None.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        bias: bool = True,
        activation: str = "SwooshL",
        dropout_p: FloatLike = 0.0,
        dropout_shared_axis: int | None = None,
        initial_scale: float = 1.0,
    ):
        super().__init__()
        linear = scaled_linear(in_channels, out_channels, bias=bias, initial_scale=initial_scale)
        self.weight = linear.weight
        self.bias = linear.bias
        self.activation = activation
        self.dropout_p = dropout_p
        self.dropout_shared_axis = dropout_shared_axis

    def forward(self, x: Tensor) -> Tensor:
        x = ACTIVATIONS[self.activation](x)
        x = shared_dropout(x, float_value(self.dropout_p, self.training), self.dropout_shared_axis, self.training)
        return nn.functional.linear(x, self.weight, self.bias)


def scaled_linear(*args, initial_scale: float = 1.0, **kwargs) -> nn.Linear:
    """nn.Linear with its initial weights scaled down (and bias uniform in +-0.1*scale)."""
    linear = nn.Linear(*args, **kwargs)
    with torch.no_grad():
        linear.weight.mul_(initial_scale)
        if linear.bias is not None:
            nn.init.uniform_(linear.bias, -0.1 * initial_scale, 0.1 * initial_scale)
    return linear


def scaled_conv2d(*args, initial_scale: float = 1.0, **kwargs) -> nn.Conv2d:
    conv = nn.Conv2d(*args, **kwargs)
    with torch.no_grad():
        conv.weight.mul_(initial_scale)
        if conv.bias is not None:
            nn.init.uniform_(conv.bias, -0.1 * initial_scale, 0.1 * initial_scale)
    return conv


class _ScaleGrad(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: Tensor, alpha: float) -> Tensor:
        ctx.alpha = alpha
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: Tensor):
        return grad * ctx.alpha, None


class ScaleGrad(nn.Module):
    """Identity that scales the gradient by ``alpha`` in training."""

    def __init__(self, alpha: float):
        super().__init__()
        self.alpha = alpha

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or not torch.is_grad_enabled():
            return x
        return _ScaleGrad.apply(x, self.alpha)


def convert_num_channels(x: Tensor, num_channels: int) -> Tensor:
    """Truncate or zero-pad the last axis to ``num_channels`` (joins stacks of different dims)."""
    if num_channels <= x.shape[-1]:
        return x[..., :num_channels]
    pad = torch.zeros(*x.shape[:-1], num_channels - x.shape[-1], dtype=x.dtype, device=x.device)
    return torch.cat((x, pad), dim=-1)
