"""WavLM Base+ / Large through ``transformers.WavLMModel``.

Facts (Hugging Face configs of microsoft/wavlm-base-plus and microsoft/wavlm-large, and
the WavLM paper): 7-layer CNN front end (512 channels, strides 5,2,2,2,2,2,2, kernels
10,3,3,3,3,2,2; hop 320 samples = 20 ms, receptive field 400 samples), gated relative
position bias (320 buckets, max distance 800), convolutional positional embedding
(kernel 128, 16 groups).
- Base+: 12 layers x 768, 12 heads, FFN 3072, group-norm CNN, post-LN transformer;
  its feature extractor does not normalise the waveform.
- Large: 24 layers x 1024, 16 heads, FFN 4096, layer-norm CNN, pre-LN ("stable layer
  norm") transformer; its feature extractor normalises each waveform to zero mean and
  unit variance (as s3prl's wavlm upstream does when the checkpoint's cfg.normalize is set).

``hidden_states`` follow transformers (and s3prl): the transformer input plus one entry
per layer (13 for Base+, 25 for Large), all at 50 Hz; the last equals ``last_hidden_state``.
Batches are masked (attention_mask), so padding does not leak into the transformer.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch

from spear_bench.errors import CheckpointError
from spear_bench.models.base import AudioEncoder, EncoderOutput
from spear_bench.models.baselines._common import (
    existing_path,
    normalize_per_utterance,
    padding_mask,
    seeded_init,
    with_overrides,
)

RECEPTIVE_FIELD = 400  # samples seen by the first output frame of the CNN front end
HOP = 320


@dataclass(frozen=True)
class WavLMSize:
    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    intermediate_size: int
    feat_extract_norm: str  # "group" (Base+) or "layer" (Large)
    do_stable_layer_norm: bool
    normalize_waveform: bool  # the released feature extractor's do_normalize
    conv_dim: int = 512  # CNN channels; tests shrink it
    num_conv_pos_embeddings: int = 128
    num_conv_pos_embedding_groups: int = 16


WAVLM_SIZES = {
    "wavlm_base_plus": WavLMSize(768, 12, 12, 3072, "group", False, False),
    "wavlm_large": WavLMSize(1024, 24, 16, 4096, "layer", True, True),
}


def wavlm_config(size: WavLMSize):
    from transformers import WavLMConfig  # heavy optional dependency: only when WavLM is built

    return WavLMConfig(
        hidden_size=size.hidden_size,
        num_hidden_layers=size.num_hidden_layers,
        num_attention_heads=size.num_attention_heads,
        intermediate_size=size.intermediate_size,
        feat_extract_norm=size.feat_extract_norm,
        do_stable_layer_norm=size.do_stable_layer_norm,
        conv_bias=False,
        conv_dim=(size.conv_dim,) * 7,
        num_conv_pos_embeddings=size.num_conv_pos_embeddings,
        num_conv_pos_embedding_groups=size.num_conv_pos_embedding_groups,
        layerdrop=0.0,
    )


class WavLMEncoder(AudioEncoder):
    """A ``transformers.WavLMModel`` behind the AudioEncoder interface."""

    frame_rate = 50.0
    hidden_frame_rate = 50.0
    frame_centre_offset_ms = 1000.0 * RECEPTIVE_FIELD / 2 / 16000  # first frame centred at 12.5 ms

    def __init__(self, model, normalize_waveform: bool):
        super().__init__()
        self.model = model
        self.normalize_waveform = normalize_waveform
        self.hidden_size = model.config.hidden_size
        self.num_hidden_states = model.config.num_hidden_layers + 1

    def forward(self, waveforms: torch.Tensor, lengths: torch.Tensor) -> EncoderOutput:
        lengths = lengths.to(waveforms.device)
        if waveforms.shape[1] < RECEPTIVE_FIELD:  # the CNN needs one full receptive field
            waveforms = torch.nn.functional.pad(waveforms, (0, RECEPTIVE_FIELD - waveforms.shape[1]))
            lengths = lengths.clamp(min=RECEPTIVE_FIELD)
        if self.normalize_waveform:
            waveforms = normalize_per_utterance(waveforms, lengths)
        attention_mask = (~padding_mask(lengths, waveforms.shape[1])).long()
        with warnings.catch_warnings():
            # transformers' WavLM hands torch's multi-head attention a float position bias beside a
            # boolean padding mask; torch warns on every call that mixing the two is deprecated. The
            # outputs are right (the mask is applied), and a demo's log would be one warning per batch.
            warnings.filterwarnings("ignore", message="Support for mismatched key_padding_mask", category=UserWarning)
            out = self.model(waveforms, attention_mask=attention_mask, output_hidden_states=True)
        frames = self.model._get_feat_extract_output_lengths(lengths).long()
        return EncoderOutput(out.last_hidden_state, tuple(out.hidden_states), frames)


def _normalize_from_preprocessor(folder: Path, default: bool) -> bool:
    config = folder / "preprocessor_config.json"
    if config.is_file():
        return bool(json.loads(config.read_text()).get("do_normalize", default))
    return default


def build_wavlm(name: str, path: str | None = None, seed: int = 0, **overrides) -> WavLMEncoder:
    """WavLM ``name`` (a key of WAVLM_SIZES): random init (seeded) or the weights of ``path``, loaded strictly.

    ``path`` is a local Hugging Face folder (config.json + model.safetensors/pytorch_model.bin).
    Its config.json must describe ``name``'s architecture and its weights must fill every
    parameter with none left over (transformers' ``from_pretrained`` with our config and its
    loading report); otherwise a one-line CheckpointError names the folder and the first keys.
    ``overrides`` change WavLMSize fields for random init (tests use tiny sizes).
    """
    from transformers import WavLMModel  # heavy optional dependency: only when WavLM is built

    size = with_overrides(WAVLM_SIZES[name], overrides, name)
    if path is None:
        with seeded_init(seed):
            model = WavLMModel(wavlm_config(size))
        return WavLMEncoder(model, size.normalize_waveform).eval()
    folder = existing_path(path, name)
    if not folder.is_dir() or not (folder / "config.json").is_file():
        raise CheckpointError(f"{name}: {str(path)!r} is not a Hugging Face WavLM folder (config.json + weights)")
    expected = wavlm_config(size)
    _check_config(folder / "config.json", expected, name)
    try:
        # The architecture is ours (``config=``), not the folder's: a Large folder cannot become "Base+".
        model, info = WavLMModel.from_pretrained(
            str(folder), config=expected, local_files_only=True, output_loading_info=True
        )
    except (OSError, ValueError, RuntimeError) as error:
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise CheckpointError(f"{name}: cannot load WavLM weights from {str(path)!r}: {first[:300]}") from None
    problems = _loading_problems(info)
    if problems:
        raise CheckpointError(f"{folder}: weights do not match {name} (strict loading): {problems}")
    return WavLMEncoder(model, _normalize_from_preprocessor(folder, size.normalize_waveform)).eval()


# The config.json fields that decide the architecture (and so which weights exist).
_ARCHITECTURE_FIELDS = (
    "hidden_size",
    "num_hidden_layers",
    "num_attention_heads",
    "intermediate_size",
    "feat_extract_norm",
    "do_stable_layer_norm",
    "conv_dim",
    "num_conv_pos_embeddings",
)
_SHOW = 4  # keys named per kind of problem


def _check_config(path: Path, expected, name: str) -> None:
    try:
        theirs = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise CheckpointError(f"{path}: unreadable config ({error})") from None
    ours = expected.to_dict()
    differ = [k for k in _ARCHITECTURE_FIELDS if k in theirs and _plain(theirs[k]) != _plain(ours[k])]
    if differ:
        k = differ[0]
        raise CheckpointError(
            f"{path}: {k}={theirs[k]!r} but {name} expects {ours[k]!r} "
            f"({len(differ)} settings differ: {', '.join(differ)})"
        )


def _plain(value):
    return list(value) if isinstance(value, (list, tuple)) else value


def _loading_problems(info: dict) -> str:
    """'' when every weight was loaded and none was left over; else the first keys of each kind."""
    parts = []
    for kind in ("missing_keys", "unexpected_keys", "mismatched_keys"):
        keys = sorted(str(k if isinstance(k, str) else k[0]) for k in (info.get(kind) or ()))
        if keys:
            more = f", ... ({len(keys) - _SHOW} more)" if len(keys) > _SHOW else ""
            parts.append(f"{len(keys)} {kind.replace('_keys', '')}: " + ", ".join(keys[:_SHOW]) + more)
    return "; ".join(parts)


def build_wavlm_base_plus(path: str | None = None, seed: int = 0, **overrides) -> WavLMEncoder:
    return build_wavlm("wavlm_base_plus", path, seed, **overrides)


def build_wavlm_large(path: str | None = None, seed: int = 0, **overrides) -> WavLMEncoder:
    return build_wavlm("wavlm_large", path, seed, **overrides)
