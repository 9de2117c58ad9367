"""The demo suite's HEAR task folders, generated in hearpreprocess's layout.

``task_metadata.json``, ``labelvocabulary.csv``, ``<split>.json``, ``16000/<split>/*.wav``; clips
padded/trimmed to the task's ``sample_duration`` as hearpreprocess does:

- ``demo_words``: 6 spoken words x 10 espeak-ng voices, multiclass, train/valid/test;
- ``demo_env``: mixtures of 1-3 of 4 synthetic sound types, multilabel, 3 folds;
- ``demo_events``: 3 s scenes with 2-3 timed events (onset/offset labels), frame level;
- ``demo_pitch``: harmonic tones over two octaves (MIDI 48-71), pitch/chroma accuracy.
"""

from __future__ import annotations

import copy
import csv
import json
import random
from pathlib import Path

import torch

from spear_bench.audio import SAMPLE_RATE
from spear_bench.audio.synth import VOICES, Speaker, Utterance, chirp, clicks, noise, place, tone, write_wav
from spear_bench.demo.common import WORDS, fit, hex_id
from spear_bench.task_registry import HearTaskSpec, demo_suite

ENV_SOUNDS = ("tone", "noise", "chirp", "clicks")
EVENT_SOUNDS = ("beep", "sweep", "knock", "hiss")


def demo_probe_grid(task: str) -> dict:
    """The demo's cap on a HEAR task's probe schedule (``hear_probe_grid`` in tasks/demo.yaml).

    It is written into the task's ``task_metadata.json`` as heareval's
    ``evaluation_params.task_specific_param_grid`` (the way heareval's own MAESTRO task
    changes its grid), so the runner applies it exactly as for a real task with one.
    """
    return copy.deepcopy(dict(demo_suite().hear_probe_grid.get(task) or {}))  # the registry's suite is shared


def write_hear_task(
    folder: Path,
    spec: HearTaskSpec,
    labels: list[str],
    splits: dict[str, dict[str, tuple[torch.Tensor, object]]],
    extra_metadata: dict | None = None,
) -> None:
    """splits: split -> file -> (waveform, labels list or events list)."""
    folder.mkdir(parents=True, exist_ok=True)
    grid = demo_probe_grid(spec.name)
    if grid:
        extra_metadata = {"evaluation_params": {"task_specific_param_grid": grid}, **(extra_metadata or {})}
    metadata = {
        "task_name": spec.name,
        "version": "v1",
        "embedding_type": "event" if spec.level == "timestamp" else "scene",
        "prediction_type": spec.prediction_type,
        "split_mode": spec.split_mode,
        "sample_duration": spec.sample_duration,
        "evaluation": list(spec.metrics),
        "download_urls": [],
        "default_mode": "full",
        "mode": "full",
        "splits": list(splits),
        **({"nfolds": spec.folds} if spec.folds else {}),
        **(extra_metadata or {}),
    }
    (folder / "task_metadata.json").write_text(json.dumps(metadata, indent=4))
    with (folder / "labelvocabulary.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["idx", "label"])
        for i, label in enumerate(labels):
            writer.writerow([i, label])
    for split, items in splits.items():
        (folder / f"{split}.json").write_text(json.dumps({file: value for file, (_, value) in items.items()}, indent=1))
        for file, (wave, _) in items.items():
            write_wav(folder / str(SAMPLE_RATE) / split / file, fit(wave, spec.sample_duration))


WORDS_VOICES = {"train": VOICES[:6], "valid": VOICES[6:8], "test": VOICES[8:10]}


def _word_utterance(word: str, voice: str, v_i: int) -> Utterance:
    return Utterance(word, voice, speed=150 + 10 * (v_i % 3), pitch=40 + 5 * (v_i % 4))


def make_demo_words(folder: Path, spec: HearTaskSpec, speaker: Speaker) -> None:
    splits = {}
    for split, voices in WORDS_VOICES.items():
        items = {}
        for v_i, voice in enumerate(voices):
            for word in WORDS:
                items[f"{word}_{hex_id(voice, word)}.wav"] = (speaker(_word_utterance(word, voice, v_i)), [word])
        splits[split] = items
    write_hear_task(folder, spec, list(WORDS), splits)


def _env_sound(kind: str, duration: float, seed: int) -> torch.Tensor:
    rng = random.Random(seed)
    if kind == "tone":
        return tone(rng.uniform(300, 1200), duration, amplitude=0.25, harmonics=rng.randint(1, 3))
    if kind == "noise":
        return noise(duration, seed, amplitude=0.08, color=rng.choice(["white", "pink", "brown"]))
    if kind == "chirp":
        return chirp(rng.uniform(200, 600), rng.uniform(1500, 4000), duration, amplitude=0.25)
    return clicks(rng.uniform(4, 12), duration, seed, amplitude=0.4)


def make_demo_env(folder: Path, spec: HearTaskSpec) -> None:
    rng = random.Random(1234)
    splits = {}
    for fold in range(spec.folds):
        items = {}
        for i in range(16):
            kinds = sorted(rng.sample(ENV_SOUNDS, rng.randint(1, 3)), key=ENV_SOUNDS.index)
            seed = 1000 * fold + i
            parts = []
            for k, kind in enumerate(kinds):
                length = rng.uniform(0.5, spec.sample_duration)
                onset = rng.uniform(0, spec.sample_duration - length)
                parts.append((onset, _env_sound(kind, length, seed * 10 + k)))
            items[f"env_{fold}_{i:03d}.wav"] = (place(parts, spec.sample_duration), kinds)
        splits[f"fold{fold:02d}"] = items
    write_hear_task(folder, spec, list(ENV_SOUNDS), splits)


def _event_sound(kind: str, duration: float, seed: int) -> torch.Tensor:
    if kind == "beep":
        return tone(1000.0, duration, amplitude=0.3)
    if kind == "sweep":
        return chirp(300.0, 3000.0, duration, amplitude=0.3)
    if kind == "knock":
        return clicks(8.0, duration, seed, amplitude=0.5)
    return noise(duration, seed, amplitude=0.1, color="pink")


def make_demo_events(folder: Path, spec: HearTaskSpec) -> None:
    rng = random.Random(5678)
    counts = {"train": 12, "valid": 6, "test": 6}
    splits = {}
    for split, count in counts.items():
        items = {}
        for i in range(count):
            events, parts = [], []
            cursor = rng.uniform(0.1, 0.4)
            for _ in range(rng.randint(2, 3)):
                kind = rng.choice(EVENT_SOUNDS)
                length = rng.uniform(0.3, 0.8)
                if cursor + length > spec.sample_duration - 0.05:
                    break
                parts.append((cursor, _event_sound(kind, length, rng.randint(0, 10**6))))
                events.append(
                    {"label": kind, "start": round(cursor * 1000.0, 3), "end": round((cursor + length) * 1000.0, 3)}
                )
                cursor += length + rng.uniform(0.1, 0.5)
            background = noise(spec.sample_duration, 99 + i, amplitude=0.005)
            items[f"scene_{split}_{i:03d}.wav"] = (place(parts, spec.sample_duration) + background, events)
        splits[split] = items
    write_hear_task(folder, spec, list(EVENT_SOUNDS), splits)


def make_demo_pitch(folder: Path, spec: HearTaskSpec) -> None:
    pitches = list(range(48, 72))
    takes = {"train": (0, 1, 2), "valid": (3,), "test": (4,)}
    splits = {}
    for split, variants in takes.items():
        items = {}
        for midi in pitches:
            freq = 440.0 * 2 ** ((midi - 69) / 12)
            for v in variants:
                wave = tone(freq, spec.sample_duration, amplitude=0.15 + 0.05 * v, harmonics=1 + v)
                items[f"pitch_{midi}_{v}.wav"] = (wave, [str(midi)])
        splits[split] = items
    write_hear_task(folder, spec, [str(p) for p in pitches], splits)


HEAR_MAKERS = {
    "demo_words": make_demo_words,
    "demo_env": make_demo_env,
    "demo_events": make_demo_events,
    "demo_pitch": make_demo_pitch,
}


def utterances() -> list[Utterance]:
    """The espeak-ng utterances of the HEAR folders (synthesised in the one parallel pass)."""
    return [_word_utterance(w, v, i) for voices in WORDS_VOICES.values() for i, v in enumerate(voices) for w in WORDS]
