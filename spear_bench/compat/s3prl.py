"""Make s3prl 0.4.18 import and run beside torch 2.13 / torchaudio 2.11 / transformers 5.

s3prl was written for torchaudio < 2.2 and torch < 2.6. What breaks, and the shim for each
(applied at runtime by :func:`apply_s3prl_compat`; nothing in site-packages is edited):

- ``torchaudio.set_audio_backend`` / ``get_audio_backend`` were removed (2.2 / 2.9);
  s3prl calls ``set_audio_backend("sox_io")`` at import time in several modules
  (``s3prl.hub`` fails on it). Shim: no-ops; the backend is soundfile.
- ``torchaudio.sox_effects`` was removed (2.9); s3prl's datasets apply sox effect chains
  (``channels``, ``rate``, ``norm``, ``gain``, ``trim`` ...). Shim: the same two functions,
  run by the ``sox`` program (Debian ``sox``) on a temporary float WAV, so every sox effect
  behaves as sox defines it.
- ``torchaudio.load`` / ``save`` / ``info`` now need torchcodec (FFmpeg), absent here.
  Shim (only when torchcodec cannot be imported): soundfile-backed functions with the
  old signatures (``info`` returns an object with sample_rate, num_frames, num_channels,
  bits_per_sample, encoding).
- torch >= 2.6 loads checkpoints with ``weights_only=True``; s3prl's checkpoints (and its
  runner's) pickle argparse Namespaces and configs. Shim: ``torch.load`` calls made from
  inside the ``s3prl`` package default to ``weights_only=False`` (they load the files a
  user pointed s3prl at); every other caller keeps torch's safe default.
- huggingface_hub 1.x removed ``HfFolder`` and ``Repository``; s3prl's legacy runner
  (``s3prl.run_downstream`` / ``s3prl.downstream.runner``) imports both at module level
  and uses them only to push results to the Hub (``--push_to_hf_hub``). Shim: ``HfFolder``
  with ``get_token`` / ``save_token`` / ``delete_token`` over the current API, and a
  ``Repository`` that raises a one-line error if pushing is attempted.
- transformers 5: the only s3prl code using it (``hf_wav2vec2`` / ``hf_hubert`` upstreams)
  imports ``Wav2Vec2Model``, ``HubertModel``, ``Wav2Vec2FeatureExtractor``, which still
  exist with the same call signature; no shim is needed (tests/test_upstreams_compat.py
  runs s3prl's ``hf_wav2vec2_custom`` on a local random model to keep it that way).

- pandas 2 removed ``Series.iteritems``; s3prl's corpus base class (Fluent Speech Commands,
  SNIPS ...) iterates rows with it. Shim: ``Series.iteritems = Series.items`` (the same
  generator under its new name).
- Offline: s3prl's SUPERB recipes fetch small metadata files at run time (g2p lexicon,
  VoxCeleb1 split list); :func:`s3prl_local_files` points them at the corpus's own copies.

``s3prl.problem`` / ``s3prl.metric`` import ``editdistance``: a pinned dependency, no shim.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import types
from dataclasses import dataclass
from pathlib import Path

import huggingface_hub
import pandas
import soundfile
import torch

import spear_bench  # noqa: F401  (installs the torchaudio import hook before torchaudio loads)
from spear_bench.compat.torch_load import trust_torch_load_from
from spear_bench.errors import AudioError, SpearBenchError

_APPLIED: list[str] = []


# ----------------------------------------------------------------------------- audio backends


def _set_audio_backend(backend=None) -> None:
    """Removed from torchaudio; s3prl calls it at import time. The backend is soundfile."""


def _get_audio_backend() -> str:
    return "soundfile"


@dataclass(frozen=True)
class AudioMetaData:
    sample_rate: int
    num_frames: int
    num_channels: int
    bits_per_sample: int
    encoding: str


_SUBTYPE_BITS = {"PCM_16": 16, "PCM_24": 24, "PCM_32": 32, "PCM_U8": 8, "PCM_S8": 8, "FLOAT": 32, "DOUBLE": 64}


def _info(uri, format=None, buffer_size: int = 4096, backend=None) -> AudioMetaData:
    meta = soundfile.info(str(uri) if isinstance(uri, Path) else uri)
    encoding = (
        "PCM_F"
        if meta.subtype in ("FLOAT", "DOUBLE")
        else ("PCM_S" if meta.subtype.startswith("PCM") else meta.subtype)
    )
    return AudioMetaData(meta.samplerate, meta.frames, meta.channels, _SUBTYPE_BITS.get(meta.subtype, 0), encoding)


def _load(
    uri,
    frame_offset: int = 0,
    num_frames: int = -1,
    normalize: bool = True,
    channels_first: bool = True,
    format=None,
    buffer_size: int = 4096,
    backend=None,
):
    data, sample_rate = soundfile.read(
        str(uri) if isinstance(uri, Path) else uri,
        start=frame_offset,
        frames=num_frames,
        dtype="float32",
        always_2d=True,
    )
    wave = torch.from_numpy(data)  # (frames, channels)
    return (wave.T.contiguous() if channels_first else wave), sample_rate


def _save(
    uri,
    src: torch.Tensor,
    sample_rate: int,
    channels_first: bool = True,
    format=None,
    encoding=None,
    bits_per_sample=None,
    buffer_size: int = 4096,
    backend=None,
    compression=None,
) -> None:
    wave = src.detach().cpu()
    if wave.ndim == 1:
        wave = wave[None]
    frames_by_channels = (wave.T if channels_first else wave).numpy()
    if bits_per_sample is None:  # old torchaudio: a float tensor is written as 32-bit float, integers as 16-bit PCM
        bits_per_sample = 32 if wave.is_floating_point() else 16
    subtype = {16: "PCM_16", 24: "PCM_24", 32: "FLOAT" if encoding in (None, "PCM_F") else "PCM_32", 8: "PCM_U8"}[
        bits_per_sample
    ]
    soundfile.write(str(uri), frames_by_channels, int(sample_rate), subtype=subtype)


# ----------------------------------------------------------------------------- sox effects


def _sox_binary() -> str:
    binary = shutil.which("sox")
    if binary is None:
        raise SpearBenchError(
            "torchaudio.sox_effects (s3prl compat) needs the 'sox' program: install Debian/Ubuntu package 'sox'"
        )
    return binary


def _run_sox(input_args: list[str], effects) -> tuple[torch.Tensor, int]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.wav"
        command = [_sox_binary(), "-q", *input_args, "-e", "floating-point", "-b", "32", str(out)]
        command += [str(token) for effect in effects for token in effect]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            raise AudioError(f"sox effects {list(effects)} failed: {done.stderr.strip() or done.returncode}")
        data, sample_rate = soundfile.read(str(out), dtype="float32", always_2d=True)
    return torch.from_numpy(data).T.contiguous(), sample_rate


def apply_effects_tensor(
    tensor: torch.Tensor, sample_rate: int, effects, channels_first: bool = True
) -> tuple[torch.Tensor, int]:
    """torchaudio's removed ``sox_effects.apply_effects_tensor``: (C, S) float -> (C', S'), rate'."""
    wave = tensor.detach().cpu().float()
    wave = wave if channels_first else wave.T
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "in.wav"
        soundfile.write(str(source), wave.T.numpy(), int(sample_rate), subtype="FLOAT")
        result, rate = _run_sox([str(source)], effects)
    return (result if channels_first else result.T), rate


def apply_effects_file(
    path, effects, normalize: bool = True, channels_first: bool = True, format=None
) -> tuple[torch.Tensor, int]:
    """torchaudio's removed ``sox_effects.apply_effects_file``."""
    if not Path(path).is_file():
        raise AudioError(f"audio file {str(path)!r} does not exist")
    result, rate = _run_sox((["-t", format] if format else []) + [str(path)], effects)
    return (result if channels_first else result.T), rate


def _sox_effects_module() -> types.ModuleType:
    module = types.ModuleType(
        "torchaudio.sox_effects", "spear-bench stand-in for torchaudio.sox_effects (runs the sox program)"
    )
    module.apply_effects_tensor = apply_effects_tensor
    module.apply_effects_file = apply_effects_file
    module.effect_names = lambda: []
    module.init_sox_effects = lambda: None
    module.shutdown_sox_effects = lambda: None
    return module


# ----------------------------------------------------------------------------- torch.load


# One wrapper for every library that reloads its own pickled checkpoints: compat.torch_load.trust_torch_load_from.


# ----------------------------------------------------------------------------- huggingface_hub


class HfFolder:
    """huggingface_hub < 1.0's token helper, over the current functions."""

    @staticmethod
    def get_token():
        return huggingface_hub.get_token()

    @staticmethod
    def save_token(token: str) -> None:
        huggingface_hub.login(token=token)

    @staticmethod
    def delete_token() -> None:
        huggingface_hub.logout()


class Repository:
    """huggingface_hub < 1.0's git-based Repository: gone; s3prl uses it only for --push_to_hf_hub."""

    def __init__(self, *args, **kwargs):
        raise SpearBenchError(
            "s3prl's --push_to_hf_hub needs huggingface_hub.Repository, removed in huggingface_hub 1.0; "
            "upload the result folder with `hf upload` instead"
        )


# ----------------------------------------------------------------------------- apply


def _torchcodec_available() -> bool:
    try:
        import torchcodec  # noqa: F401
    except Exception:  # noqa: BLE001 - missing or unloadable (no FFmpeg) alike
        return False
    return True


def apply_s3prl_compat() -> list[str]:
    """Install the shims (idempotent). Returns the names of the shims in place."""
    if _APPLIED:
        return list(_APPLIED)
    import torchaudio  # only when the shims are applied (SUPERB), after spear_bench's torchaudio hook

    if not hasattr(torchaudio, "set_audio_backend"):
        torchaudio.set_audio_backend = _set_audio_backend
        torchaudio.get_audio_backend = _get_audio_backend
        torchaudio.list_audio_backends = lambda: ["soundfile"]
        _APPLIED.append("set_audio_backend")
    try:
        import torchaudio.sox_effects  # noqa: F401
    except ImportError:
        module = _sox_effects_module()
        sys.modules["torchaudio.sox_effects"] = module
        torchaudio.sox_effects = module
        _APPLIED.append("sox_effects")
    if not _torchcodec_available():
        torchaudio.load, torchaudio.save, torchaudio.info = _load, _save, _info
        _APPLIED.append("soundfile_io")
    if not hasattr(huggingface_hub, "HfFolder"):
        huggingface_hub.HfFolder = HfFolder
        _APPLIED.append("hf_folder")
    if not hasattr(huggingface_hub, "Repository"):
        huggingface_hub.Repository = Repository
        _APPLIED.append("hf_repository")
    if not hasattr(pandas.Series, "iteritems"):
        pandas.Series.iteritems = pandas.Series.items
        _APPLIED.append("pandas_iteritems")
    if "torch_load_weights_only" not in _APPLIED:
        trust_torch_load_from("s3prl")  # s3prl's own checkpoints pickle configs (trusted local files)
        _APPLIED.append("torch_load_weights_only")
    return list(_APPLIED)
