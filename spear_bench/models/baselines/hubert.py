"""HuBERT Large through ``transformers.HubertModel`` (the teacher ablation's speech teacher, paper Appendix G).

24 layers x 1024 at 50 Hz; ``hidden_states`` follow transformers, as for WavLM
(spear_bench/models/baselines/wavlm.py, whose encoder wrapper serves any Hugging Face speech model).
"""

from __future__ import annotations

from dataclasses import dataclass

from spear_bench.errors import CheckpointError
from spear_bench.models.base import AudioEncoder
from spear_bench.models.baselines._common import existing_path, seeded_init, with_overrides
from spear_bench.models.baselines.wavlm import WavLMEncoder  # a generic wrapper for HF speech models


@dataclass(frozen=True)
class HubertSize:
    """facebook/hubert-large-ll60k: layer-norm CNN with bias, pre-LN transformer, normalised input."""

    hidden_size: int = 1024
    num_hidden_layers: int = 24
    num_attention_heads: int = 16
    intermediate_size: int = 4096
    conv_dim: int = 512
    num_conv_pos_embeddings: int = 128
    num_conv_pos_embedding_groups: int = 16


def build_hubert_large(path: str | None = None, seed: int = 0, **overrides) -> AudioEncoder:
    """HuBERT Large via ``transformers.HubertModel``: random init (seeded) or ``from_pretrained(path)``."""
    from transformers import HubertConfig, HubertModel  # heavy optional dependency: imported when built

    size = with_overrides(HubertSize(), overrides, "hubert_large")
    if path is None:
        config = HubertConfig(
            hidden_size=size.hidden_size,
            num_hidden_layers=size.num_hidden_layers,
            num_attention_heads=size.num_attention_heads,
            intermediate_size=size.intermediate_size,
            feat_extract_norm="layer",
            do_stable_layer_norm=True,
            conv_bias=True,
            conv_dim=(size.conv_dim,) * 7,
            num_conv_pos_embeddings=size.num_conv_pos_embeddings,
            num_conv_pos_embedding_groups=size.num_conv_pos_embedding_groups,
            layerdrop=0.0,
        )
        with seeded_init(seed):
            model = HubertModel(config)
        return WavLMEncoder(model, normalize_waveform=True).eval()
    folder = existing_path(path, "hubert_large")
    try:
        model = HubertModel.from_pretrained(str(folder), local_files_only=True)
    except (OSError, ValueError, RuntimeError) as error:
        raise CheckpointError(f"hubert_large: cannot load HuBERT weights from {str(path)!r}: {error}") from error
    return WavLMEncoder(model, normalize_waveform=True).eval()
