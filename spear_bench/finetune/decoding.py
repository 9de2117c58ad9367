"""Decoding for the ASR heads: greedy and beam search, for CTC and RNN-T.

- CTC greedy: best class per frame, merge repeats, drop blanks.
- CTC beam: prefix beam search (Hannun et al., 2014) without a language model; the
  ``beam`` best prefixes are kept, each frame only extends with its ``beam`` most likely
  tokens (the others cannot enter the beam).
- RNN-T greedy: the best symbol at each step; a frame is left on blank or after
  ``max_sym_per_frame`` symbols (icefall's ``greedy_search``), the whole batch at once.
- RNN-T beam: time-synchronous beam search (Saon et al., 2020): within a frame hypotheses
  are extended by up to ``max_sym_per_frame`` tokens (the ``beam`` best each round), each
  leaves the frame by a blank; at the end of a frame the ``beam`` best are kept, and equal
  token sequences are merged (log-sum of their scores, i.e. their alignments are summed).
- RNN-T modified_beam: icefall's "modified beam search": one symbol per frame, and a
  token moves to the next frame without a blank (cheaper; what icefall's recipes report).

``DECODERS[(head kind, method)]`` is the registry the recipes use.
"""

from __future__ import annotations

import math
from typing import Callable

import torch

from spear_bench.errors import ConfigError

Hypotheses = list[list[int]]


def _logaddexp(a: float, b: float) -> float:
    if a == -math.inf:
        return b
    if b == -math.inf:
        return a
    return max(a, b) + math.log1p(math.exp(-abs(a - b)))


@torch.no_grad()
def ctc_greedy(head, encoder_out: torch.Tensor, encoder_lens: torch.Tensor, beam: int = 1) -> Hypotheses:
    best = head.log_probs(encoder_out).argmax(dim=-1).cpu()
    out = []
    for b, length in enumerate(encoder_lens.tolist()):
        ids = torch.unique_consecutive(best[b, :length]).tolist()
        out.append([i for i in ids if i != head.blank_id])
    return out


def _ctc_prefix_beam_one(log_probs: torch.Tensor, blank: int, beam: int) -> list[int]:
    """log_probs (T, V) -> best token sequence. Each prefix keeps (log p ending in blank, in non-blank)."""
    neg_inf, logaddexp = -math.inf, _logaddexp
    beams: dict[tuple, tuple[float, float]] = {(): (0.0, neg_inf)}
    top_k = min(beam, log_probs.shape[1])
    for frame in log_probs:
        values, tokens = frame.topk(top_k)
        frame_blank = float(frame[blank])
        candidates: dict[tuple, list[float]] = {}

        def add(prefix, p_blank, p_nonblank):
            entry = candidates.setdefault(prefix, [neg_inf, neg_inf])
            entry[0] = logaddexp(entry[0], p_blank)
            entry[1] = logaddexp(entry[1], p_nonblank)

        for prefix, (p_b, p_nb) in beams.items():
            total = logaddexp(p_b, p_nb)
            add(prefix, total + frame_blank, neg_inf)
            for value, token in zip(values.tolist(), tokens.tolist()):
                if token == blank:
                    continue
                if prefix and prefix[-1] == token:
                    add(prefix, neg_inf, p_nb + value)  # repeated token without blank: same prefix
                    add(prefix + (token,), neg_inf, p_b + value)  # blank in between: new token
                else:
                    add(prefix + (token,), neg_inf, total + value)
        ranked = sorted(candidates.items(), key=lambda kv: logaddexp(*kv[1]), reverse=True)[:beam]
        beams = {prefix: tuple(scores) for prefix, scores in ranked}
    return list(max(beams.items(), key=lambda kv: logaddexp(*kv[1]))[0])


@torch.no_grad()
def ctc_prefix_beam(head, encoder_out: torch.Tensor, encoder_lens: torch.Tensor, beam: int = 4) -> Hypotheses:
    log_probs = head.log_probs(encoder_out).float().cpu()
    return [
        _ctc_prefix_beam_one(log_probs[b, :length], head.blank_id, beam)
        for b, length in enumerate(encoder_lens.tolist())
    ]


@torch.no_grad()
def rnnt_greedy(
    head, encoder_out: torch.Tensor, encoder_lens: torch.Tensor, beam: int = 1, max_sym_per_frame: int = 3
) -> Hypotheses:
    """Best symbol at each step; a frame is left on blank or after ``max_sym_per_frame`` symbols."""
    batch, device = encoder_out.shape[0], encoder_out.device
    blank, context = head.blank_id, head.context_size
    encoder_proj = head.joiner.encoder_proj(encoder_out)
    histories = [head.start_context() for _ in range(batch)]
    decoder_out = head.decoder_step(torch.tensor(histories, device=device))
    lengths = encoder_lens.tolist()
    for t in range(encoder_out.shape[1]):
        active = [b for b in range(batch) if t < lengths[b]]
        for _ in range(max(1, max_sym_per_frame)):
            if not active:
                break
            best = head.joiner(encoder_proj[active, t], decoder_out[active]).argmax(dim=-1).tolist()
            emitted = [(b, token) for b, token in zip(active, best) if token != blank]
            for b, token in emitted:
                histories[b].append(token)
            active = [b for b, _ in emitted]  # still emitting at frame t
            if active:
                contexts = torch.tensor([histories[b][-context:] for b in active], device=device)
                decoder_out[active] = head.decoder_step(contexts)
    return [h[context:] for h in histories]


def _rnnt_beam_one(head, encoder_proj: torch.Tensor, beam: int, max_sym_per_frame: int) -> list[int]:
    """Time-synchronous beam search for one utterance (encoder_proj (T, J)); see module docstring."""
    blank, context, device = head.blank_id, head.context_size, encoder_proj.device
    hyps: dict[tuple, float] = {tuple(head.start_context()): 0.0}
    for t in range(encoder_proj.shape[0]):
        ended: dict[tuple, float] = {}  # hypotheses that took the blank leaving frame t
        expanding = hyps
        for round_index in range(max_sym_per_frame + 1):
            keys = list(expanding)
            scores = torch.tensor([expanding[k] for k in keys], device=device)
            decoder_out = head.decoder_step(torch.tensor([list(k[-context:]) for k in keys], device=device))
            log_probs = head.joiner(encoder_proj[t][None, :], decoder_out).log_softmax(dim=-1)  # (H, V)
            for key, score in zip(keys, (scores + log_probs[:, blank]).tolist()):
                ended[key] = _logaddexp(ended.get(key, -math.inf), score)
            if round_index == max_sym_per_frame:
                break
            labels = log_probs.clone()
            labels[:, blank] = -math.inf
            total = (scores[:, None] + labels).flatten()
            top_values, top_index = total.topk(min(beam, total.numel()))
            vocab = log_probs.shape[1]
            expanding = {}
            for value, index in zip(top_values.tolist(), top_index.tolist()):
                if value == -math.inf:
                    continue
                new_key = keys[index // vocab] + (index % vocab,)
                expanding[new_key] = _logaddexp(expanding.get(new_key, -math.inf), value)
            if not expanding:
                break
        hyps = dict(sorted(ended.items(), key=lambda kv: kv[1], reverse=True)[:beam])
    best = max(hyps.items(), key=lambda kv: kv[1])[0]
    return list(best[context:])


@torch.no_grad()
def rnnt_beam(
    head, encoder_out: torch.Tensor, encoder_lens: torch.Tensor, beam: int = 4, max_sym_per_frame: int = 3
) -> Hypotheses:
    encoder_proj = head.joiner.encoder_proj(encoder_out)
    return [
        _rnnt_beam_one(head, encoder_proj[b, :length], beam, max_sym_per_frame)
        for b, length in enumerate(encoder_lens.tolist())
    ]


def _rnnt_modified_beam_one(head, encoder_proj: torch.Tensor, beam: int) -> list[int]:
    """encoder_proj (T, J) of one utterance -> best token sequence (see module docstring)."""
    blank, context, device = head.blank_id, head.context_size, encoder_proj.device
    hyps: dict[tuple, float] = {tuple(head.start_context()): 0.0}
    for t in range(encoder_proj.shape[0]):
        keys = list(hyps)
        scores = torch.tensor([hyps[k] for k in keys], device=device)
        decoder_out = head.decoder_step(torch.tensor([list(k[-context:]) for k in keys], device=device))
        log_probs = head.joiner(encoder_proj[t][None, :], decoder_out).log_softmax(dim=-1)  # (H, V)
        total = (scores[:, None] + log_probs).flatten()
        top_values, top_index = total.topk(min(beam, total.numel()))
        vocab = log_probs.shape[1]
        merged: dict[tuple, float] = {}
        for value, index in zip(top_values.tolist(), top_index.tolist()):
            key, token = keys[index // vocab], index % vocab
            new_key = key if token == blank else key + (token,)
            merged[new_key] = _logaddexp(merged.get(new_key, -math.inf), value)
        hyps = merged
    best = max(hyps.items(), key=lambda kv: kv[1])[0]
    return list(best[context:])


@torch.no_grad()
def rnnt_modified_beam(
    head, encoder_out: torch.Tensor, encoder_lens: torch.Tensor, beam: int = 4, max_sym_per_frame: int = 1
) -> Hypotheses:
    encoder_proj = head.joiner.encoder_proj(encoder_out)
    return [
        _rnnt_modified_beam_one(head, encoder_proj[b, :length], beam) for b, length in enumerate(encoder_lens.tolist())
    ]


Decoder = Callable[..., Hypotheses]
DECODERS: dict[tuple[str, str], Decoder] = {
    ("ctc", "greedy"): ctc_greedy,
    ("ctc", "beam"): ctc_prefix_beam,
    ("rnnt", "greedy"): rnnt_greedy,
    ("rnnt", "beam"): rnnt_beam,
    ("rnnt", "modified_beam"): rnnt_modified_beam,
}


def decode(
    head,
    encoder_out: torch.Tensor,
    encoder_lens: torch.Tensor,
    method: str = "greedy",
    beam: int = 4,
    max_sym_per_frame: int = 3,
) -> Hypotheses:
    """Token id sequences for a batch with the head's decoder ``method`` (see DECODERS)."""
    key = (head.kind, method)
    if key not in DECODERS:
        known = ", ".join(m for kind, m in DECODERS if kind == head.kind)
        raise ConfigError(f"decoding method {method!r} is not available for the {head.kind} head; known: {known}")
    if head.kind == "rnnt":
        return DECODERS[key](head, encoder_out, encoder_lens, beam=beam, max_sym_per_frame=max_sym_per_frame)
    return DECODERS[key](head, encoder_out, encoder_lens, beam=beam)
