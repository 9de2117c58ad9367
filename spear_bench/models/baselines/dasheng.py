"""Dasheng base / 0.6B / 1.2B through the PyPI ``dasheng`` package (0.0.9).

Facts (the package, dasheng/pretrained/pretrained.py and dasheng/train/models.py): input
16 kHz; 64-bin mel spectrogram (n_fft 512, hop 160, centred frames) in dB, batch-norm over
mel bins; 64 x 4 patches (all 64 bins x 4 frames), so one token per 40 ms (25 Hz); a ViT
of ``depth`` blocks on 10.08 s chunks (1008 frames), chunk outputs concatenated in time.
Sizes: base 768 x 12 (12 heads), 0.6B 1280 x 32 (16 heads), 1.2B 1536 x 40 (24 heads).

The package's ``dasheng_base(path)`` etc. download from Zenodo when no path is given, so
random init builds the ``Dasheng`` class directly with the same sizes. The forward is the
package's own (``Dasheng.forward(x, x_length)``); per-layer outputs are read with forward
hooks, so nothing of the model is reimplemented here. ``hidden_states`` are the block
input (patch embedding + positional embeddings) and each block's output, the last after
the final LayerNorm (equal to ``last_hidden_state``): depth + 1 entries at 25 Hz.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from spear_bench.errors import CheckpointError
from spear_bench.models.base import AudioEncoder, EncoderOutput
from spear_bench.models.baselines._common import existing_path, seeded_init, with_overrides

HOP = 640  # samples per token: 4 mel frames x 160
MIN_SAMPLES = HOP  # one full patch


@dataclass(frozen=True)
class DashengSize:
    embed_dim: int
    depth: int
    num_heads: int


DASHENG_SIZES = {
    "dasheng_base": DashengSize(768, 12, 12),
    "dasheng_0_6b": DashengSize(1280, 32, 16),
    "dasheng_1_2b": DashengSize(1536, 40, 24),
}


class DashengEncoder(AudioEncoder):
    """A ``dasheng.pretrained.pretrained.Dasheng`` behind the AudioEncoder interface (25 Hz)."""

    frame_rate = 25.0
    hidden_frame_rate = 25.0
    frame_centre_offset_ms = 15.0  # centred STFT frames at k*10 ms; token i covers frames 4i..4i+3

    def __init__(self, model):
        super().__init__()
        self.model = model
        self.hidden_size = model.embed_dim
        self.num_hidden_states = len(model.blocks) + 1
        # torch 2.13 (CPU) computes wrong BatchNorm2d input gradients for the strided view the
        # package feeds its init_bn (strides (F, 1, F, F) after the mel transpose); the forward
        # is right. A contiguous copy makes gradients (fine-tuning, saliency) right too.
        model.init_bn.register_forward_pre_hook(lambda _module, args: (args[0].contiguous(),) + tuple(args[1:]))

    def forward(self, waveforms: torch.Tensor, lengths: torch.Tensor) -> EncoderOutput:
        lengths = lengths.to(waveforms.device)
        if waveforms.shape[1] < MIN_SAMPLES:
            waveforms = torch.nn.functional.pad(waveforms, (0, MIN_SAMPLES - waveforms.shape[1]))
            lengths = lengths.clamp(min=MIN_SAMPLES)
        blocks = list(self.model.blocks)
        per_block: list[list[torch.Tensor]] = [[] for _ in range(len(blocks) + 1)]
        handles = [blocks[0].register_forward_pre_hook(lambda _m, args: per_block[0].append(args[0]))]
        for index, block in enumerate(blocks[:-1], start=1):
            handles.append(block.register_forward_hook(lambda _m, _a, out, i=index: per_block[i].append(out)))
        try:
            last = self.model(waveforms, x_length=lengths)  # chunks of 10.08 s, concatenated
        finally:
            for handle in handles:
                handle.remove()
        hidden = tuple(torch.cat(chunks, dim=1) for chunks in per_block[:-1]) + (last,)
        frames = (lengths // HOP).clamp(min=1, max=last.shape[1])
        return EncoderOutput(last, hidden, frames)


def _dasheng_class():
    from dasheng.pretrained.pretrained import Dasheng  # heavy optional dependency: only when Dasheng is built

    return Dasheng


def build_dasheng(name: str, path: str | None = None, seed: int = 0, **overrides) -> DashengEncoder:
    """Dasheng ``name`` (a key of DASHENG_SIZES): random init (seeded) or the package's checkpoint format.

    ``path`` is a released ``.pt`` file (a dict with ``model`` (state dict) and ``config``),
    loaded as the package's ``from_pretrained`` does, with ``weights_only=True``.
    """
    size = with_overrides(DASHENG_SIZES[name], overrides, name)
    dasheng_class = _dasheng_class()
    if path is None:
        with seeded_init(seed):
            model = dasheng_class(embed_dim=size.embed_dim, depth=size.depth, num_heads=size.num_heads)
        return DashengEncoder(model).eval()
    file = existing_path(path, name)
    if not file.is_file():
        raise CheckpointError(f"{name}: {str(path)!r} is not a file (expected a Dasheng .pt checkpoint)")
    try:
        dump = torch.load(str(file), map_location="cpu", weights_only=True)
        config = {**dump["config"], "embed_dim": size.embed_dim, "depth": size.depth, "num_heads": size.num_heads}
        model = dasheng_class(**config)
        model.load_state_dict(dump["model"], strict=True)
    except Exception as error:  # noqa: BLE001 - whatever fails here, the checkpoint is unusable
        raise CheckpointError(f"{name}: cannot load Dasheng checkpoint {str(path)!r}: {error}") from error
    return DashengEncoder(model).eval()


def build_dasheng_base(path: str | None = None, seed: int = 0, **overrides) -> DashengEncoder:
    return build_dasheng("dasheng_base", path, seed, **overrides)


def build_dasheng_0_6b(path: str | None = None, seed: int = 0, **overrides) -> DashengEncoder:
    return build_dasheng("dasheng_0_6b", path, seed, **overrides)


def build_dasheng_1_2b(path: str | None = None, seed: int = 0, **overrides) -> DashengEncoder:
    return build_dasheng("dasheng_1_2b", path, seed, **overrides)
