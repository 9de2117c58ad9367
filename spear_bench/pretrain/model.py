"""The model trained in pre-training: SPEAR encoder + learnable mask embedding + codebook heads.

After pre-training only the encoder is kept (paper Fig. 1, grey box); it is saved in the
released layout with spear_bench.models.checkpoint.save_spear_checkpoint.
"""

from __future__ import annotations

import torch
from torch import nn

from spear_bench.errors import ConfigError
from spear_bench.models.checkpoint import build_spear
from spear_bench.models.spear import spear_config
from spear_bench.pretrain.losses import CodebookHeads
from spear_bench.pretrain.masking import apply_masks


class SpearPretrainModel(nn.Module):
    def __init__(
        self,
        encoder: nn.Module,
        num_codebooks: dict[str, int],
        codebook_size: int = 256,
        codebook_sizes: dict[str, int] | None = None,
    ):
        super().__init__()
        self.encoder = encoder
        num_mel_bins = encoder.config.num_mel_bins
        # Standard-normal init, as the release's mask embedding.
        self.mask_embedding = nn.Parameter(torch.randn(num_mel_bins))
        self.heads = nn.ModuleDict(
            {
                name: CodebookHeads(encoder.hidden_size, n, (codebook_sizes or {}).get(name, codebook_size))
                for name, n in num_codebooks.items()
            }
        )

    def forward(
        self, fbank: torch.Tensor, fbank_lens: torch.Tensor, time_mask: torch.Tensor, channel_mask: torch.Tensor
    ) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """Masked fbank (B, T, 128) -> logits per token set (B, T50, N, K) and the 50 Hz lengths (B,)."""
        masked = apply_masks(fbank, time_mask, channel_mask, self.mask_embedding)
        out = self.encoder.forward_fbank(masked, fbank_lens, output_hidden_states=False)
        hidden = out.last_hidden_state
        return {name: head(hidden) for name, head in self.heads.items()}, out.lengths


def build_pretrain_model(
    model_config, num_codebooks: dict[str, int], codebook_sizes: dict[str, int] | None = None
) -> SpearPretrainModel:
    """Encoder of ``model_config.size`` (+ overrides; from ``init`` weights if given) with fresh heads, seeded.

    ``codebook_sizes``: entries per codebook of each token set (default 256, MVQ's; k-means: its clusters)."""
    config = spear_config(model_config.size, **model_config.overrides)
    if config.output_downsampling_factor != 1:
        raise ConfigError("model.overrides: pre-training needs a 50 Hz encoder (output_downsampling_factor 1)")
    encoder = build_spear(config, model_config.init, model_config.seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(model_config.seed + 1)
        model = SpearPretrainModel(encoder, num_codebooks, codebook_sizes=codebook_sizes)
    return model
