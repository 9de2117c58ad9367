"""ScaledAdam and the Eden learning-rate schedule (Yao et al., "Zipformer", ICLR 2024, Sec. 4).

Written from the paper's description (and the defaults of the public icefall recipes):

ScaledAdam, for a parameter tensor theta with gradient g (after clipping):
- parameter-scale-relative update: Delta = -lr * r * g / (sqrt(v_hat) + eps), where
  r = RMS(theta) (floored at ``param_min_rms``) and v the Adam second moment of g, so a
  step changes each tensor by about ``lr`` relative to its own size;
- explicit scale learning: theta = r * theta' and the scale is learned in log space: its
  gradient h = sum(g * theta) is Adam-normalised on its own (second moment w) and gives
  the relative step s = -lr * scalar_lr_scale * h / (sqrt(w_hat) + eps), applied as
  Delta' = s * theta; s is limited so that RMS(theta) stays within
  [param_min_rms, param_max_rms];
- momentum: delta <- beta1 * delta + (1 - beta1) * (Delta + Delta'); theta <- theta + delta;
- scalar parameters: plain Adam with learning rate lr * scalar_lr_scale, clamped to
  [-scalar_max, scalar_max];
- gradient clipping by the recent history of gradient norms: the norm is taken over all
  gradients, each non-scalar one multiplied by its tensor's RMS (the quantity the update
  is proportional to); every ``clipping_update_period`` steps (and, with a doubled
  threshold, at steps 10, 20 and 40 while the history fills) the threshold becomes
  ``clipping_scale`` times the ``clipping_quantile`` (median) of the recorded norms, and a
  larger norm scales the gradients down to it.

Eden: lr = base_lr * ((step^2 + lr_steps^2) / lr_steps^2)^-0.25
                   * ((epoch^2 + lr_epochs^2) / lr_epochs^2)^-0.25 * warmup(step),
warmup rising linearly from ``warmup_start`` (0.5) to 1 over ``warmup_steps`` (500).
"epoch" may be any measure of data seen (the SPEAR release counts hours of audio).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch.optim import Optimizer

IRREGULAR_CLIPPING_STEPS = (10, 20, 40)


@dataclass(frozen=True)
class ScaledAdamConfig:
    lr: float = 0.045  # SPEAR's peak learning rate (Table 9)
    beta1: float = 0.9
    beta2: float = 0.98
    eps: float = 1e-8
    scalar_lr_scale: float = 0.1
    param_min_rms: float = 1e-5
    param_max_rms: float = 3.0
    scalar_max: float = 10.0
    clipping_scale: float | None = 2.0
    clipping_update_period: int = 100
    clipping_quantile: float = 0.5


@dataclass(frozen=True)
class EdenConfig:
    lr_steps: float = 7500.0
    lr_epochs: float = 3.5
    warmup_steps: float = 500.0
    warmup_start: float = 0.5


class ScaledAdam(Optimizer):
    def __init__(self, params, config: ScaledAdamConfig = ScaledAdamConfig()):
        defaults = dict(
            lr=config.lr,
            betas=(config.beta1, config.beta2),
            eps=config.eps,
            scalar_lr_scale=config.scalar_lr_scale,
            param_min_rms=config.param_min_rms,
            param_max_rms=config.param_max_rms,
            scalar_max=config.scalar_max,
            clipping_scale=config.clipping_scale,
            clipping_update_period=config.clipping_update_period,
            clipping_quantile=config.clipping_quantile,
        )
        super().__init__(params, defaults)
        self._clipping = [self._new_clipping_state(g) for g in self.param_groups]
        self.last_clipping_factor = 1.0

    @staticmethod
    def _new_clipping_state(group: dict) -> dict:
        return {
            "norms": torch.zeros(group["clipping_update_period"], dtype=torch.float64),
            "count": 0,
            "threshold": None,
        }

    # The clipping history is part of the optimiser's state (exact resume).
    def state_dict(self) -> dict:
        state = super().state_dict()
        state["clipping"] = [
            {"norms": c["norms"].clone(), "count": c["count"], "threshold": c["threshold"]} for c in self._clipping
        ]
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        state_dict = dict(state_dict)
        clipping = state_dict.pop("clipping", None)
        # torch's Optimizer.load_state_dict casts floating-point state to the parameter's
        # dtype; the float64 scale statistics (scale_exp_avg_sq) must come back as float64,
        # or a resumed run drifts from the uninterrupted one in the last bits.
        doubles = {
            index: {
                name: value
                for name, value in entries.items()
                if torch.is_tensor(value) and value.dtype == torch.float64
            }
            for index, entries in state_dict["state"].items()
        }
        super().load_state_dict(state_dict)
        for saved_group, group in zip(state_dict["param_groups"], self.param_groups):
            for index, param in zip(saved_group["params"], group["params"]):
                for name, value in doubles.get(index, {}).items():
                    self.state[param][name] = value.detach().clone().to(param.device)
        if clipping is not None:
            self._clipping = [
                {"norms": c["norms"].clone().double(), "count": int(c["count"]), "threshold": c["threshold"]}
                for c in clipping
            ]

    @staticmethod
    def _rms(p: torch.Tensor) -> torch.Tensor:
        return p.detach().double().pow(2).mean().sqrt()

    def _clipping_factor(self, group: dict, clipping: dict, params: list[torch.Tensor]) -> float:
        if group["clipping_scale"] is None:
            return 1.0
        sumsq = torch.zeros((), dtype=torch.float64)
        for p in params:
            grad = p.grad.detach().double()
            if p.numel() == 1:
                sumsq += (grad * group["scalar_lr_scale"]).pow(2).sum()
            else:
                sumsq += (grad * self._rms(p).clamp(min=group["param_min_rms"])).pow(2).sum()
        norm = float(sumsq.sqrt())
        period = group["clipping_update_period"]
        count = clipping["count"]
        clipping["norms"][count % period] = norm
        clipping["count"] = count + 1
        if count > 0 and (count % period == 0 or count in IRREGULAR_CLIPPING_STEPS):
            recorded = clipping["norms"][: min(count + 1, period)]
            if not bool(torch.isfinite(recorded).all()):
                raise FloatingPointError("ScaledAdam: non-finite gradient norms in the clipping history")
            threshold = group["clipping_scale"] * float(torch.quantile(recorded, group["clipping_quantile"]))
            if count in IRREGULAR_CLIPPING_STEPS:
                threshold *= 2.0  # the norm still changes fast early on
            clipping["threshold"] = threshold
        if clipping["threshold"] is None:
            return 1.0
        if not math.isfinite(norm):
            return 0.0
        return min(1.0, clipping["threshold"] / (norm + 1e-20))

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group, clipping in zip(self.param_groups, self._clipping):
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            factor = self._clipping_factor(group, clipping, params)
            self.last_clipping_factor = factor
            for p in params:
                if p.grad.is_sparse:
                    raise RuntimeError("ScaledAdam does not support sparse gradients")
                self._update(group, p, p.grad * factor)
        return loss

    def _update(self, group: dict, p: torch.Tensor, grad: torch.Tensor) -> None:
        beta1, beta2 = group["betas"]
        lr, eps = group["lr"], group["eps"]
        state = self.state[p]
        if not state:
            state["step"] = 0
            state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            state["delta"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            if p.numel() > 1:
                state["scale_exp_avg_sq"] = torch.zeros((), dtype=torch.float64, device=p.device)
        step = state["step"]
        bias_correction2 = 1.0 - beta2 ** (step + 1)
        exp_avg_sq = state["exp_avg_sq"]
        exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1.0 - beta2)
        normalised = grad / ((exp_avg_sq / bias_correction2).sqrt() + eps)
        if p.numel() == 1:
            update = normalised * (-lr * group["scalar_lr_scale"])
        else:
            rms = self._rms(p)
            update = normalised * (-lr * float(rms.clamp(min=group["param_min_rms"])))
            # Scale learning: the gradient w.r.t. log(scale) is sum(g * theta).
            scale_grad = (grad.double() * p.double()).sum()
            scale_sq = state["scale_exp_avg_sq"]
            scale_sq.mul_(beta2).add_(scale_grad * scale_grad, alpha=1.0 - beta2)
            scale_step = -lr * group["scalar_lr_scale"] * scale_grad / ((scale_sq / bias_correction2).sqrt() + eps)
            if rms < group["param_min_rms"]:
                scale_step = scale_step.clamp(min=0.0)  # do not shrink a tensor that is already tiny
            scale_step = torch.minimum(scale_step, (group["param_max_rms"] - rms) / rms.clamp(min=1e-20))
            update = update + p * float(scale_step)
        delta = state["delta"]
        delta.mul_(beta1).add_(update, alpha=1.0 - beta1)
        p.add_(delta)
        if p.numel() == 1:
            p.clamp_(min=-group["scalar_max"], max=group["scalar_max"])
        state["step"] = step + 1


def eden_factor(step: float, epoch: float, config: EdenConfig = EdenConfig()) -> float:
    """The Eden multiplier of the base learning rate at ``step`` (batches) and ``epoch``."""
    step_term = ((step**2 + config.lr_steps**2) / config.lr_steps**2) ** -0.25
    epoch_term = ((epoch**2 + config.lr_epochs**2) / config.lr_epochs**2) ** -0.25
    if step >= config.warmup_steps:
        warmup = 1.0
    else:
        warmup = config.warmup_start + (1.0 - config.warmup_start) * step / config.warmup_steps
    return step_term * epoch_term * warmup


class Eden:
    """Sets each param group's ``lr`` to ``base_lr * eden_factor(step, epoch)``; call ``step_batch`` per batch."""

    def __init__(self, optimizer: Optimizer, config: EdenConfig = EdenConfig()):
        self.optimizer = optimizer
        self.config = config
        for group in optimizer.param_groups:
            group.setdefault("base_lr", group["lr"])
        self.step = 0
        self.epoch = 0.0
        self._apply()

    def _apply(self) -> None:
        factor = eden_factor(self.step, self.epoch, self.config)
        for group in self.optimizer.param_groups:
            group["lr"] = group["base_lr"] * factor

    def step_batch(self, step: int | None = None) -> None:
        self.step = self.step + 1 if step is None else step
        self._apply()

    def step_epoch(self, epoch: float | None = None) -> None:
        self.epoch = self.epoch + 1 if epoch is None else epoch
        self._apply()

    def get_last_lr(self) -> list[float]:
        return [group["lr"] for group in self.optimizer.param_groups]

    def state_dict(self) -> dict:
        return {"step": self.step, "epoch": self.epoch}

    def load_state_dict(self, state: dict) -> None:
        self.step = int(state["step"])
        self.epoch = float(state["epoch"])
        self._apply()
