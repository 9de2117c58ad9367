"""Reading a HEAR 2021 task folder (hearpreprocess output) and checking it.

Layout: ``task_metadata.json``, ``labelvocabulary.csv`` (idx,label), ``<split>.json``
(file -> list of labels, or file -> list of {"label", "start", "end"} events in ms) and the
audio at ``<sample_rate>/<split>/<file>``. Splits are ``train/valid/test`` or folds
(``fold00`` ...); :meth:`HearTaskData.data_splits` gives heareval's train/valid/test
assignment for each (leave-one-fold-out, the next fold validates).
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

from spear_bench.datasets.hear_layout import split_names as hear_split_names
from spear_bench.datasets.hear_resample import audio_root_at
from spear_bench.errors import DatasetError
from spear_bench.task_registry import HearTaskSpec


def _read_json(path: Path, what: str):
    if not path.is_file():
        raise DatasetError(f"{path}: missing ({what})")
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise DatasetError(f"{path}: unreadable {what} ({error})") from error


@dataclass
class HearTaskData:
    root: Path
    metadata: dict
    labels: list[str]  # label vocabulary in index order
    split_items: dict[str, dict]  # split -> file -> labels | events
    audio_root: Path | None = None  # the folder holding <split>/ at audio_rate (made by resampling when absent)
    audio_rate: int = 16000

    @property
    def name(self) -> str:
        return str(self.metadata.get("task_name", self.root.name))

    @property
    def embedding_type(self) -> str:  # scene | event
        return self.metadata["embedding_type"]

    @property
    def prediction_type(self) -> str:
        return self.metadata["prediction_type"]

    @property
    def evaluation(self) -> list[str]:
        return list(self.metadata["evaluation"])

    @property
    def splits(self) -> list[str]:
        return list(self.split_items)

    @property
    def sample_duration(self) -> float | None:
        return self.metadata.get("sample_duration")

    def audio_path(self, split: str, file: str, sample_rate: int = 16000) -> Path:
        if self.audio_root is not None and sample_rate == self.audio_rate:
            return self.audio_root / split / file
        return self.root / str(sample_rate) / split / file

    def clips(self, sample_rate: int = 16000) -> list[tuple[str, str, Path]]:
        """(split, file, audio path) of every clip, in split order; a missing audio file is a one-line error."""
        out = []
        for split in self.splits:
            for file in self.split_items[split]:
                path = self.audio_path(split, file, sample_rate)
                if not path.is_file():
                    raise DatasetError(f"expected audio file {path} (listed in {self.root / (split + '.json')})")
                out.append((split, file, path))
        return out

    def data_splits(self) -> list[dict[str, list[str]]]:
        """heareval's splits: one train/valid/test for trainvaltest; k leave-one-fold-out splits for k-fold."""
        mode = self.metadata["split_mode"]
        if mode == "trainvaltest":
            return [{"train": ["train"], "valid": ["valid"], "test": ["test"]}]
        folds = sorted(self.splits)
        out = []
        for i, test in enumerate(folds):
            valid = folds[(i + 1) % len(folds)]
            out.append({"train": [f for f in folds if f not in (test, valid)], "valid": [valid], "test": [test]})
        return out


def read_task(
    spec_or_root: HearTaskSpec | Path,
    data_root: Path | None = None,
    sample_rate: int = 16000,
    resample_cache: Path | None = None,
) -> HearTaskData:
    """Read and check a task folder; every problem is a one-line DatasetError naming the path.

    A task without its ``<sample_rate>/`` folder (the HEAR download holds 48000/ only) gets it made
    once from a rate it has (spear_bench.datasets.hear_resample): beside the task, or under
    ``resample_cache`` when the task folder is read-only."""
    if isinstance(spec_or_root, HearTaskSpec):
        spec = spec_or_root
        root = spec.check_data(data_root if data_root is not None else Path("."))
    else:
        spec, root = None, Path(spec_or_root)
        if not (root / "task_metadata.json").is_file():
            raise DatasetError(f"expected {root / 'task_metadata.json'} (a HEAR task folder)")
    metadata = _read_json(root / "task_metadata.json", "HEAR task metadata")
    for key in ("embedding_type", "prediction_type", "split_mode", "evaluation"):
        if key not in metadata:
            raise DatasetError(f"{root / 'task_metadata.json'}: missing field {key!r}")
    if metadata["embedding_type"] not in ("scene", "event"):
        raise DatasetError(
            f"{root / 'task_metadata.json'}: embedding_type must be scene or event, got {metadata['embedding_type']!r}"
        )
    split_names = hear_split_names(metadata, root / "task_metadata.json")
    if spec is not None:
        expected_type = "event" if spec.level == "timestamp" else "scene"
        if metadata["embedding_type"] != expected_type:
            raise DatasetError(
                f"{root / 'task_metadata.json'}: embedding_type {metadata['embedding_type']!r}, "
                f"but task {spec.name} is {expected_type}"
            )
        evaluation = list(metadata["evaluation"] or [])
        # heareval selects grid points on evaluation[0]: that is the primary score reported.
        if not evaluation or evaluation[0] != spec.metric:
            first = evaluation[0] if evaluation else None
            raise DatasetError(
                f"{root / 'task_metadata.json'}: evaluation[0] is {first!r}, but the task definition of "
                f"{spec.name} (tasks/*.yaml) names {spec.metric!r} as its primary metric; they must agree"
            )
        if spec.folds is not None and len(split_names) != spec.folds:
            raise DatasetError(
                f"{root / 'task_metadata.json'}: {len(split_names)} folds, but task {spec.name} has {spec.folds}"
            )
    labels = _read_vocabulary(root / "labelvocabulary.csv")
    known = set(labels)
    split_items: dict[str, dict] = {}
    for split in split_names:
        items = _read_json(root / f"{split}.json", f"split {split!r} labels")
        if not isinstance(items, dict) or not items:
            raise DatasetError(f"{root / f'{split}.json'}: expected a non-empty mapping file -> labels")
        event = metadata["embedding_type"] == "event"
        for file, value in items.items():
            if not isinstance(value, list) or (event and not all(isinstance(e, dict) and "label" in e for e in value)):
                what = "a list of events ({label, start, end})" if event else "a list of labels"
                raise DatasetError(f"{root / f'{split}.json'}: {file} has {value!r}, expected {what}")
            found = {str(e["label"]) for e in value} if event else {str(v) for v in value}
            if not found <= known:
                raise DatasetError(
                    f"{root / f'{split}.json'}: {file} has labels {sorted(found - known)} not in labelvocabulary.csv"
                )
        split_items[split] = items
    audio_root = audio_root_at(root, sample_rate, split_names, resample_cache)
    return HearTaskData(root, metadata, labels, split_items, audio_root, sample_rate)


def _read_vocabulary(path: Path) -> list[str]:
    if not path.is_file():
        raise DatasetError(f"{path}: missing (label vocabulary, columns idx,label)")
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows or not {"idx", "label"} <= set(rows[0]):
        raise DatasetError(f"{path}: expected columns idx,label")
    try:
        by_index = {int(r["idx"]): str(r["label"]) for r in rows}
    except ValueError as error:
        raise DatasetError(f"{path}: idx must be integers ({error})") from error
    if len(by_index) != len(rows) or sorted(by_index) != list(range(len(by_index))):
        raise DatasetError(f"{path}: idx must be 0..{len(rows) - 1}, each once")
    labels = [by_index[i] for i in range(len(by_index))]
    repeated = sorted({label for label in labels if labels.count(label) > 1})
    if repeated:
        raise DatasetError(f"{path}: label {repeated[0]!r} is listed more than once")
    return labels


def frame_labels(events: list[dict], timestamps) -> list[list[str]]:
    """Labels active at each timestamp (ms): start <= t < end + 0.0001, as heareval's interval tree."""
    out = []
    for t in timestamps:
        out.append([str(e["label"]) for e in events if float(e["start"]) <= float(t) < float(e["end"]) + 0.0001])
    return out
