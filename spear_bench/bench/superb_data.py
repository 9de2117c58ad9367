"""Readers for the SUPERB corpora in their released layouts (one registry: dataset name -> reader).

Each reader turns a corpus folder into :class:`SuperbData`: items of the train / dev / test
splits (an audio file, optionally a segment of it, and its target), plus the label sets of
the utterance heads or the token inventory of the CTC head. Splits follow s3prl's
recipes; where spear-bench has to choose (IEMOCAP's dev set, Speech Commands' silence
clips) the choice is documented on the reader and in docs/orchestration.md.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import soundfile as sf

from spear_bench.errors import ConfigError, DatasetError

KS_WORDS = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go")
KS_CLASSES = KS_WORDS + ("_unknown_", "_silence_")
IEMOCAP_EMOTIONS = {"neu": "neu", "hap": "hap", "exc": "hap", "ang": "ang", "sad": "sad"}
CTC_BLANK = "<blank>"


@dataclass(frozen=True)
class SuperbItem:
    key: str  # unique within the corpus (the cache key)
    path: Path
    target: object  # tuple of class labels (utterance heads) | token list (CTC) ; text kept in ``text``
    start: float = 0.0  # seconds
    duration: float | None = None  # seconds; None = whole file
    text: str = ""


@dataclass
class SuperbData:
    kind: str  # utterance | ctc
    splits: dict[str, list[SuperbItem]]  # train / dev / test
    classes: list[list[str]] = field(default_factory=list)  # utterance: one label list per head
    tokens: list[str] = field(default_factory=list)  # ctc: token inventory, index 0 = blank
    token_unit: str = "char"  # char | phone (CTC scoring: WER+CER on words, or PER)
    fold: str = ""


Reader = Callable[[Path], list[SuperbData]]
READERS: dict[str, Reader] = {}


def reader(name: str):
    def register(function: Reader) -> Reader:
        READERS[name] = function
        return function

    return register


def read_dataset(name: str, root: Path) -> list[SuperbData]:
    """One SuperbData per fold (one for fold-free tasks)."""
    if name not in READERS:
        raise ConfigError(f"unknown SUPERB dataset reader {name!r}; known: {', '.join(READERS)}")
    data = READERS[name](Path(root))
    for d in data:
        for split in ("train", "dev", "test"):
            if not d.splits.get(split):
                raise DatasetError(f"{root}: no {split} items found for dataset {name}")
    return data


def _audio_files(folder: Path, suffixes=(".wav", ".flac")) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in suffixes)


# --- Keyword spotting -------------------------------------------------------------------------------


@reader("speech_commands_v1")
def read_speech_commands(root: Path) -> list[SuperbData]:
    """Speech Commands v0.01 (s3prl KS): 10 words + _unknown_ + _silence_.

    train = word folders minus validation_list/testing_list; dev = validation_list; test =
    the separate test-set folder (its _silence_ and _unknown_ folders included, any other
    folder counted as _unknown_). Silence for train/dev: consecutive 1 s crops of
    _background_noise_ files, about one twelfth of the split as in the released test set.
    """
    train_root, test_root = root / "speech_commands_v0.01", root / "speech_commands_test_set_v0.01"
    lists = {}
    for name in ("validation_list.txt", "testing_list.txt"):
        path = train_root / name
        if not path.is_file():
            raise DatasetError(f"expected {path} (Speech Commands v0.01 split list)")
        lists[name] = {line.strip() for line in path.read_text().splitlines() if line.strip()}

    def label_of(folder: str) -> str:
        if folder in KS_WORDS or folder in ("_silence_", "_unknown_"):
            return folder
        return "_unknown_"

    train, dev = [], []
    for path in _audio_files(train_root):
        rel = path.relative_to(train_root).as_posix()
        folder = rel.split("/")[0]
        if folder == "_background_noise_":
            continue
        item = SuperbItem(f"train/{rel}", path, (label_of(folder),))
        if rel in lists["validation_list.txt"]:
            dev.append(item)
        elif rel not in lists["testing_list.txt"]:
            train.append(item)
    noise_files = _audio_files(train_root / "_background_noise_")
    if not noise_files:
        raise DatasetError(f"expected noise files in {train_root / '_background_noise_'}")
    crops = []
    for path in noise_files:
        seconds = sf.info(str(path)).duration
        crops += [(path, float(s)) for s in range(int(seconds))]
    n_train, n_dev = max(1, len(train) // 11), max(1, len(dev) // 11)
    for i, (path, start) in enumerate(crops[: n_train + n_dev]):
        item = SuperbItem(f"silence/{path.name}/{start:g}", path, ("_silence_",), start=start, duration=1.0)
        (train if i < n_train else dev).append(item)
    if not test_root.is_dir():
        raise DatasetError(f"expected {test_root} (Speech Commands v0.01 test set)")
    test = [
        SuperbItem(f"test/{p.relative_to(test_root).as_posix()}", p, (label_of(p.relative_to(test_root).parts[0]),))
        for p in _audio_files(test_root)
    ]
    return [SuperbData("utterance", {"train": train, "dev": dev, "test": test}, classes=[list(KS_CLASSES)])]


# --- Intent classification --------------------------------------------------------------------------


@reader("fluent_speech_commands")
def read_fluent_speech_commands(root: Path) -> list[SuperbData]:
    """Fluent Speech Commands: three heads (action, object, location); correct when all three are."""
    splits = {}
    for split, name in (("train", "train_data.csv"), ("dev", "valid_data.csv"), ("test", "test_data.csv")):
        path = root / "data" / name
        if not path.is_file():
            raise DatasetError(f"expected {path} (Fluent Speech Commands split)")
        with path.open(newline="") as f:
            rows = list(csv.DictReader(f))
        if rows and not {"path", "action", "object", "location"} <= set(rows[0]):
            raise DatasetError(f"{path}: expected columns path, action, object, location")
        splits[split] = [
            SuperbItem(
                row["path"],
                root / row["path"],
                (row["action"], row["object"], row["location"]),
                text=row.get("transcription", ""),
            )
            for row in rows
        ]
    classes = [sorted({item.target[h] for items in splits.values() for item in items}) for h in range(3)]
    return [SuperbData("utterance", splits, classes=classes)]


# --- Speaker identification ------------------------------------------------------------------------


@reader("voxceleb1_iden")
def read_voxceleb1(root: Path) -> list[SuperbData]:
    """VoxCeleb1 identification: iden_split.txt (1 train, 2 dev, 3 test); audio under wav/, dev/wav/ or test/wav/."""
    split_file = root / "iden_split.txt"
    if not split_file.is_file():
        raise DatasetError(f"expected {split_file} (VoxCeleb1 identification split)")
    audio_roots = [d for d in (root / "wav", root / "dev" / "wav", root / "test" / "wav") if d.is_dir()]
    if not audio_roots:
        raise DatasetError(f"expected {root / 'wav'} (or dev/wav and test/wav) with VoxCeleb1 audio")
    names = {"1": "train", "2": "dev", "3": "test"}
    splits: dict[str, list[SuperbItem]] = {"train": [], "dev": [], "test": []}
    for line_no, line in enumerate(split_file.read_text().splitlines(), 1):
        if not line.strip():
            continue
        fields = line.split()
        if len(fields) != 2 or fields[0] not in names:
            raise DatasetError(f"{split_file}:{line_no}: expected '<1|2|3> <id>/<video>/<file>.wav'")
        path = next((d / fields[1] for d in audio_roots if (d / fields[1]).is_file()), None)
        if path is None:
            raise DatasetError(f"expected audio file {audio_roots[0] / fields[1]} (listed in {split_file}:{line_no})")
        splits[names[fields[0]]].append(SuperbItem(fields[1], path, (fields[1].split("/")[0],)))
    classes = [sorted({item.target[0] for item in splits["train"]})]
    return [SuperbData("utterance", splits, classes=classes)]


# --- Emotion recognition ---------------------------------------------------------------------------

_IEMOCAP_LINE = re.compile(r"^\[(?P<start>[\d.]+) - (?P<end>[\d.]+)\]\s+(?P<utt>\S+)\s+(?P<emo>\S+)\s+\[")


@reader("iemocap")
def read_iemocap(root: Path) -> list[SuperbData]:
    """IEMOCAP, 4 classes (excited merged into happy), leave-one-session-out: fold n tests on Session n.

    dev: every 5th utterance (sorted by name) of the four training sessions, a fixed choice
    standing in for s3prl's pre-made dev lists (which live in its git tree).
    """
    sessions: dict[int, list[SuperbItem]] = {}
    for n in range(1, 6):
        session = root / f"Session{n}"
        labels_dir = session / "dialog" / "EmoEvaluation"
        if not labels_dir.is_dir():
            raise DatasetError(f"expected {labels_dir} (IEMOCAP emotion labels)")
        items = []
        for label_file in sorted(labels_dir.glob("*.txt")):
            for line in label_file.read_text(errors="replace").splitlines():
                match = _IEMOCAP_LINE.match(line)
                if not match or match["emo"] not in IEMOCAP_EMOTIONS:
                    continue
                utt = match["utt"]
                dialog = utt.rsplit("_", 1)[0]
                path = session / "sentences" / "wav" / dialog / f"{utt}.wav"
                if not path.is_file():
                    raise DatasetError(f"expected audio file {path} (labelled in {label_file})")
                items.append(SuperbItem(utt, path, (IEMOCAP_EMOTIONS[match["emo"]],)))
        sessions[n] = sorted(items, key=lambda item: item.key)
    classes = [sorted(set(IEMOCAP_EMOTIONS.values()))]
    folds = []
    for n in range(1, 6):
        rest = [item for m in range(1, 6) if m != n for item in sessions[m]]
        dev = rest[::5]
        dev_keys = {item.key for item in dev}
        train = [item for item in rest if item.key not in dev_keys]
        folds.append(
            SuperbData("utterance", {"train": train, "dev": dev, "test": sessions[n]}, classes=classes, fold=f"fold{n}")
        )
    return folds


# --- LibriSpeech (ASR, PR) -------------------------------------------------------------------------

LIBRISPEECH_SPLITS = {"train": "train-clean-100", "dev": "dev-clean", "test": "test-clean"}
CHAR_TOKENS = tuple("|'ABCDEFGHIJKLMNOPQRSTUVWXYZ")  # "|" is the word boundary


def _librispeech_items(root: Path) -> dict[str, list[tuple[str, Path, str]]]:
    out = {}
    for split, folder_name in LIBRISPEECH_SPLITS.items():
        folder = root / folder_name
        if not folder.is_dir():
            raise DatasetError(f"expected {folder} (LibriSpeech {folder_name})")
        items = []
        for trans in sorted(folder.rglob("*.trans.txt")):
            for line in trans.read_text().splitlines():
                if not line.strip():
                    continue
                utt, _, text = line.partition(" ")
                audio = trans.parent / f"{utt}.flac"
                if not audio.is_file():
                    audio = trans.parent / f"{utt}.wav"
                if not audio.is_file():
                    raise DatasetError(f"expected audio file {trans.parent / (utt + '.flac')} (listed in {trans})")
                items.append((utt, audio, text.strip().upper()))
        if not items:
            raise DatasetError(f"{folder}: no <spk>-<chapter>.trans.txt transcripts found")
        out[split] = items
    return out


@reader("librispeech_chars")
def read_librispeech_chars(root: Path) -> list[SuperbData]:
    """LibriSpeech with character targets (letters, apostrophe, '|' between words), s3prl's ASR vocabulary."""
    splits = {}
    for split, items in _librispeech_items(root).items():
        out = []
        for utt, audio, text in items:
            tokens = list("|".join(text.split()))
            unknown = set(tokens) - set(CHAR_TOKENS)
            if unknown:
                raise DatasetError(f"{audio}: transcript has characters {sorted(unknown)} outside A-Z, apostrophe")
            out.append(SuperbItem(utt, audio, tuple(tokens), text=text))
        splits[split] = out
    return [SuperbData("ctc", splits, tokens=[CTC_BLANK, *CHAR_TOKENS], token_unit="char")]


def read_lexicon(path: Path) -> dict[str, list[str]]:
    if not path.is_file():
        raise DatasetError(f"expected {path} (word -> phones lexicon, one 'WORD PH1 PH2 ...' per line)")
    lexicon = {}
    for line in path.read_text().splitlines():
        fields = line.split()
        if len(fields) >= 2:
            # Stress digits (AH0, AH1) are not phone identities for PER, as in s3prl's libriphone.
            lexicon.setdefault(fields[0].upper(), [re.sub(r"\d+$", "", p) for p in fields[1:]])
    return lexicon


@reader("librispeech_phones")
def read_librispeech_phones(root: Path) -> list[SuperbData]:
    """LibriSpeech with phone targets from ``librispeech-lexicon.txt`` (each word's first pronunciation)."""
    lexicon_path = root / "librispeech-lexicon.txt"
    lexicon = read_lexicon(lexicon_path)
    splits, inventory = {}, set()
    for split, items in _librispeech_items(root).items():
        out = []
        for utt, audio, text in items:
            phones = []
            for word in text.split():
                if word not in lexicon:
                    raise DatasetError(f"{lexicon_path}: no pronunciation for {word!r} (in {utt})")
                phones += lexicon[word]
            inventory.update(phones)
            out.append(SuperbItem(utt, audio, tuple(phones), text=text))
        splits[split] = out
    return [SuperbData("ctc", splits, tokens=[CTC_BLANK, *sorted(inventory)], token_unit="phone")]
