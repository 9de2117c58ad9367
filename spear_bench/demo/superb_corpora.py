"""The demo suite's SUPERB corpora, in the layouts s3prl's own ``s3prl.problem`` recipes read.

(``tasks/demo_superb.yaml``; the demo suite's tour uses the first three):

- ``speech_commands/`` (Speech Commands v0.01 + test set folder, _background_noise_; speaker names
  chosen so that s3prl's hash split puts voices in its train and valid parts);
- ``fluent_speech_commands_dataset/`` (Fluent Speech Commands csv + wavs);
- ``VoxCeleb1/`` (dev/wav + test/wav: id1xxxx/<video>/<n>.wav, iden_split.txt, the trial list
  voxceleb1_test_v2.txt; voices as speakers);
- ``LibriSpeech/`` (train-clean-100, dev-clean, test-clean with .trans.txt, SPEAKERS.TXT, and the
  ``librispeech-lexicon.txt`` (CMU ARPAbet with stress) that s3prl's phoneme recognition reads);
- ``IEMOCAP_full_release/`` (5 sessions, acted emotions as espeak-ng speed/pitch, label files,
  and s3prl's per-fold split lists);
- ``SNIPS/`` (audio SNIPS: speaker names from the recipe's lists, made-up commands and slots);
- ``LibriMix/`` (two-speaker overlapped mixtures as kaldi data dirs, for diarization).

Each corpus is as small as its s3prl recipe allows: every split it reads is present, with a few
clips (the recipes' test sets score a handful of items; the demo's schedule trains a few steps).
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
import random
from pathlib import Path

from spear_bench.audio import SAMPLE_RATE
from spear_bench.audio.synth import SENTENCES, VOICES, Speaker, Utterance, noise, place, write_wav
from spear_bench.demo.common import UNKNOWN_WORDS, WORDS, fit, hex_id

SC_WORDS = WORDS[:3] + UNKNOWN_WORDS[:1]  # three of s3prl's ten keywords and one _unknown_ word
SC_POOL = ((VOICES[0], "train"), (VOICES[1], "train"), (VOICES[3], "valid"))
SC_TEST_VOICES = VOICES[10:11]


def _speech_commands_bucket(speaker: str) -> str:
    """Where s3prl's SpeechCommandsV1 (after the dataset's README) puts a speaker: hash of the name."""
    max_per_class = 2**27 - 1
    hashed = int(hashlib.sha1(speaker.encode("utf-8")).hexdigest(), 16)
    percentage = (hashed % (max_per_class + 1)) * (100.0 / max_per_class)
    return "valid" if percentage < 10 else ("test" if percentage < 20 else "train")


def _speaker_name(voice: str, bucket: str) -> str:
    """The first 8-hex-digit speaker name for ``voice`` that s3prl's hash split puts in ``bucket``."""
    for k in range(10_000):
        name = hex_id(voice, "gsc", k)
        if _speech_commands_bucket(name) == bucket:
            return name
    raise RuntimeError(f"no speaker name in bucket {bucket}")


def _speech_commands_utterances() -> list[Utterance]:
    return [Utterance(w, v) for w in SC_WORDS for v in [v for v, _ in SC_POOL] + list(SC_TEST_VOICES)]


def make_speech_commands(root: Path, speaker: Speaker) -> None:
    """Speech Commands v0.01 layout: train pool with validation/testing lists + separate test set.

    s3prl splits the pool by a hash of the speaker name (validation_list.txt is not read), so
    speaker names are picked to land 2 voices in its train split and 1 in its valid split; the
    list files name the same files, as in the released corpus (testing_list.txt: none).
    """
    train_dir, test_dir = root / "speech_commands_v0.01", root / "speech_commands_test_set_v0.01"
    validation = []
    for w in SC_WORDS:
        for voice, bucket in SC_POOL:
            rel = f"{w}/{_speaker_name(voice, bucket)}_nohash_0.wav"
            write_wav(train_dir / rel, fit(speaker(Utterance(w, voice)), 1.0))
            if bucket == "valid":
                validation.append(rel)
        for voice in SC_TEST_VOICES:
            write_wav(test_dir / w / f"{hex_id(voice, 'test')}_nohash_0.wav", fit(speaker(Utterance(w, voice)), 1.0))
    (train_dir / "validation_list.txt").write_text("\n".join(validation) + "\n")
    (train_dir / "testing_list.txt").write_text("")
    # s3prl cuts each noise file into 1 s silence clips (in train and in valid)
    write_wav(train_dir / "_background_noise_" / "pink_noise.wav", noise(2.0, 700, amplitude=0.05, color="pink"))
    for i in range(1):  # the released test set carries its silence clips in _silence_/
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


IC_DEMO_INTENTS = IC_INTENTS[:3] + IC_INTENTS[4:5]  # every head has two classes or more
IC_VOICES = {"train": VOICES[:1], "valid": VOICES[6:7], "test": VOICES[8:9]}


def _fluent_utterances() -> list[Utterance]:
    return [Utterance(t, v) for vs in IC_VOICES.values() for v in vs for t, *_ in IC_DEMO_INTENTS]


def make_fluent_speech_commands(root: Path, speaker: Speaker) -> None:
    for split, voices in IC_VOICES.items():
        rows = []
        for voice in voices:
            spk = hex_id(voice, "fsc")
            for text, action, obj, location in IC_DEMO_INTENTS:
                path = f"wavs/speakers/{spk}/{hex_id(voice, text)}.wav"
                write_wav(root / path, speaker(Utterance(text, voice)))
                rows.append([len(rows), path, spk, text, action, obj, location])
        (root / "data").mkdir(parents=True, exist_ok=True)
        with (root / "data" / f"{split}_data.csv").open("w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["", "path", "speakerId", "transcription", "action", "object", "location"])
            writer.writerows(rows)


# (speaker id, voice): 2 speakers of the dev part, 2 of VoxCeleb1's verification test range (id10270-id10309)
VOXCELEB1_SPEAKERS = (
    ("id10001", VOICES[0]),
    ("id10002", VOICES[1]),
    ("id10270", VOICES[4]),
    ("id10271", VOICES[5]),
)
VOXCELEB1_SPLITS = (1, 2, 3)  # iden_split.txt per utterance: 1 train, 2 dev, 3 test
VOXCELEB1_TEXTS = SENTENCES[:3]
VOXCELEB1_SPEED = 120  # slow speech, 2.2-2.6 s per sentence: SuperbASV drops training audio of 2 s or less


def _voxceleb1_utterances() -> list[Utterance]:
    return [Utterance(t, v, VOXCELEB1_SPEED) for _, v in VOXCELEB1_SPEAKERS for t in VOXCELEB1_TEXTS]


def make_voxceleb1(root: Path, speaker: Speaker) -> None:
    """VoxCeleb1: dev/wav/<id>/<video>/<n>.wav (ids below id10270), test/wav/<id>/... (the verification
    test range); iden_split.txt (identification: 1 train, 1 dev, 1 test utterance per speaker) and the
    verification trial list voxceleb1_test_v2.txt ("<1|0> <path> <path>") over the test speakers."""
    lines, test_files = [], {}
    for spk, voice in VOXCELEB1_SPEAKERS:
        part = "test" if 10270 <= int(spk[2:]) < 10310 else "dev"
        for u_i, (text, split) in enumerate(zip(VOXCELEB1_TEXTS, VOXCELEB1_SPLITS)):
            video = hex_id(voice, u_i // 2)[:8] + "abc"
            rel = f"{spk}/{video}/{u_i + 1:05d}.wav"
            write_wav(root / part / "wav" / rel, speaker(Utterance(text, voice, VOXCELEB1_SPEED)))
            lines.append(f"{split} {rel}")
            if part == "test":
                test_files.setdefault(spk, []).append(rel)
    (root / "iden_split.txt").write_text("\n".join(lines) + "\n")
    a, b = test_files.values()
    trials = [f"1 {x[i]} {x[j]}" for x in (a, b) for i, j in ((0, 1), (1, 2))]
    trials += [f"0 {a[i]} {b[j]}" for i, j in ((0, 0), (1, 2), (2, 1), (2, 2))]
    (root / "voxceleb1_test_v2.txt").write_text("\n".join(trials) + "\n")


ASR_WORDS = ("the", "cat", "dog", "sees", "a", "big", "small", "red", "bird", "runs", "home", "fast")


def _librispeech_jobs() -> list[tuple[str, str, int, int, str]]:
    """(split, voice, speaker id, utterance index, text) of every LibriSpeech utterance (fixed seed)."""
    rng = random.Random(4321)
    plan = {"train-clean-100": (VOICES[:2], 2), "dev-clean": (VOICES[8:9], 1), "test-clean": (VOICES[10:11], 1)}
    jobs = []
    for split, (voices, per_voice) in plan.items():
        for voice in voices:
            for u_i in range(per_voice):
                # two or three words (about 1 s): the recipes' 2 x BLSTM 1024 head costs seconds per second on a CPU
                text = " ".join(rng.choice(ASR_WORDS) for _ in range(rng.randint(2, 3)))
                jobs.append((split, voice, 100 + VOICES.index(voice), u_i, text))
    return jobs


def make_librispeech(root: Path, speaker: Speaker) -> None:
    jobs = _librispeech_jobs()
    transcripts: dict[Path, list[str]] = {}
    for split, voice, spk, u_i, text in jobs:
        chapter = 1000 + spk
        utt = f"{spk}-{chapter}-{u_i:04d}"
        folder = root / split / str(spk) / str(chapter)
        write_wav(folder / f"{utt}.flac", speaker(Utterance(text, voice)))
        transcripts.setdefault(folder / f"{spk}-{chapter}.trans.txt", []).append(f"{utt} {text.upper()}")
    for path, lines in transcripts.items():
        path.write_text("\n".join(lines) + "\n")
    write_librispeech_speakers(root, {spk: (split, voice) for split, voice, spk, _, _ in jobs})
    # The word -> phones lexicon s3prl's SuperbPR reads (its g2p lexicon: CMU ARPAbet with stress).
    (root / "librispeech-lexicon.txt").write_text(
        "".join(f"{word} {phones}\n" for word, phones in sorted(ASR_LEXICON.items()))
    )


def write_librispeech_speakers(root: Path, speakers: dict[int, tuple[str, str]]) -> None:
    """SPEAKERS.TXT as LibriSpeech ships it (s3prl's reader takes each speaker's sex from it)."""
    lines = ["; demo speakers (espeak-ng voices)", ";ID  |SEX| SUBSET           |MINUTES| NAME"]
    for spk, (split, voice) in sorted(speakers.items()):
        lines.append(f"{spk:<4} | {'F' if spk % 2 else 'M'} | {split:<16} | 0.10 | {voice}")
    (root / "SPEAKERS.TXT").write_text("\n".join(lines) + "\n")


ASR_LEXICON = {  # CMU Pronouncing Dictionary entries of ASR_WORDS
    "THE": "DH AH0",
    "CAT": "K AE1 T",
    "DOG": "D AO1 G",
    "SEES": "S IY1 Z",
    "A": "AH0",
    "BIG": "B IH1 G",
    "SMALL": "S M AO1 L",
    "RED": "R EH1 D",
    "BIRD": "B ER1 D",
    "RUNS": "R AH1 N Z",
    "HOME": "HH OW1 M",
    "FAST": "F AE1 S T",
}

IEMOCAP_STYLES = {  # emotion -> espeak-ng speed and pitch (made-up acted emotions)
    "neu": (160, 50),
    "hap": (185, 75),
    "exc": (200, 85),
    "ang": (210, 35),
    "sad": (120, 25),
}


IEMOCAP_SESSION_EMOTIONS = (("neu", "ang"), ("exc", "sad"), ("hap", "neu"), ("ang", "sad"), ("hap", "exc"))


def _iemocap_jobs() -> list[tuple[int, str, str, int, str, str]]:
    """(session, gender, voice, utterance index, sentence, emotion): one speaker per session, two
    utterances each; the four SUPERB classes over the sessions (excited too: s3prl merges it into happy)."""
    jobs = []
    for n, emotions in enumerate(IEMOCAP_SESSION_EMOTIONS, start=1):
        gender, voice = "FM"[n % 2], VOICES[n - 1]
        for u_i, emotion in enumerate(emotions):
            jobs.append((n, gender, voice, u_i, SENTENCES[(n + u_i) % len(SENTENCES)], emotion))
    return jobs


def make_iemocap(root: Path, speaker: Speaker) -> None:
    """IEMOCAP_full_release: 5 sessions, acted emotions as espeak-ng speed/pitch, EmoEvaluation label
    files, and s3prl's per-fold split lists (s3prl_iemocap_split/, as hf.co/datasets/s3prl/iemocap_split)."""
    labels: dict[Path, list[str]] = {}
    paths: dict[int, list[str]] = {n: [] for n in range(1, 6)}
    for n, gender, voice, u_i, sentence, emotion in _iemocap_jobs():
        dialog = f"Ses0{n}{gender}_impro01"
        utt = f"{dialog}_{gender}{u_i:03d}"
        rel = f"Session{n}/sentences/wav/{dialog}/{utt}.wav"
        write_wav(root / rel, speaker(Utterance(sentence, voice, *IEMOCAP_STYLES[emotion])))
        label_file = root / f"Session{n}" / "dialog" / "EmoEvaluation" / f"{dialog}.txt"
        labels.setdefault(label_file, []).append(
            f"[{u_i:.4f} - {u_i + 1:.4f}]\t{utt}\t{emotion}\t[2.5000, 2.5000, 2.5000]"
        )
        paths[n].append(rel)
    for path, lines in labels.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]\n\n" + "\n".join(lines) + "\n")
    for n in range(1, 6):
        split = root / "s3prl_iemocap_split" / f"Session{n}"
        split.mkdir(parents=True, exist_ok=True)
        train = [p for m in range(1, 6) if m != n for p in paths[m]]
        (split / "train_meta_data.json").write_text(json.dumps({"meta_data": [{"path": p} for p in train]}, indent=1))
        (split / "test_meta_data.json").write_text(json.dumps({"meta_data": [{"path": p} for p in paths[n]]}, indent=1))


SNIPS_SPEAKERS = {  # Amazon Polly voice names from s3prl's SuperbSF split lists, played by espeak-ng voices
    "train": ("Ivy",),
    "valid": ("Aditi",),
    "test": ("Brian",),
}
SNIPS_SENTENCES = (  # made-up commands: words, IOB slot tags, intent
    ("play music by adele", "O O O B-artist", "PlayMusic"),
    ("what is the weather in paris", "O O O O O B-city", "GetWeather"),
    ("play music by madonna", "O O O B-artist", "PlayMusic"),
    ("what is the weather in london", "O O O O O B-city", "GetWeather"),
)
SNIPS_SAID = {"train": SNIPS_SENTENCES, "valid": SNIPS_SENTENCES[:1], "test": SNIPS_SENTENCES[2:3]}


def _snips_voices() -> dict[str, Utterance]:
    names = [n for names in SNIPS_SPEAKERS.values() for n in names]
    return {name: Utterance("", VOICES[i + 6], pitch=45) for i, name in enumerate(names)}


def _snips_utterances() -> list[Utterance]:
    voices = _snips_voices()
    return [
        dataclasses.replace(voices[name], text=text)
        for split, names in SNIPS_SPEAKERS.items()
        for name in names
        for text, _, _ in SNIPS_SAID[split]
    ]


def make_snips(root: Path, speaker: Speaker) -> None:
    """Audio SNIPS: <split>/<speaker>-snips-<split>-<n>.wav and all.iob.snips.txt
    ("<id> BOS words EOS<TAB>O tags intent"), the layout s3prl's SNIPS reader parses."""
    voices = _snips_voices()
    lines = []
    for split, names in SNIPS_SPEAKERS.items():
        for name in names:
            for i, (text, tags, intent) in enumerate(SNIPS_SAID[split]):
                uid = f"{name}-snips-{split}-{i}"
                write_wav(root / split / f"{uid}.wav", speaker(dataclasses.replace(voices[name], text=text)))
                lines.append(f"{uid} BOS {text} EOS\tO {tags} {intent}")
    (root / "all.iob.snips.txt").write_text("\n".join(lines) + "\n")


def _librimix_jobs() -> list[tuple[str, int, tuple[str, str], tuple[str, str]]]:
    """(split, mixture index, (voice, sentence) of the first speaker, of the second): fixed seed."""
    plan = {"train": (VOICES[:4], 2), "dev": (VOICES[6:8], 1), "test": (VOICES[10:12], 1)}
    rng = random.Random(2468)
    jobs = []
    for split, (voices, count) in plan.items():
        for m in range(count):
            a, b = rng.sample(voices, 2)
            ta, tb = rng.sample(SENTENCES, 2)
            jobs.append((split, m, (a, ta), (b, tb)))
    return jobs


def make_librimix(root: Path, speaker: Speaker) -> None:
    """Two-speaker mixtures with overlap as kaldi data dirs (data/<split>/wav.scp, segments,
    utt2spk, reco2dur), the form s3prl's SuperbSD reads; wav.scp paths are relative to this
    folder (spear-bench makes them absolute for s3prl)."""
    files = {
        split: {k: [] for k in ("wav.scp", "segments", "utt2spk", "reco2dur")} for split in ("train", "dev", "test")
    }
    for split, m, (va, ta), (vb, tb) in _librimix_jobs():
        wa, wb = speaker(Utterance(ta, va)), speaker(Utterance(tb, vb))
        start_a, start_b = 0.3, 0.3 + 0.6 * wa.numel() / SAMPLE_RATE  # B starts while A still speaks
        duration = max(start_a + wa.numel() / SAMPLE_RATE, start_b + wb.numel() / SAMPLE_RATE) + 0.3
        reco = f"{split}_mix{m:03d}"
        write_wav(root / "wav" / split / f"{reco}.wav", place([(start_a, wa), (start_b, wb)], duration))
        out = files[split]
        out["wav.scp"].append(f"{reco} wav/{split}/{reco}.wav")
        out["reco2dur"].append(f"{reco} {duration:.3f}")
        for voice, start, wave in ((va, start_a, wa), (vb, start_b, wb)):
            spk = f"spk{VOICES.index(voice):02d}"
            utt = f"{spk}-{reco}-{int(start * 100):05d}"
            out["segments"].append(f"{utt} {reco} {start:.2f} {start + wave.numel() / SAMPLE_RATE:.2f}")
            out["utt2spk"].append(f"{utt} {spk}")
    for split, named in files.items():
        (root / "data" / split).mkdir(parents=True, exist_ok=True)
        for name, lines in named.items():
            (root / "data" / split / name).write_text("\n".join(sorted(lines)) + "\n")


SUPERB_MAKERS = {
    "speech_commands": make_speech_commands,
    "fluent_speech_commands_dataset": make_fluent_speech_commands,
    "VoxCeleb1": make_voxceleb1,
    "LibriSpeech": make_librispeech,
    "IEMOCAP_full_release": make_iemocap,
    "SNIPS": make_snips,
    "LibriMix": make_librimix,
}


def utterances() -> list[Utterance]:
    """The espeak-ng utterances of the SUPERB corpora (synthesised in the one parallel pass)."""
    out = _speech_commands_utterances() + _fluent_utterances() + _voxceleb1_utterances() + _snips_utterances()
    out += [Utterance(text, voice) for _, voice, _, _, text in _librispeech_jobs()]
    out += [Utterance(s, v, *IEMOCAP_STYLES[e]) for _, _, v, _, s, e in _iemocap_jobs()]
    out += [Utterance(t, v) for *_, a, b in _librimix_jobs() for v, t in (a, b)]
    return out
