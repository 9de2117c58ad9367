"""A pre-trained encoder plus a task head, with the fine-tuning conventions of Appendix B.3.

- Input: encoders with ``forward_fbank`` (SPEAR) get the 128-bin fbank computed here so
  SpecAugment can mask it; the others get waveforms (time masks only; see augment.py).
- Asynchronous learning rates: :meth:`param_groups` gives the encoder ``lr *
  encoder_lr_scale`` and the head ``lr``.
- Freezing: while ``encoder_frozen`` is set the encoder runs without gradients (its
  parameters get no update), as in the release's first 2000 fine-tuning steps.
"""

from __future__ import annotations

import contextlib

import torch
from torch import nn

from spear_bench.audio import fbank_batch
from spear_bench.finetune.augment import SpecAugmentConfig, spec_augment_fbank, spec_augment_waveform
from spear_bench.models.base import AudioEncoder


class FinetuneModel(nn.Module):
    def __init__(self, encoder: AudioEncoder, head: nn.Module, spec_augment: SpecAugmentConfig | None = None):
        super().__init__()
        self.encoder = encoder
        self.head = head
        self.spec_augment = spec_augment or SpecAugmentConfig(enabled=False)
        self.encoder_frozen = False

    @property
    def takes_fbank(self) -> bool:
        return callable(getattr(self.encoder, "forward_fbank", None))

    def encode(
        self, waves: torch.Tensor, lengths: torch.Tensor, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, S) waveforms -> encoder output (B, T, D) and its lengths; SpecAugment in training mode."""
        augment = self.training and self.spec_augment.enabled
        freeze = torch.no_grad() if self.encoder_frozen else contextlib.nullcontext()
        if self.takes_fbank:
            feats, feat_lens = fbank_batch(waves, lengths)
            if augment:
                feats = spec_augment_fbank(feats, feat_lens, self.spec_augment, generator)
            with freeze:
                out = self.encoder.forward_fbank(feats, feat_lens.to(feats.device))
        else:
            if augment:
                waves = spec_augment_waveform(waves, lengths, self.spec_augment, generator)
            with freeze:
                out = self.encoder(waves, lengths.to(waves.device))
        hidden = out.last_hidden_state
        if self.encoder_frozen:
            hidden = hidden.detach()
        return hidden, out.lengths.to(hidden.device)

    def param_groups(self, lr: float, encoder_lr_scale: float) -> list[dict]:
        return [
            {
                "params": [p for p in self.encoder.parameters() if p.requires_grad],
                "lr": lr * encoder_lr_scale,
                "name": "encoder",
            },
            {"params": [p for p in self.head.parameters() if p.requires_grad], "lr": lr, "name": "head"},
        ]
