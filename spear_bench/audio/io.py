"""Reading and validating audio: every file becomes a float32 mono 16 kHz tensor or an AudioError."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from spear_bench.errors import AudioError

SAMPLE_RATE = 16000
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3", ".opus", ".aiff", ".aif")


def validate_waveform(wave: torch.Tensor, name: str = "<waveform>", sample_rate: int | None = None) -> torch.Tensor:
    """Check a 1-D waveform: non-empty, finite, at 16 kHz when ``sample_rate`` is given. Returns it as float32."""
    if sample_rate is not None and sample_rate != SAMPLE_RATE:
        raise AudioError(f"{name}: sample rate {sample_rate} Hz, expected {SAMPLE_RATE} Hz (resample first)")
    if not torch.is_tensor(wave):
        wave = torch.as_tensor(np.asarray(wave))
    if wave.dim() != 1:
        raise AudioError(f"{name}: expected a 1-D waveform, got shape {tuple(wave.shape)}")
    if wave.numel() == 0:
        raise AudioError(f"{name}: empty audio (0 samples)")
    if not torch.is_floating_point(wave):
        raise AudioError(f"{name}: expected floating-point samples, got {wave.dtype}")
    finite = torch.isfinite(wave)
    if not bool(finite.all()):
        bad = int((~finite).sum())
        kind = "NaN" if bool(torch.isnan(wave).any()) else "Inf"
        raise AudioError(f"{name}: {bad} non-finite samples ({kind}) in audio")
    return wave.to(torch.float32)


def resample(wave: torch.Tensor, orig_sr: int, target_sr: int = SAMPLE_RATE) -> torch.Tensor:
    """Band-limited (windowed sinc) resampling, torchaudio's pure-Python implementation."""
    if orig_sr == target_sr:
        return wave
    import torchaudio.functional as F  # slow import (and through spear_bench.compat's hook): only to resample

    return F.resample(wave, orig_sr, target_sr)


def load_audio(path: str | Path, target_sr: int = SAMPLE_RATE) -> torch.Tensor:
    """Read WAV/FLAC/... with soundfile, mix down to mono, resample to ``target_sr``, validate.

    Returns a float32 tensor (S,). Raises AudioError with a one-line message naming the file.
    """
    path = Path(path)
    if not path.exists():
        raise AudioError(f"{path}: no such audio file")
    if path.is_dir():
        raise AudioError(f"{path}: is a directory, expected an audio file")
    if path.stat().st_size == 0:
        raise AudioError(f"{path}: empty file (0 bytes)")
    try:
        data, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as error:  # soundfile raises LibsndfileError / RuntimeError / TypeError
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise AudioError(f"{path}: unreadable or corrupt audio ({reason})") from error
    if data.shape[0] == 0:
        raise AudioError(f"{path}: empty audio (0 samples)")
    mono = data[:, 0] if data.shape[1] == 1 else data.mean(axis=1)  # no copy of a mono file (hours: GBs)
    wave = torch.from_numpy(np.ascontiguousarray(mono))
    wave = validate_waveform(wave, str(path))
    return resample(wave, int(sr), target_sr)


def collate_waveforms(waves: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Zero-pad 1-D waveforms into (B, S_max) with their lengths (B,)."""
    if not waves:
        raise AudioError("collate_waveforms: no waveforms given")
    lengths = torch.tensor([w.numel() for w in waves], dtype=torch.long)
    batch = torch.zeros(len(waves), int(lengths.max()), dtype=torch.float32)
    for i, w in enumerate(waves):
        batch[i, : w.numel()] = w
    return batch, lengths


def find_audio_files(paths: list[str | Path]) -> list[Path]:
    """Expand files and folders (recursively, sorted) into audio files; a missing path is an error."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out.extend(sorted(f for f in p.rglob("*") if f.suffix.lower() in AUDIO_SUFFIXES and f.is_file()))
        elif p.exists():
            out.append(p)
        else:
            raise AudioError(f"{p}: no such file or folder")
    return out
