"""AudioSet as distributed: segment CSVs + the label ontology + a local folder of clips.

Segment CSVs (``balanced_train_segments.csv``, ``unbalanced_train_segments.csv``,
``eval_segments.csv``)::

    # Segments csv created ...
    # num_ytids=..., num_segs=..., num_unique_labels=527, num_positive_labels=...
    # YTID, start_seconds, end_seconds, positive_labels
    --PJHxphWEs, 30.000, 40.000, "/m/09x0r,/t/dd00088"

Ontology: ``class_labels_indices.csv`` with header ``index,mid,display_name`` (527 rows
for AudioSet). It is not bundled (it cannot be downloaded here): supply the real file in
the data folder; :func:`write_ontology` writes one in the same format for generated data.

Audio: the videos themselves are not distributed; users download the 10 s segments.
A clip is found under the audio folder (searched recursively, .wav/.flac/...) by file
stem ``<YTID>``, ``Y<YTID>``, ``<YTID>_<anything>`` or ``Y<YTID>_<anything>`` (the common
download layouts; YTIDs are 11 characters), and
is taken whole (the CSV's start/end locate it in the video, not in the file). Segments
whose clip is absent are skipped and counted (parts of AudioSet are always missing).

AS-2M is heavily imbalanced; the paper follows Gong et al. (2021, PSLA) and samples
clips with weights: a clip's weight is the sum over its labels of 1 / (label count).
"""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from spear_bench.audio import AUDIO_SUFFIXES
from spear_bench.errors import DatasetError

log = logging.getLogger(__name__)

ONTOLOGY_FILE = "class_labels_indices.csv"
AUDIOSET_NUM_CLASSES = 527


@dataclass(frozen=True)
class Segment:
    ytid: str
    start: float
    end: float
    labels: tuple[str, ...]  # ontology mids


@dataclass(frozen=True)
class Ontology:
    mids: tuple[str, ...]
    names: tuple[str, ...]

    @property
    def num_classes(self) -> int:
        return len(self.mids)

    def indices(self, mids: tuple[str, ...], where: str = "") -> list[int]:
        lookup = {m: i for i, m in enumerate(self.mids)}
        unknown = [m for m in mids if m not in lookup]
        if unknown:
            raise DatasetError(f"{where}: label(s) {', '.join(unknown)} not in the ontology ({ONTOLOGY_FILE})")
        return [lookup[m] for m in mids]


def read_ontology(path: str | Path) -> Ontology:
    """Read ``class_labels_indices.csv`` (index,mid,display_name); indices must be 0..C-1 in order."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(
            f"AudioSet ontology not found: {path} (the real {ONTOLOGY_FILE} with header index,mid,display_name "
            "is not bundled; copy it into the data folder)"
        )
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows or not {"index", "mid", "display_name"} <= set(rows[0]):
        raise DatasetError(f"{path}: expected a CSV with header index,mid,display_name")
    if [int(r["index"]) for r in rows] != list(range(len(rows))):
        raise DatasetError(f"{path}: the index column must run 0..{len(rows) - 1} in order")
    return Ontology(tuple(r["mid"] for r in rows), tuple(r["display_name"] for r in rows))


def write_ontology(path: str | Path, mids: list[str], names: list[str]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["index", "mid", "display_name"])
        for i, (mid, name) in enumerate(zip(mids, names)):
            writer.writerow([i, mid, name])
    return path


def read_segments(path: str | Path) -> list[Segment]:
    """Read an AudioSet segment CSV (comment lines start with '#')."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(
            f"AudioSet segment list not found: {path} "
            "(expected a CSV of YTID, start_seconds, end_seconds, positive_labels)"
        )
    segments = []
    with path.open(newline="") as f:
        lines = (line for line in f if line.strip() and not line.lstrip().startswith("#"))
        for number, row in enumerate(csv.reader(lines, skipinitialspace=True), start=1):
            if len(row) != 4:
                raise DatasetError(
                    f"{path}: data row {number} has {len(row)} fields, expected 4 (YTID, start, end, labels)"
                )
            ytid, start, end, labels = row
            try:
                segment = Segment(
                    ytid.strip(),
                    float(start),
                    float(end),
                    tuple(label.strip() for label in labels.split(",") if label.strip()),
                )
            except ValueError as error:
                raise DatasetError(f"{path}: data row {number}: {error}") from error
            segments.append(segment)
    return segments


def write_segments(path: str | Path, segments: list[Segment]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    labels = {label for s in segments for label in s.labels}
    with path.open("w", newline="") as f:
        f.write("# Segments csv created by spear-bench\n")
        f.write(
            f"# num_ytids={len(segments)}, num_segs={len(segments)}, num_unique_labels={len(labels)}, "
            f"num_positive_labels={sum(len(s.labels) for s in segments)}\n"
        )
        f.write("# YTID, start_seconds, end_seconds, positive_labels\n")
        for s in segments:
            f.write(f'{s.ytid}, {s.start:.3f}, {s.end:.3f}, "{",".join(s.labels)}"\n')
    return path


YTID_LENGTH = 11  # YouTube video ids are 11 characters


def _ytid_keys(stem: str) -> list[str]:
    """The YTIDs a file stem may stand for: ``<YTID>``, ``Y<YTID>``, ``<YTID>_...``, ``Y<YTID>_...``."""
    keys = [stem]
    if stem.startswith("Y"):
        keys.append(stem[1:])
    for offset in (0, 1):
        if len(stem) > offset + YTID_LENGTH and stem[offset + YTID_LENGTH] == "_":
            keys.append(stem[offset : offset + YTID_LENGTH])
    return keys


def index_audio_folder(audio_dir: str | Path) -> dict[str, Path]:
    """YTID -> clip path for every audio file under ``audio_dir`` (recursively; see module docstring)."""
    audio_dir = Path(audio_dir)
    if not audio_dir.is_dir():
        raise DatasetError(
            f"AudioSet audio folder not found: {audio_dir} (expected clips named <YTID>.wav or Y<YTID>.wav)"
        )
    index: dict[str, Path] = {}
    for path in sorted(audio_dir.rglob("*")):
        if path.suffix.lower() in AUDIO_SUFFIXES:
            for key in _ytid_keys(path.stem):
                index.setdefault(key, path)
    return index


@dataclass(frozen=True)
class AudioSetSplit:
    cuts: object  # lhotse CutSet; cut.custom["labels"] holds the class indices
    num_listed: int
    num_missing: int


def audioset_cuts(
    segments_csv: str | Path, audio_dir: str | Path, ontology: Ontology, audio_index: dict[str, Path] | None = None
) -> AudioSetSplit:
    """CutSet of the listed segments whose clip is present, with label indices in ``cut.custom['labels']``."""
    from lhotse import CutSet, Recording  # heavy (~1 s): paid only where cuts are handled

    segments = read_segments(segments_csv)
    index = audio_index if audio_index is not None else index_audio_folder(audio_dir)
    cuts, missing = [], 0
    for segment in segments:
        path = index.get(segment.ytid)
        if path is None:
            missing += 1
            continue
        labels = ontology.indices(segment.labels, where=f"{segments_csv} ({segment.ytid})")
        cut = Recording.from_file(path, recording_id=segment.ytid).to_cut()
        cut.custom = {"labels": labels}
        cuts.append(cut)
    if not cuts:
        raise DatasetError(f"none of the {len(segments)} clips listed in {segments_csv} was found under {audio_dir}")
    if missing:
        log.warning(
            "%s: %d of %d listed clips are missing under %s and skipped",
            segments_csv,
            missing,
            len(segments),
            audio_dir,
        )
    return AudioSetSplit(CutSet.from_cuts(cuts), len(segments), missing)


def multi_hot(label_lists: list[list[int]], num_classes: int) -> np.ndarray:
    out = np.zeros((len(label_lists), num_classes), dtype=np.float32)
    for row, labels in enumerate(label_lists):
        out[row, labels] = 1.0
    return out


def balanced_sample_weights(label_lists: list[list[int]], num_classes: int) -> np.ndarray:
    """Per-clip sampling weight: sum over the clip's labels of 1 / count(label) (Gong et al., 2021).

    Every class then carries the same total weight, so rare classes are drawn as often as
    common ones in expectation. Clips without labels get weight 0.
    """
    counts = multi_hot(label_lists, num_classes).sum(axis=0)
    inverse = np.divide(1.0, counts, out=np.zeros_like(counts), where=counts > 0)
    return np.array([inverse[labels].sum() if labels else 0.0 for labels in label_lists], dtype=np.float64)
