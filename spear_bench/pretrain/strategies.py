"""Dual-domain pre-training strategies (paper Sec. 3.2.2): which token set's loss each sample gets.

Every strategy maps the samples' domains to one weight per sample and token set; the
total loss is sum_b sum_s weight[s][b] * L_single(H_b, Z_{s,b}).
- JOINT: both token sets on every sample (the audio loss weighted by lambda, as in the
  ASYMMETRICAL objective; the paper does not give JOINT's weighting).
- DISJOINT: speech tokens on speech samples, audio tokens on audio samples (weight 1 each:
  every sample has exactly one loss).
- ASYMMETRICAL (adopted): speech tokens on every sample, plus lambda * audio-token loss
  on audio samples: L = L_single(Z_speech) + 1_audio * lambda * L_single(Z_audio).
With a single token set (single-domain pre-training) every sample gets weight 1 on it.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from spear_bench.errors import ConfigError

SPEECH = "speech"
AUDIO = "audio"
DOMAINS = (SPEECH, AUDIO)

# name -> function(is_audio (B,) bool, lam) -> (speech weights (B,), audio weights (B,))
StrategyFn = Callable[[torch.Tensor, float], tuple[torch.Tensor, torch.Tensor]]
_STRATEGIES: dict[str, StrategyFn] = {}


def register_strategy(name: str):
    def decorator(fn: StrategyFn) -> StrategyFn:
        _STRATEGIES[name] = fn
        return fn

    return decorator


@register_strategy("joint")
def joint(is_audio: torch.Tensor, lam: float) -> tuple[torch.Tensor, torch.Tensor]:
    ones = torch.ones(is_audio.shape, dtype=torch.float32)
    return ones, ones * lam


@register_strategy("disjoint")
def disjoint(is_audio: torch.Tensor, lam: float) -> tuple[torch.Tensor, torch.Tensor]:
    return (~is_audio).float(), is_audio.float()


@register_strategy("asymmetrical")
def asymmetrical(is_audio: torch.Tensor, lam: float) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.ones(is_audio.shape, dtype=torch.float32), is_audio.float() * lam


def strategy_names() -> list[str]:
    return sorted(_STRATEGIES)


def token_set_weights(strategy: str, domains: list[str], token_sets: list[str], lam: float) -> dict[str, torch.Tensor]:
    """Per-sample weight (B,) for each configured token set (``speech`` and/or ``audio``)."""
    unknown = sorted(set(domains) - set(DOMAINS))
    if unknown:
        raise ConfigError(f"unknown sample domain(s) {unknown}; expected {list(DOMAINS)}")
    is_audio = torch.tensor([d == AUDIO for d in domains], dtype=torch.bool)
    if len(token_sets) == 1:
        return {token_sets[0]: torch.ones(len(domains))}
    if sorted(token_sets) != sorted(DOMAINS):
        raise ConfigError(f"dual-domain pre-training needs token sets named {list(DOMAINS)}, got {token_sets}")
    if strategy not in _STRATEGIES:
        raise ConfigError(f"loss.strategy: unknown strategy {strategy!r}; known: {strategy_names()}")
    speech, audio = _STRATEGIES[strategy](is_audio, lam)
    return {SPEECH: speech, AUDIO: audio}
