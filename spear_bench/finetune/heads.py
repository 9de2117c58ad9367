"""Heads put on a pre-trained encoder for fine-tuning.

ASR (Appendix B.3 / C): a CTC head (dropout + Linear(D, V)) or a stateless RNN-T
(Ghods et al., 2020, as in icefall's Zipformer recipes): the prediction network sees only
the last ``context_size`` = 2 tokens (embedding + grouped Conv1d over the context + ReLU,
no recurrence) and a joiner ``Linear(J, V)(tanh(W_enc e_t + W_dec d_u))``. With
decoder/joiner dim 512 and 500 BPE units this is about 1.6M parameters plus the
encoder projection (D x 512); the paper quotes ~3M for its decoder+joiner.

Audio tagging (Sec. 5.1): mean of the encoder output over valid frames -> dropout ->
Linear(D, num_classes) (527 for AudioSet), trained with BCE on the logits.

Every head exposes ``loss(...)``; ASR heads also ``decode(..., method, beam)`` where the
methods come from :data:`spear_bench.finetune.decoding.DECODERS`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from spear_bench.finetune.transducer import (
    prune_ranges,
    pruned_lattice_loss,
    rnnt_loss,
    simple_lattice_log_probs,
    transducer_lattice_loss,
)

# A per-utterance loss this large means the (pruned) lattice had no path at all.
_NO_PATH = 1.0e20


def pad_targets(targets: list[list[int]], pad: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Token id lists -> (B, U_max) long tensor padded with ``pad`` and lengths (B,)."""
    lengths = torch.tensor([len(t) for t in targets], dtype=torch.long)
    out = torch.full((len(targets), max(1, int(lengths.max()) if len(targets) else 1)), pad, dtype=torch.long)
    for i, t in enumerate(targets):
        out[i, : len(t)] = torch.tensor(t, dtype=torch.long)
    return out, lengths


class CtcHead(nn.Module):
    kind = "ctc"

    def __init__(self, encoder_dim: int, vocab_size: int, blank_id: int = 0, dropout: float = 0.1):
        super().__init__()
        self.blank_id = blank_id
        self.vocab_size = vocab_size
        self.dropout = nn.Dropout(dropout)
        self.output = nn.Linear(encoder_dim, vocab_size)

    def log_probs(self, encoder_out: torch.Tensor) -> torch.Tensor:
        return self.output(self.dropout(encoder_out)).log_softmax(dim=-1)

    def loss(self, encoder_out: torch.Tensor, encoder_lens: torch.Tensor, targets: list[list[int]]) -> torch.Tensor:
        """CTC loss summed over each utterance, averaged over the batch."""
        padded, target_lens = pad_targets(targets)
        log_probs = self.log_probs(encoder_out).float()
        losses = F.ctc_loss(
            log_probs.transpose(0, 1),
            padded.to(encoder_out.device),
            encoder_lens.to(encoder_out.device),
            target_lens.to(encoder_out.device),
            blank=self.blank_id,
            reduction="none",
            zero_infinity=True,  # a transcript longer than its audio contributes nothing rather than inf
        )
        return losses.mean()


class StatelessPredictor(nn.Module):
    """Prediction network over the last ``context_size`` tokens (blank stands for start of sentence)."""

    def __init__(self, vocab_size: int, dim: int, blank_id: int = 0, context_size: int = 2):
        super().__init__()
        if context_size < 1:
            raise ValueError("context_size must be >= 1")
        self.blank_id = blank_id
        self.context_size = context_size
        self.embedding = nn.Embedding(vocab_size, dim)
        self.conv = (
            nn.Conv1d(dim, dim, kernel_size=context_size, groups=max(1, dim // 4), bias=False)
            if context_size > 1
            else None
        )

    def forward(self, tokens: torch.Tensor, need_pad: bool = True) -> torch.Tensor:
        """tokens (B, U) -> (B, U, dim). With ``need_pad`` the context left of the first token is zeros;
        without it ``U`` must equal ``context_size`` and one output per row is returned. A negative id
        embeds as zeros: decoding starts from ``[-1] * (context_size - 1) + [blank]``, which is
        exactly what training sees at the first position."""
        embedded = self.embedding(tokens.clamp_min(0)) * (tokens >= 0).unsqueeze(-1).to(self.embedding.weight.dtype)
        if self.conv is not None:
            x = embedded.transpose(1, 2)
            if need_pad:
                x = F.pad(x, (self.context_size - 1, 0))
            embedded = self.conv(x).transpose(1, 2)
        return F.relu(embedded)


class Joiner(nn.Module):
    def __init__(self, encoder_dim: int, decoder_dim: int, joiner_dim: int, vocab_size: int):
        super().__init__()
        self.encoder_proj = nn.Linear(encoder_dim, joiner_dim)
        self.decoder_proj = nn.Linear(decoder_dim, joiner_dim)
        self.output = nn.Linear(joiner_dim, vocab_size)

    def forward(self, encoder_part: torch.Tensor, decoder_part: torch.Tensor) -> torch.Tensor:
        """Already projected parts that broadcast against each other -> logits (..., V)."""
        return self.output(torch.tanh(encoder_part + decoder_part))


class TransducerHead(nn.Module):
    """Stateless RNN-T. ``loss_kind`` "pruned" (the paper's, default) or "full" (the whole lattice).

    Pruned (see transducer.py): loss = simple_scale * simple loss + pruned_scale * pruned loss,
    where over the first ``warmup`` steps (``warmup_fraction`` 0 -> 1) the scales move from
    (1, 0.1) to (``simple_loss_scale``, 1), as in icefall's Zipformer recipes.
    """

    kind = "rnnt"

    def __init__(
        self,
        encoder_dim: int,
        vocab_size: int,
        blank_id: int = 0,
        decoder_dim: int = 512,
        joiner_dim: int = 512,
        context_size: int = 2,
        loss_kind: str = "pruned",
        prune_range: int = 5,
        simple_loss_scale: float = 0.5,
        lm_only_scale: float = 0.25,
    ):
        super().__init__()
        if loss_kind not in ("pruned", "full"):
            raise ValueError(f"unknown RNN-T loss {loss_kind!r} (pruned, full)")
        self.blank_id = blank_id
        self.vocab_size = vocab_size
        self.context_size = context_size
        self.loss_kind = loss_kind
        self.prune_range = prune_range
        self.simple_loss_scale = simple_loss_scale
        self.lm_only_scale = lm_only_scale
        self.predictor = StatelessPredictor(vocab_size, decoder_dim, blank_id, context_size)
        self.joiner = Joiner(encoder_dim, decoder_dim, joiner_dim, vocab_size)
        if loss_kind == "pruned":
            self.simple_am_proj = nn.Linear(encoder_dim, vocab_size)
            self.simple_lm_proj = nn.Linear(decoder_dim, vocab_size)

    def _decoder_out(self, targets: torch.Tensor) -> torch.Tensor:
        sos = torch.full((targets.shape[0], 1), self.blank_id, dtype=torch.long, device=targets.device)
        return self.predictor(torch.cat([sos, targets], dim=1))  # (B, U+1, dim)

    def logits(self, encoder_out: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Full lattice logits (B, T, U+1, V) for padded targets (B, U)."""
        enc = self.joiner.encoder_proj(encoder_out)[:, :, None, :]
        dec = self.joiner.decoder_proj(self._decoder_out(targets))[:, None, :, :]
        return self.joiner(enc, dec)

    def loss(
        self,
        encoder_out: torch.Tensor,
        encoder_lens: torch.Tensor,
        targets: list[list[int]],
        warmup_fraction: float = 1.0,
    ) -> torch.Tensor:
        """RNN-T loss per utterance, averaged over the batch (utterances without a path count 0)."""
        padded, target_lens = pad_targets(targets, pad=self.blank_id)
        padded = padded.to(encoder_out.device)
        encoder_lens, target_lens = encoder_lens.to(encoder_out.device), target_lens.to(encoder_out.device)
        if self.loss_kind == "full":
            losses = rnnt_loss(
                self.logits(encoder_out, padded),
                padded,
                encoder_lens,
                target_lens,
                blank=self.blank_id,
                reduction="none",
            )
        else:
            simple, pruned = self.pruned_losses(encoder_out, encoder_lens, padded, target_lens)
            fraction = min(1.0, max(0.0, warmup_fraction))
            simple_scale = 1.0 - fraction * (1.0 - self.simple_loss_scale)
            pruned_scale = 0.1 + 0.9 * fraction
            losses = simple_scale * simple + pruned_scale * pruned
        losses = torch.where(losses < _NO_PATH, losses, torch.zeros_like(losses))
        return losses.mean()

    def pruned_losses(
        self, encoder_out: torch.Tensor, encoder_lens: torch.Tensor, padded: torch.Tensor, target_lens: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(simple loss (B,), pruned loss (B,)) for padded targets (B, U)."""
        decoder_out = self._decoder_out(padded)
        blank_simple, emit_simple = simple_lattice_log_probs(
            self.simple_am_proj(encoder_out),
            self.simple_lm_proj(decoder_out),
            padded,
            self.blank_id,
            self.lm_only_scale,
        )
        simple = transducer_lattice_loss(blank_simple, emit_simple, encoder_lens, target_lens)
        # Occupation of each cell = -d(loss)/d(log-prob of its arcs), on a detached copy.
        with torch.enable_grad():
            blank_leaf = blank_simple.detach().requires_grad_()
            emit_leaf = emit_simple.detach().requires_grad_()
            total = transducer_lattice_loss(blank_leaf, emit_leaf, encoder_lens, target_lens)
            total = torch.where(total < _NO_PATH, total, torch.zeros_like(total)).sum()
            blank_grad, emit_grad = torch.autograd.grad(total, [blank_leaf, emit_leaf])
        occupation = -(blank_grad + F.pad(emit_grad, (0, 1)))
        starts = prune_ranges(occupation, encoder_lens, target_lens, self.prune_range)

        batch, frames = starts.shape
        s_range = self.prune_range
        index = starts[:, :, None] + torch.arange(s_range, device=starts.device)  # (B, T, S)
        width = padded.shape[1] + s_range + 1
        decoder_proj = F.pad(self.joiner.decoder_proj(decoder_out), (0, 0, 0, width - decoder_out.shape[1]))
        joiner_dim = decoder_proj.shape[-1]
        decoder_pruned = (
            decoder_proj[:, None]
            .expand(batch, frames, width, joiner_dim)
            .gather(2, index[..., None].expand(batch, frames, s_range, joiner_dim))
        )
        logits = self.joiner(self.joiner.encoder_proj(encoder_out)[:, :, None, :], decoder_pruned)  # (B, T, S, V)
        log_probs = logits.float().log_softmax(dim=-1)
        targets_wide = F.pad(padded, (0, width - padded.shape[1]), value=self.blank_id)
        labels = targets_wide.gather(1, index.flatten(1)).view(batch, frames, s_range)
        emit_pruned = log_probs.gather(-1, labels[..., None]).squeeze(-1)
        pruned = pruned_lattice_loss(log_probs[..., self.blank_id], emit_pruned, starts, encoder_lens, target_lens)
        return simple, pruned

    def start_context(self) -> list[int]:
        """The decoder context before the first token (see StatelessPredictor.forward)."""
        return [-1] * (self.context_size - 1) + [self.blank_id]

    def decoder_step(self, contexts: torch.Tensor) -> torch.Tensor:
        """Last ``context_size`` tokens per hypothesis (H, context_size) -> projected decoder output (H, J)."""
        return self.joiner.decoder_proj(self.predictor(contexts, need_pad=False)[:, -1])


class TaggingHead(nn.Module):
    """Mean pooling over valid frames -> dropout -> Linear(D, num_classes)."""

    def __init__(self, encoder_dim: int, num_classes: int, dropout: float = 0.1):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.output = nn.Linear(encoder_dim, num_classes)

    def forward(self, encoder_out: torch.Tensor, encoder_lens: torch.Tensor) -> torch.Tensor:
        frames = torch.arange(encoder_out.shape[1], device=encoder_out.device)
        valid = (frames[None, :] < encoder_lens.to(encoder_out.device)[:, None]).to(encoder_out.dtype)
        pooled = (encoder_out * valid[..., None]).sum(1) / valid.sum(1, keepdim=True).clamp_min(1)
        return self.output(self.dropout(pooled))

    def loss(self, encoder_out: torch.Tensor, encoder_lens: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Binary cross-entropy with (soft, after mixup) multi-hot targets (B, C)."""
        logits = self.forward(encoder_out, encoder_lens)
        return F.binary_cross_entropy_with_logits(logits.float(), targets.to(logits.device).float())
