"""The RNN-T (transducer) loss in pure PyTorch, and a brute-force reference for tests.

k2 (whose pruned RNN-T loss the paper uses) does not install here, and torchaudio's
``rnnt_loss`` needs its compiled extension, so the loss is written from the definition
(Graves, 2012): with joiner log-probabilities ``log p(k | t, u)`` over the (T, U+1)
lattice, a path starts at (0, 0), a blank moves t -> t+1, label ``y[u]`` moves u -> u+1,
and every path ends with a blank from (T-1, U). The forward variable is

    alpha(t, u) = logaddexp(alpha(t-1, u) + blank(t-1, u), alpha(t, u-1) + emit(t, u-1))

and ``-log P(y | x) = -(alpha(T-1, U) + blank(T-1, U))``. Cells on one anti-diagonal
(t + u = n) depend only on the previous one, so the loop runs over T + U diagonals with
every diagonal computed at once; autograd gives the gradient. ``-inf`` is replaced by a
large negative number because ``logaddexp(-inf, -inf)`` has a NaN gradient.
"""

from __future__ import annotations

import itertools
import math

import torch

# Stands in for log(0): finite so that gradients through logaddexp stay defined.
_LOG_ZERO = -1.0e30


def transducer_log_probs(
    logits: torch.Tensor, targets: torch.Tensor, blank: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Joiner logits (B, T, U+1, V) + targets (B, U) -> (blank log-probs (B, T, U+1), label log-probs (B, T, U))."""
    # Half precision is not accurate enough for the lattice sums; float64 stays float64.
    if logits.dtype in (torch.float16, torch.bfloat16):
        logits = logits.float()
    log_probs = logits.log_softmax(dim=-1)
    blank_lp = log_probs[..., blank]
    batch, frames, _, _ = log_probs.shape
    max_u = targets.shape[1]
    index = targets.long().clamp_min(0)[:, None, :, None].expand(batch, frames, max_u, 1)
    emit_lp = log_probs[:, :, :max_u, :].gather(-1, index).squeeze(-1)
    return blank_lp, emit_lp


def _skew(x: torch.Tensor, num_diagonals: int) -> torch.Tensor:
    """(B, T, W) -> (B, N, W) with out[b, n, u] = x[b, n - u, u] (log-zero where n - u is outside 0..T-1)."""
    frames, width = x.shape[1], x.shape[2]
    n = torch.arange(num_diagonals, device=x.device)[:, None]
    u = torch.arange(width, device=x.device)[None, :]
    t = n - u
    valid = (t >= 0) & (t < frames)
    out = x[:, t.clamp(0, frames - 1), u.expand_as(t)]
    return out.masked_fill(~valid, _LOG_ZERO)


def transducer_lattice_loss(
    blank_lp: torch.Tensor,
    emit_lp: torch.Tensor,
    logit_lengths: torch.Tensor,
    target_lengths: torch.Tensor,
) -> torch.Tensor:
    """Per-utterance ``-log P(y | x)`` (B,) from blank (B, T, U+1) and label (B, T, U) log-probs."""
    batch, frames, width = blank_lp.shape
    if emit_lp.shape != (batch, frames, width - 1):
        raise ValueError(f"label log-probs {tuple(emit_lp.shape)} do not match blank log-probs {tuple(blank_lp.shape)}")
    num_diagonals = frames + width - 1
    # Label log-prob padded to U+1 columns so both skewed tensors share one index.
    emit_padded = torch.cat([emit_lp, emit_lp.new_full((batch, frames, 1), _LOG_ZERO)], dim=2)
    blank_skew = _skew(blank_lp, num_diagonals)
    emit_skew = _skew(emit_padded, num_diagonals)
    # Mask labels beyond each utterance's length so no path can use them.
    u_index = torch.arange(width, device=blank_lp.device)
    beyond_target = u_index[None, :] >= target_lengths[:, None]  # (B, U+1): emission from column u invalid
    emit_skew = emit_skew.masked_fill(beyond_target[:, None, :], _LOG_ZERO)

    diagonal = blank_lp.new_full((batch, width), _LOG_ZERO)
    diagonal = torch.cat([diagonal.new_zeros((batch, 1)), diagonal[:, 1:]], dim=1)  # alpha(0, 0) = 0
    diagonals = [diagonal]
    log_zero_column = blank_lp.new_full((batch, 1), _LOG_ZERO)
    for n in range(1, num_diagonals):
        from_blank = diagonal + blank_skew[:, n - 1]
        from_emit = torch.cat([log_zero_column, (diagonal + emit_skew[:, n - 1])[:, :-1]], dim=1)
        diagonal = torch.logaddexp(from_blank, from_emit)
        diagonals.append(diagonal)
    alpha = torch.stack(diagonals, dim=1)  # (B, N, U+1), alpha[b, t + u, u]

    last_t = (logit_lengths.long() - 1).to(blank_lp.device)
    last_u = target_lengths.long().to(blank_lp.device)
    rows = torch.arange(batch, device=blank_lp.device)
    log_likelihood = alpha[rows, last_t + last_u, last_u] + blank_lp[rows, last_t, last_u]
    return -log_likelihood


def rnnt_loss(
    logits: torch.Tensor,
    targets: torch.Tensor,
    logit_lengths: torch.Tensor,
    target_lengths: torch.Tensor,
    blank: int = 0,
    reduction: str = "mean",
) -> torch.Tensor:
    """RNN-T loss with torchaudio's signature: logits (B, T, U+1, V), targets (B, U) padded, lengths (B,).

    ``reduction``: ``none`` (B,), ``sum``, or ``mean`` (over utterances). Computed in float32
    (float64 inputs stay float64).
    """
    if logits.dim() != 4:
        raise ValueError(f"rnnt_loss expects logits (B, T, U+1, V), got shape {tuple(logits.shape)}")
    if logits.shape[2] != targets.shape[1] + 1:
        raise ValueError(
            f"logits have {logits.shape[2]} label positions, expected targets.shape[1] + 1 = {targets.shape[1] + 1}"
        )
    if bool((logit_lengths < 1).any()):
        raise ValueError("rnnt_loss: every utterance needs at least one encoder frame")
    blank_lp, emit_lp = transducer_log_probs(logits, targets, blank)
    losses = transducer_lattice_loss(blank_lp, emit_lp, logit_lengths, target_lengths)
    if reduction == "none":
        return losses
    if reduction == "sum":
        return losses.sum()
    if reduction == "mean":
        return losses.mean()
    raise ValueError(f"unknown reduction {reduction!r} (none, sum, mean)")


def rnnt_loss_brute_force(logits: torch.Tensor, target: list[int], blank: int = 0) -> torch.Tensor:
    """``-log P(y | x)`` for ONE utterance by enumerating every alignment (test oracle; tiny sizes only).

    logits: (T, U+1, V) for target ``y`` of length U. An alignment is an order of T blanks
    and U labels whose last symbol is a blank: choose which of the first T - 1 + U steps
    are labels. There are C(T - 1 + U, U) of them.
    """
    log_probs = logits.double().log_softmax(dim=-1)
    frames, num_labels = log_probs.shape[0], len(target)
    steps = frames - 1 + num_labels
    path_scores = []
    for label_steps in itertools.combinations(range(steps), num_labels):
        label_steps = set(label_steps)
        t = u = 0
        score = log_probs.new_zeros(())
        for step in range(steps):
            if step in label_steps:
                score = score + log_probs[t, u, target[u]]
                u += 1
            else:
                score = score + log_probs[t, u, blank]
                t += 1
        score = score + log_probs[frames - 1, num_labels, blank]  # the final blank
        path_scores.append(score)
    return -torch.logsumexp(torch.stack(path_scores), dim=0)


# ---------------------------------------------------------------------------------------
# Pruned RNN-T (Kuang et al., 2022), the loss of the paper's ASR fine-tunes (Appendix B.3).
#
# 1. A "simple" joiner, logits(t, u, v) = am(t, v) + lm(u, v), whose full lattice is cheap:
#    its log-normaliser over v is a matrix product, so no (B, T, U+1, V) tensor is built.
#    Its loss is trained too (``simple_loss``), optionally smoothed with an LM-only term.
# 2. The gradient of the simple loss w.r.t. its lattice log-probs is each cell's
#    occupation probability; for each frame t the ``s_range`` consecutive label positions
#    with the most occupation are kept (``prune_ranges``), adjusted so that a path exists.
# 3. The real joiner runs on the kept (B, T, s_range) cells only; the other cells are
#    log-zero in the lattice (``pruned_lattice_loss``). With s_range >= U + 1 nothing is
#    pruned and the loss equals :func:`rnnt_loss`.
# ---------------------------------------------------------------------------------------


def simple_lattice_log_probs(
    am: torch.Tensor, lm: torch.Tensor, targets: torch.Tensor, blank: int = 0, lm_only_scale: float = 0.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """am (B, T, V), lm (B, U+1, V), targets (B, U) -> (blank (B, T, U+1), label (B, T, U)) log-probs
    of the joiner am + lm, mixed with ``lm_only_scale`` of the LM's own log-probs."""
    am, lm = am.float(), lm.float()
    am_max = am.max(dim=-1, keepdim=True).values
    lm_max = lm.max(dim=-1, keepdim=True).values
    # log sum_v exp(am[t, v] + lm[u, v]) without the (T, U+1, V) tensor.
    normaliser = torch.log(torch.matmul((am - am_max).exp(), (lm - lm_max).exp().transpose(1, 2)).clamp_min(1e-30))
    normaliser = normaliser + am_max + lm_max.transpose(1, 2)  # (B, T, U+1)
    targets = targets.long().clamp_min(0)
    max_u = targets.shape[1]
    am_label = am.gather(2, targets[:, None, :].expand(-1, am.shape[1], -1))  # (B, T, U)
    lm_label = lm[:, :max_u].gather(2, targets[:, :, None]).squeeze(-1)  # (B, U)
    emit = am_label + lm_label[:, None, :] - normaliser[:, :, :max_u]
    blank_lp = am[:, :, blank][:, :, None] + lm[:, :, blank][:, None, :] - normaliser
    if lm_only_scale > 0:
        lm_lp = lm.log_softmax(dim=-1)
        emit = (1 - lm_only_scale) * emit + lm_only_scale * lm_lp[:, :max_u].gather(2, targets[:, :, None]).squeeze(-1)[
            :, None, :
        ]
        blank_lp = (1 - lm_only_scale) * blank_lp + lm_only_scale * lm_lp[:, :, blank][:, None, :]
    return blank_lp, emit


def prune_ranges(
    occupation: torch.Tensor, logit_lengths: torch.Tensor, target_lengths: torch.Tensor, s_range: int
) -> torch.Tensor:
    """Per frame, the first of ``s_range`` consecutive label positions to keep: (B, T) long.

    ``occupation`` (B, T, U+1) scores cells (gradients of the simple loss). The starts are
    then made to admit a path: 0 at t = 0, non-decreasing, rising by at most s_range - 1
    per frame, and reaching U at each utterance's last frame. Utterances with more labels
    than (frames x (s_range - 1)) can still have no path; their loss is infinite.
    """
    batch, frames, width = occupation.shape
    cumulative = torch.nn.functional.pad(occupation.cumsum(dim=2), (1, 0))  # (B, T, U+2)
    positions = torch.arange(width, device=occupation.device)
    ends = (positions + s_range).clamp(max=width)
    window = cumulative[:, :, ends] - cumulative[:, :, positions]
    last_start = (target_lengths.long().to(occupation.device) + 1 - s_range).clamp_min(0)  # (B,)
    window = window.masked_fill(positions[None, None, :] > last_start[:, None, None], -math.inf)
    start = window.argmax(dim=2)  # (B, T)
    start[:, 0] = 0
    frame_index = torch.arange(frames, device=occupation.device)
    slope = frame_index[None, :] * (s_range - 1)
    start = torch.cummax(start, dim=1).values
    # Rising at most s_range - 1 per frame, by lowering: start[t] <= start[t-1] + s_range - 1.
    start = torch.cummin(start - slope, dim=1).values + slope
    # The last frame must reach the end; raise earlier starts as needed: start[t] >= start[t+1] - (s_range - 1).
    after_end = frame_index[None, :] >= (logit_lengths.long().to(occupation.device) - 1)[:, None]
    start = torch.where(after_end, last_start[:, None].expand(-1, frames), start)
    start = torch.flip(torch.cummax(torch.flip(start - slope, dims=[1]), dim=1).values, dims=[1]) + slope
    return torch.minimum(start, last_start[:, None])


def pruned_lattice_loss(
    blank_pruned: torch.Tensor,
    emit_pruned: torch.Tensor,
    starts: torch.Tensor,
    logit_lengths: torch.Tensor,
    target_lengths: torch.Tensor,
) -> torch.Tensor:
    """Per-utterance loss from log-probs on the kept cells only.

    blank_pruned / emit_pruned: (B, T, S) at label positions ``starts[b, t] + k``; the label
    log-prob at a position >= U is ignored. Other cells are log-zero.
    """
    batch, frames, s_range = blank_pruned.shape
    max_u = int(target_lengths.max()) if batch else 0
    width = max_u + s_range + 1  # room for every kept position, sliced to U + 1 below
    index = starts[:, :, None] + torch.arange(s_range, device=starts.device)
    blank_full = blank_pruned.new_full((batch, frames, width), _LOG_ZERO).scatter(2, index, blank_pruned)
    emit_full = emit_pruned.new_full((batch, frames, width), _LOG_ZERO).scatter(2, index, emit_pruned)
    return transducer_lattice_loss(
        blank_full[:, :, : max_u + 1], emit_full[:, :, :max_u], logit_lengths, target_lengths
    )
