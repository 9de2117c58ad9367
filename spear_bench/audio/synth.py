"""Generated audio for demos and tests: espeak-ng speech and deterministic synthetic sounds.

No corpus can be downloaded on the project's machines, so every demo and test dataset is
made from these. Everything is deterministic: espeak-ng is, and the sounds take a seed.
"""

from __future__ import annotations

import functools
import math
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from spear_bench.atomic_io import atomic_path
from spear_bench.audio.io import SAMPLE_RATE, load_audio
from spear_bench.errors import AudioError, SpearBenchError

# espeak-ng voice variants that sound clearly different; used as "speakers".
VOICES = (
    "en",
    "en+m3",
    "en+f2",
    "en+m7",
    "en+f4",
    "en-us",
    "en-us+f3",
    "en-us+m2",
    "en-gb-x-rp",
    "en-gb-x-rp+f5",
    "en-029",
    "en-029+m4",
    "en-gb-scotland",
    "en-gb-scotland+f1",
)


def _espeak() -> str:
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise SpearBenchError("espeak-ng not found: install the Debian package espeak-ng (make demo / make test do it)")
    return exe


@functools.lru_cache(maxsize=1)
def _known_voices() -> tuple[frozenset, frozenset]:
    """Language names and variant names espeak-ng knows (it silently falls back on unknown ones)."""

    def names(listing: str) -> set:
        out = set()
        for line in listing.splitlines()[1:]:
            fields = line.split()
            if len(fields) >= 5:
                out.update({fields[1].lower(), fields[4].split("/")[-1].lower()})
        return out

    run = lambda arg: subprocess.run([_espeak(), arg], capture_output=True, text=True).stdout  # noqa: E731
    return frozenset(names(run("--voices"))), frozenset(names(run("--voices=variant")))


def speak(text: str, voice: str = "en", speed: int = 160, pitch: int = 50) -> torch.Tensor:
    """Speak ``text`` with espeak-ng (voice ``language[+variant]``); returns float32 (S,) at 16 kHz."""
    languages, variants = _known_voices()
    language, _, variant = voice.lower().partition("+")
    if language not in languages or (variant and variant not in variants):
        raise AudioError(f"espeak-ng has no voice {voice!r} (see `espeak-ng --voices` and `--voices=variant`)")
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "speech.wav"
        cmd = [_espeak(), "-v", voice, "-s", str(speed), "-p", str(pitch), "-w", str(wav), text]
        result = subprocess.run(cmd, capture_output=True, text=True)
        if result.returncode != 0 or not wav.exists():
            raise AudioError(f"espeak-ng failed for voice {voice!r}: {result.stderr.strip() or result.returncode}")
        return load_audio(wav)


def write_wav(path: str | Path, wave: torch.Tensor, sample_rate: int = SAMPLE_RATE) -> Path:
    """Write a mono waveform as 16-bit PCM (WAV or FLAC by suffix), atomically (it appears whole)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = np.clip(torch.as_tensor(wave).detach().cpu().numpy().astype(np.float32), -1.0, 1.0)
    with atomic_path(path, suffix=path.suffix) as tmp:  # soundfile picks the format by suffix
        sf.write(str(tmp), data, sample_rate, subtype="PCM_16")
    return path


def _time(duration: float, sample_rate: int) -> torch.Tensor:
    return torch.arange(int(round(duration * sample_rate)), dtype=torch.float64) / sample_rate


def _fade(wave: torch.Tensor, sample_rate: int, fade: float = 0.01) -> torch.Tensor:
    n = min(int(fade * sample_rate), wave.numel() // 2)
    if n > 0:
        ramp = torch.linspace(0.0, 1.0, n, dtype=wave.dtype)
        wave = wave.clone()
        wave[:n] *= ramp
        wave[-n:] *= ramp.flip(0)
    return wave


def tone(
    freq: float, duration: float, amplitude: float = 0.3, sample_rate: int = SAMPLE_RATE, harmonics: int = 1
) -> torch.Tensor:
    """A (harmonic) tone with short fades."""
    t = _time(duration, sample_rate)
    wave = sum(torch.sin(2 * math.pi * freq * k * t) / k for k in range(1, harmonics + 1))
    wave = wave / max(1.0, float(sum(1 / k for k in range(1, harmonics + 1))))
    return _fade((amplitude * wave).float(), sample_rate)


def noise(
    duration: float, seed: int, amplitude: float = 0.1, color: str = "white", sample_rate: int = SAMPLE_RATE
) -> torch.Tensor:
    """White, pink (1/f) or brown (1/f^2) noise, normalised to ``amplitude`` RMS."""
    gen = torch.Generator().manual_seed(seed)
    n = int(round(duration * sample_rate))
    white = torch.randn(n, generator=gen, dtype=torch.float64)
    exponent = {"white": 0.0, "pink": 0.5, "brown": 1.0}.get(color)
    if exponent is None:
        raise SpearBenchError(f"unknown noise colour {color!r} (white, pink, brown)")
    if exponent:
        spectrum = torch.fft.rfft(white)
        freqs = torch.fft.rfftfreq(n, 1 / sample_rate)
        spectrum[1:] /= freqs[1:] ** exponent
        spectrum[0] = 0
        white = torch.fft.irfft(spectrum, n)
    wave = white / white.pow(2).mean().sqrt().clamp_min(1e-12) * amplitude
    return _fade(wave.float(), sample_rate)


def chirp(
    f0: float, f1: float, duration: float, amplitude: float = 0.3, sample_rate: int = SAMPLE_RATE
) -> torch.Tensor:
    """A linear frequency sweep from f0 to f1 Hz."""
    t = _time(duration, sample_rate)
    phase = 2 * math.pi * (f0 * t + (f1 - f0) / (2 * duration) * t**2)
    return _fade((amplitude * torch.sin(phase)).float(), sample_rate)


def clicks(
    rate: float, duration: float, seed: int, amplitude: float = 0.5, sample_rate: int = SAMPLE_RATE
) -> torch.Tensor:
    """Short decaying noise bursts at about ``rate`` per second with jittered onsets."""
    gen = torch.Generator().manual_seed(seed)
    n = int(round(duration * sample_rate))
    wave = torch.zeros(n, dtype=torch.float64)
    burst_len = int(0.02 * sample_rate)
    envelope = torch.exp(-torch.arange(burst_len, dtype=torch.float64) / (0.004 * sample_rate))
    period = sample_rate / rate
    position = float(torch.rand(1, generator=gen)) * period
    while position + burst_len < n:
        start = int(position)
        wave[start : start + burst_len] += envelope * torch.randn(burst_len, generator=gen, dtype=torch.float64)
        position += period * (0.5 + float(torch.rand(1, generator=gen)))
    return (amplitude * wave / wave.abs().max().clamp_min(1e-12)).float()


def place(events: list[tuple[float, torch.Tensor]], duration: float, sample_rate: int = SAMPLE_RATE) -> torch.Tensor:
    """Mix sounds into a clip of ``duration`` seconds, each starting at its onset (seconds)."""
    out = torch.zeros(int(round(duration * sample_rate)))
    for onset, sound in events:
        start = int(round(onset * sample_rate))
        end = min(out.numel(), start + sound.numel())
        if start < end:
            out[start:end] += sound[: end - start]
    return out


# Sentences the generated demo corpora say (speech tasks of the demo suites).
SENTENCES = (
    "the cat sat on the mat",
    "a bird can fly over the hill",
    "we went to the market today",
    "the red car is very fast",
    "she reads a book at night",
    "open the window please",
)


@dataclass(frozen=True)
class Utterance:
    text: str
    voice: str
    speed: int = 160
    pitch: int = 50


class Speaker:
    """espeak-ng synthesis, many utterances in parallel (subprocesses), each text said once."""

    def __init__(self, workers: int = 4):
        self.workers = workers  # subprocesses spend much of their time starting: more than the cores
        self.cache: dict[Utterance, torch.Tensor] = {}

    def say_all(self, utterances: list[Utterance]) -> None:
        todo = sorted({u for u in utterances if u not in self.cache}, key=lambda u: (u.text, u.voice, u.speed, u.pitch))
        with ThreadPoolExecutor(self.workers) as pool:
            for u, wave in zip(todo, pool.map(lambda u: speak(u.text, u.voice, u.speed, u.pitch), todo)):
                self.cache[u] = wave

    def __call__(self, u: Utterance) -> torch.Tensor:
        if u not in self.cache:
            self.say_all([u])
        return self.cache[u]
