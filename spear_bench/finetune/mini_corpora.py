"""Generated miniatures of LibriSpeech and AudioSet, in the real datasets' layouts.

No corpus can be downloaded here, so the demos and tests fine-tune on these:

- :func:`make_mini_librispeech`: espeak-ng sentences (voices act as speakers) written as
  16-bit FLAC in LibriSpeech's ``<split>/<spk>/<chapter>/<spk>-<chapter>-<utt>.flac`` layout
  with ``<spk>-<chapter>.trans.txt`` transcripts, read back by the real reader.
- :func:`make_mini_audioset`: synthetic multi-label clips (each a mix of 1 to 3 of
  :data:`DEMO_SOUND_CLASSES`, at random onsets and with jittered parameters), an
  AudioSet-style ``class_labels_indices.csv`` for those classes (mids ``/demo/...``, not
  AudioSet's), and segment CSVs: ``balanced_train_segments.csv``, ``eval_segments.csv`` and
  a skewed ``unbalanced_train_segments.csv`` (exercises the weighted sampler).

Everything is deterministic given the seed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from spear_bench.audio.synth import VOICES, chirp, clicks, noise, place, speak, tone, write_wav
from spear_bench.finetune.audioset import Segment, write_ontology, write_segments

DEMO_SENTENCES = (
    "THE CAT SAT ON THE MAT",
    "A DOG RAN IN THE PARK",
    "SHE READ A BOOK AT NIGHT",
    "WE WALKED TO THE OLD MILL",
    "THE SUN IS WARM TODAY",
    "HE BOUGHT TWO RED APPLES",
    "RAIN FELL ON THE ROOF",
    "THEY SANG A HAPPY SONG",
    "THE BOAT SAILED AT DAWN",
    "MY FRIEND LIKES GREEN TEA",
    "THE CHILD DREW A BIG TREE",
    "BIRDS FLY OVER THE HILL",
)


def _write_librispeech_split(root: Path, split: str, sentences: list[str], voices: list[str], speed: int) -> int:
    chapters: dict[tuple[int, int], list[tuple[str, str]]] = {}
    for i, text in enumerate(sentences):
        voice_index = i % len(voices)
        speaker, chapter = 100 + voice_index, 1000 + voice_index
        utt = f"{speaker}-{chapter}-{len(chapters.get((speaker, chapter), [])):04d}"
        folder = root / split / str(speaker) / str(chapter)
        write_wav(folder / f"{utt}.flac", speak(text.lower(), voice=voices[voice_index], speed=speed))
        chapters.setdefault((speaker, chapter), []).append((utt, text))
    for (speaker, chapter), lines in chapters.items():
        transcript = root / split / str(speaker) / str(chapter) / f"{speaker}-{chapter}.trans.txt"
        transcript.write_text("".join(f"{utt} {text}\n" for utt, text in lines))
    return len(sentences)


def make_mini_librispeech(
    root: str | Path,
    num_train: int = 6,
    num_eval: int = 2,
    train_voices: tuple[str, ...] = ("en", "en-us"),
    speed: int = 170,
) -> Path:
    """Write a tiny LibriSpeech under ``root``: train-clean-100 with ``num_train`` utterances,
    and dev-clean / test-clean / test-other with ``num_eval`` each (other voices for *-other)."""
    root = Path(root)
    sentences = list(DEMO_SENTENCES)
    if num_train > len(sentences):
        raise ValueError(f"at most {len(sentences)} demo sentences")
    _write_librispeech_split(root, "train-clean-100", sentences[:num_train], list(train_voices), speed)
    held_out = sentences[num_train:] or sentences
    eval_sentences = [held_out[i % len(held_out)] for i in range(num_eval)]
    _write_librispeech_split(root, "dev-clean", eval_sentences, list(train_voices), speed)
    _write_librispeech_split(root, "test-clean", eval_sentences, list(train_voices), speed)
    other_voices = [v for v in VOICES if v not in train_voices][:2]
    _write_librispeech_split(root, "test-other", eval_sentences, other_voices, speed)
    return root


@dataclass(frozen=True)
class DemoSoundClass:
    mid: str
    name: str
    make: Callable[[float, random.Random], torch.Tensor]  # (duration s, rng) -> waveform


DEMO_SOUND_CLASSES: tuple[DemoSoundClass, ...] = (
    DemoSoundClass("/demo/low_tone", "Low tone", lambda d, r: tone(220 * r.uniform(0.95, 1.05), d, 0.25, harmonics=3)),
    DemoSoundClass("/demo/high_tone", "High tone", lambda d, r: tone(1760 * r.uniform(0.95, 1.05), d, 0.2)),
    DemoSoundClass("/demo/rising_chirp", "Rising chirp", lambda d, r: chirp(300, 3000 * r.uniform(0.9, 1.1), d, 0.25)),
    DemoSoundClass(
        "/demo/falling_chirp", "Falling chirp", lambda d, r: chirp(4000 * r.uniform(0.9, 1.1), 500, d, 0.25)
    ),
    DemoSoundClass("/demo/white_noise", "White noise", lambda d, r: noise(d, r.randrange(2**31), 0.05, "white")),
    DemoSoundClass("/demo/brown_noise", "Brown noise", lambda d, r: noise(d, r.randrange(2**31), 0.1, "brown")),
    DemoSoundClass("/demo/clicks", "Clicks", lambda d, r: clicks(8 * r.uniform(0.8, 1.2), d, r.randrange(2**31), 0.4)),
)


def _demo_clip(classes: list[int], duration: float, rng: random.Random) -> torch.Tensor:
    events = []
    for c in classes:
        length = rng.uniform(0.4, 0.8) * duration
        onset = rng.uniform(0, duration - length)
        events.append((onset, DEMO_SOUND_CLASSES[c].make(length, rng)))
    return place(events, duration)


def _write_clips(
    root: Path, prefix: str, count: int, class_weights: list[float], duration: float, rng: random.Random
) -> list[Segment]:
    segments = []
    num_classes = len(DEMO_SOUND_CLASSES)
    for i in range(count):
        how_many = rng.choice((1, 1, 2, 2, 3))
        chosen: list[int] = []
        while len(chosen) < how_many:
            c = rng.choices(range(num_classes), weights=class_weights)[0]
            if c not in chosen:
                chosen.append(c)
        chosen.sort()
        ytid = f"{prefix[:3]:x<3}{i:08d}"  # 11 characters, like a YouTube id
        write_wav(root / "audio" / f"{ytid}.wav", _demo_clip(chosen, duration, rng))
        segments.append(Segment(ytid, 0.0, duration, tuple(DEMO_SOUND_CLASSES[c].mid for c in chosen)))
    return segments


def make_mini_audioset(
    root: str | Path,
    num_train: int = 48,
    num_eval: int = 24,
    num_unbalanced: int = 0,
    duration: float = 2.0,
    seed: int = 0,
) -> Path:
    """Write a tiny AudioSet under ``root``: ``audio/<YTID>.wav``, the segment CSVs and
    ``class_labels_indices.csv`` for :data:`DEMO_SOUND_CLASSES`."""
    root = Path(root)
    rng = random.Random(seed)
    uniform = [1.0] * len(DEMO_SOUND_CLASSES)
    write_ontology(
        root / "class_labels_indices.csv", [c.mid for c in DEMO_SOUND_CLASSES], [c.name for c in DEMO_SOUND_CLASSES]
    )
    write_segments(root / "balanced_train_segments.csv", _write_clips(root, "btr", num_train, uniform, duration, rng))
    write_segments(root / "eval_segments.csv", _write_clips(root, "evl", num_eval, uniform, duration, rng))
    if num_unbalanced:
        skewed = [2.0**-i for i in range(len(DEMO_SOUND_CLASSES))]  # class 0 common, the last rare
        write_segments(
            root / "unbalanced_train_segments.csv", _write_clips(root, "ubt", num_unbalanced, skewed, duration, rng)
        )
    return root
