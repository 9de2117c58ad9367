"""The demo suite's datasets, generated on the machine in the real HEAR and SUPERB formats.

Nothing can be downloaded here, so the demo makes its own small corpora, deterministically
(espeak-ng is deterministic; synthetic sounds take fixed seeds):

HEAR task folders (``task_metadata.json``, ``labelvocabulary.csv``, ``<split>.json``,
``16000/<split>/*.wav``), clips padded/trimmed to the task's ``sample_duration`` as
hearpreprocess does:

- ``demo_words``: 6 spoken words x 10 espeak-ng voices, multiclass, train/valid/test;
- ``demo_env``: mixtures of 1-3 of 4 synthetic sound types, multilabel, 3 folds;
- ``demo_events``: 3 s scenes with 2-3 timed events (onset/offset labels), frame level;
- ``demo_pitch``: harmonic tones over two octaves (MIDI 48-71), pitch/chroma accuracy.

SUPERB corpora in their original layouts, read by the same code as the real ones:

- ``speech_commands/`` (Speech Commands v0.01 + test set folder, _background_noise_);
- ``fluent_speech_commands_dataset/`` (Fluent Speech Commands csv + wavs);
- ``VoxCeleb1/`` (wav/id1xxxx/<video>/<n>.wav + iden_split.txt, voices as speakers);
- ``LibriSpeech/`` (train-clean-100, dev-clean, test-clean with .trans.txt, and a
  ``librispeech-lexicon.txt`` made with espeak-ng's IPA for phoneme recognition).

The corpora are small (about 9 minutes of audio in all) so that ``spear-bench demo`` runs
in minutes on 2 cores; every espeak-ng utterance of every corpus is synthesised in one
parallel pass, then the folders are written in parallel. The whole tree is built in a
temporary folder and renamed into place, with a stamp that names the generator version;
an existing complete tree is reused.
"""

from __future__ import annotations

import copy
import csv
import hashlib
import json
import random
import shutil
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import torch

from spear_bench.audio import SAMPLE_RATE
from spear_bench.audio.synth import VOICES, chirp, clicks, noise, place, speak, tone, write_wav
from spear_bench.paths import home
from spear_bench.task_registry import HearTaskSpec, demo_suite

GENERATOR_VERSION = "demo-data-v4"  # v4: the probe caps of tasks/demo.yaml (written into task_metadata.json)
STAMP = f".complete-{GENERATOR_VERSION}"

WORDS = ("yes", "no", "up", "down", "left", "right")
UNKNOWN_WORDS = ("bed", "cat")
ENV_SOUNDS = ("tone", "noise", "chirp", "clicks")
EVENT_SOUNDS = ("beep", "sweep", "knock", "hiss")


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


def fit(wave: torch.Tensor, seconds: float) -> torch.Tensor:
    """Pad with zeros or trim to exactly ``seconds`` (hearpreprocess's fixed-length clips)."""
    n = int(round(seconds * SAMPLE_RATE))
    return wave[:n] if wave.numel() >= n else torch.nn.functional.pad(wave, (0, n - wave.numel()))


def _hex_id(*parts) -> str:
    return hashlib.sha1("|".join(map(str, parts)).encode()).hexdigest()[:8]


# --- HEAR folders --------------------------------------------------------------------------------


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
                items[f"{word}_{_hex_id(voice, word)}.wav"] = (speaker(_word_utterance(word, voice, v_i)), [word])
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


# --- SUPERB corpora ------------------------------------------------------------------------------

SC_VOICES = (VOICES[:8], VOICES[10:13])  # (train pool: the last two are validation / testing, test set)


def make_speech_commands(root: Path, speaker: Speaker) -> None:
    """Speech Commands v0.01 layout: train pool with validation/testing lists + separate test set."""
    train_dir, test_dir = root / "speech_commands_v0.01", root / "speech_commands_test_set_v0.01"
    words = WORDS + UNKNOWN_WORDS
    pool_voices, test_voices = SC_VOICES
    utterances = [Utterance(w, v) for w in words for v in pool_voices + test_voices]
    speaker.say_all(utterances)
    validation, testing = [], []
    for w in words:
        for i, voice in enumerate(pool_voices):
            name = f"{w}/{_hex_id(voice)}_nohash_0.wav"
            write_wav(train_dir / name, fit(speaker(Utterance(w, voice)), 1.0))
            if i == len(pool_voices) - 2:
                validation.append(name)
            elif i == len(pool_voices) - 1:
                testing.append(name)
        for voice in test_voices:
            write_wav(test_dir / w / f"{_hex_id(voice, 'test')}_nohash_0.wav", fit(speaker(Utterance(w, voice)), 1.0))
    (train_dir / "validation_list.txt").write_text("\n".join(validation) + "\n")
    (train_dir / "testing_list.txt").write_text("\n".join(testing) + "\n")
    for i, color in enumerate(("white", "pink")):
        write_wav(
            train_dir / "_background_noise_" / f"{color}_noise.wav", noise(6.0, 700 + i, amplitude=0.05, color=color)
        )
    for i in range(4):  # the released test set carries its silence clips in _silence_/
        write_wav(
            test_dir / "_silence_" / f"silence_{i}_nohash_0.wav", noise(1.0, 800 + i, amplitude=0.01, color="pink")
        )


IC_INTENTS = (
    ("turn on the lights", "activate", "lights", "none"),
    ("turn off the lights", "deactivate", "lights", "none"),
    ("turn on the lights in the kitchen", "activate", "lights", "kitchen"),
    ("turn off the lights in the bedroom", "deactivate", "lights", "bedroom"),
    ("play the music", "activate", "music", "none"),
    ("stop the music", "deactivate", "music", "none"),
    ("turn the heat up", "increase", "heat", "none"),
    ("turn the heat down in the kitchen", "decrease", "heat", "kitchen"),
)


IC_VOICES = {"train": VOICES[:4], "valid": VOICES[6:8], "test": VOICES[8:10]}


def make_fluent_speech_commands(root: Path, speaker: Speaker) -> None:
    speaker.say_all([Utterance(t, v) for vs in IC_VOICES.values() for v in vs for t, *_ in IC_INTENTS])
    for split, voices in IC_VOICES.items():
        rows = []
        for voice in voices:
            spk = _hex_id(voice, "fsc")
            for text, action, obj, location in IC_INTENTS:
                path = f"wavs/speakers/{spk}/{_hex_id(voice, text)}.wav"
                write_wav(root / path, speaker(Utterance(text, voice)))
                rows.append([len(rows), path, spk, text, action, obj, location])
        (root / "data").mkdir(parents=True, exist_ok=True)
        with (root / "data" / f"{split}_data.csv").open("w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["", "path", "speakerId", "transcription", "action", "object", "location"])
            writer.writerows(rows)


SENTENCES = (
    "the cat sat on the mat",
    "a bird can fly over the hill",
    "we went to the market today",
    "the red car is very fast",
    "she reads a book at night",
    "open the window please",
)


def make_voxceleb1(root: Path, speaker: Speaker) -> None:
    voices = VOICES[:6]
    speaker.say_all([Utterance(s, v) for v in voices for s in SENTENCES])
    lines = []
    for s_i, voice in enumerate(voices):
        spk = f"id1{s_i:04d}"
        for u_i, sentence in enumerate(SENTENCES):
            video = _hex_id(voice, u_i // 4)[:8] + "abc"
            rel = f"{spk}/{video}/{u_i + 1:05d}.wav"
            write_wav(root / "wav" / rel, speaker(Utterance(sentence, voice)))
            split = 1 if u_i < len(SENTENCES) - 2 else (2 if u_i == len(SENTENCES) - 2 else 3)
            lines.append(f"{split} {rel}")
    (root / "iden_split.txt").write_text("\n".join(lines) + "\n")


ASR_WORDS = ("the", "cat", "dog", "sees", "a", "big", "small", "red", "bird", "runs", "home", "fast")


def _librispeech_jobs() -> list[tuple[str, str, int, int, str]]:
    """(split, voice, speaker id, utterance index, text) of every LibriSpeech utterance (fixed seed)."""
    rng = random.Random(4321)
    plan = {"train-clean-100": (VOICES[:6], 4), "dev-clean": (VOICES[8:10], 3), "test-clean": (VOICES[10:12], 3)}
    jobs = []
    for split, (voices, per_voice) in plan.items():
        for s_i, voice in enumerate(voices):
            for u_i in range(per_voice):
                text = " ".join(rng.choice(ASR_WORDS) for _ in range(rng.randint(3, 5)))
                jobs.append((split, voice, 100 + VOICES.index(voice), u_i, text))
    return jobs


def make_librispeech(root: Path, speaker: Speaker) -> None:
    jobs = _librispeech_jobs()
    speaker.say_all([Utterance(text, voice) for _, voice, _, _, text in jobs])
    transcripts: dict[Path, list[str]] = {}
    for split, voice, spk, u_i, text in jobs:
        chapter = 1000 + spk
        utt = f"{spk}-{chapter}-{u_i:04d}"
        folder = root / split / str(spk) / str(chapter)
        write_wav(folder / f"{utt}.flac", speaker(Utterance(text, voice)))
        transcripts.setdefault(folder / f"{spk}-{chapter}.trans.txt", []).append(f"{utt} {text.upper()}")
    for path, lines in transcripts.items():
        path.write_text("\n".join(lines) + "\n")
    # A word -> phones lexicon for phoneme recognition, from espeak-ng's IPA (stress marks dropped).
    lines = []
    for word in sorted({w.upper() for w in ASR_WORDS}):
        ipa = subprocess.run(
            ["espeak-ng", "-q", "--ipa", "--sep= ", word.lower()], capture_output=True, text=True, check=True
        ).stdout
        phones = [p.strip("ˈˌ") for p in ipa.split() if p.strip("ˈˌ")]
        lines.append(f"{word} {' '.join(phones)}")
    (root / "librispeech-lexicon.txt").write_text("\n".join(lines) + "\n")


# --- all of it -------------------------------------------------------------------------------------

HEAR_MAKERS = {
    "demo_words": make_demo_words,
    "demo_env": make_demo_env,
    "demo_events": make_demo_events,
    "demo_pitch": make_demo_pitch,
}
SUPERB_MAKERS = {
    "speech_commands": make_speech_commands,
    "fluent_speech_commands_dataset": make_fluent_speech_commands,
    "VoxCeleb1": make_voxceleb1,
    "LibriSpeech": make_librispeech,
}


def all_utterances() -> list[Utterance]:
    """Every espeak-ng utterance of the demo corpora, so that one parallel pass synthesises them all."""
    out = [_word_utterance(w, v, i) for voices in WORDS_VOICES.values() for i, v in enumerate(voices) for w in WORDS]
    out += [Utterance(w, v) for w in WORDS + UNKNOWN_WORDS for v in SC_VOICES[0] + SC_VOICES[1]]
    out += [Utterance(t, v) for vs in IC_VOICES.values() for v in vs for t, *_ in IC_INTENTS]
    out += [Utterance(s, v) for v in VOICES[:6] for s in SENTENCES]
    out += [Utterance(text, voice) for _, voice, _, _, text in _librispeech_jobs()]
    return out


def default_demo_root() -> Path:
    return home() / "work_dir" / "demo_data"


def demo_data_ready(root: Path) -> bool:
    return (Path(root) / STAMP).is_file()


def generate_demo_data(root: Path | None = None, force: bool = False, log=print, workers: int = 4) -> Path:
    """Generate every demo dataset under ``root`` (default ``work_dir/demo_data``); reuse a complete one."""
    root = Path(root) if root is not None else default_demo_root()
    if demo_data_ready(root) and not force:
        log(f"demo data: reusing {root}")
        return root
    start = time.perf_counter()
    tmp = root.with_name(root.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    speaker = Speaker(workers=max(4, workers))
    speaker.say_all(all_utterances())  # one parallel pass; the makers below only read the cache
    suite = demo_suite()
    jobs: dict[str, tuple] = {}  # output folder -> (maker, arguments, what to log)
    for spec in suite.tasks:
        if spec.kind == "hear":
            maker = HEAR_MAKERS[spec.name]
            args = (tmp / spec.folder, spec, speaker) if maker is make_demo_words else (tmp / spec.folder, spec)
            jobs[spec.folder] = (maker, args, f"{spec.name} (HEAR format) -> {root / spec.folder}")
        elif spec.layout.root not in jobs:
            layout = spec.layout.root
            jobs[layout] = (SUPERB_MAKERS[layout], (tmp / layout, speaker), f"{layout} layout -> {root / layout}")
    with ThreadPoolExecutor(workers) as pool:  # writing WAV/FLAC files and synthetic sounds overlap well
        futures = [(pool.submit(maker, *args), message) for maker, args, message in jobs.values()]
        for future, message in futures:
            future.result()
            log(f"demo data: {message}")
    (tmp / STAMP).write_text(
        json.dumps({"generator": GENERATOR_VERSION, "seconds": round(time.perf_counter() - start, 1)})
    )
    if root.exists():
        shutil.rmtree(root)
    tmp.rename(root)
    log(f"demo data: generated in {time.perf_counter() - start:.0f} s")
    return root
