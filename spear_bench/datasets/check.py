"""`spear-bench data check`: what a suite's tasks need on disk, what is there, what is missing and
where each missing piece comes from. Loads no model and reads no audio (file names and sizes
only), so the full HEAR and SUPERB suites take seconds on a folder tree.

HEAR: per task folder, its ``task_metadata.json``, ``labelvocabulary.csv``, every split file the
metadata names, the labels each split file uses against the vocabulary, and the audio files each
split file lists against those in ``<rate>/<split>/`` (16000, or the published 48000 that
``data resample`` / the first run turns into 16000). SUPERB: the corpus folder, every path of
the task's layout (tasks/superb.yaml), then the SUPERB runner's own pre-run check of the files
its recipe reads (passed in as ``recipe_check``; spear_bench.cli.data_cmd gives it), whose
one-line error names the first missing file.
"""

from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from spear_bench.datasets.hear_layout import METADATA, VOCABULARY, split_names
from spear_bench.datasets.hear_resample import HEAR_RATES, rates_present
from spear_bench.datasets.sources import hear_source, superb_source
from spear_bench.errors import DatasetError
from spear_bench.task_registry import DEMO_SUITES, HearTaskSpec, SuperbTaskSpec, load_suite

RecipeCheck = Callable[[SuperbTaskSpec, Path], object]  # raises DatasetError naming the first missing file


@dataclass(frozen=True)
class Piece:
    what: str  # task folder | metadata | label vocabulary | split file | labels | audio folder | audio files | ...
    path: Path
    missing: bool
    detail: str = ""


@dataclass
class TaskCheck:
    task: str
    kind: str  # hear | superb
    root: Path
    source: str  # where the task's data is published
    pieces: list[Piece] = field(default_factory=list)
    size_bytes: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def missing(self) -> list[Piece]:
        return [p for p in self.pieces if p.missing]


def _folder_bytes(folder: Path) -> int:
    total = 0
    for dirpath, _, files in os.walk(folder):
        for name in files:
            try:
                total += os.stat(os.path.join(dirpath, name)).st_size
            except OSError:
                pass  # a dangling link: no size
    return total


def _read_json(path: Path, check: TaskCheck, what: str):
    if not path.is_file():
        check.pieces.append(Piece(what, path, True))
        return None
    try:
        value = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        check.pieces.append(Piece(what, path, True, f"unreadable ({error})"))
        return None
    check.pieces.append(Piece(what, path, False))
    return value


def _vocabulary(path: Path, check: TaskCheck) -> set[str] | None:
    if not path.is_file():
        check.pieces.append(Piece("label vocabulary", path, True, "columns idx,label"))
        return None
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows or not {"idx", "label"} <= set(rows[0]):
        check.pieces.append(Piece("label vocabulary", path, True, "expected columns idx,label"))
        return None
    check.pieces.append(Piece("label vocabulary", path, False, f"{len(rows)} labels"))
    return {str(r["label"]) for r in rows}


def check_hear_task(spec: HearTaskSpec, data_root: Path, demo: bool = False) -> TaskCheck:
    root = spec.task_dir(data_root)
    check = TaskCheck(spec.name, "hear", root, hear_source(spec, demo))
    if not root.is_dir():
        check.pieces.append(Piece("task folder", root, True))
        return check
    metadata = _read_json(root / METADATA, check, "metadata")
    vocabulary = _vocabulary(root / VOCABULARY, check)
    if not isinstance(metadata, dict):
        return check
    try:
        splits = split_names(metadata, root / METADATA)
    except DatasetError as error:
        check.pieces.append(Piece("metadata", root / METADATA, True, str(error)))
        return check
    rates = rates_present(root)
    rate = 16000 if 16000 in rates else (48000 if 48000 in rates else (rates[0] if rates else None))
    if rate is None:
        names = ", ".join(f"{r}/" for r in HEAR_RATES)
        check.pieces.append(Piece("audio folder", root / "16000", True, f"no rate folder ({names})"))
    elif rate != 16000:
        check.notes.append(f"16000/ is made from {rate}/ on the first run (or: spear-bench data resample)")
    event = metadata.get("embedding_type") == "event"
    for split in splits:
        items = _read_json(root / f"{split}.json", check, "split file")
        if not isinstance(items, dict):
            continue
        if vocabulary is not None:
            used = set()
            for value in items.values():
                used |= {str(e["label"]) for e in value} if event else {str(v) for v in value}
            unknown = sorted(used - vocabulary)
            if unknown:
                check.pieces.append(
                    Piece("labels", root / f"{split}.json", True, f"{len(unknown)} not in {VOCABULARY}: {unknown[:5]}")
                )
        if rate is None:
            continue
        audio_dir = root / str(rate) / split
        if not audio_dir.is_dir():
            check.pieces.append(Piece("audio folder", audio_dir, True, f"{len(items)} files listed in {split}.json"))
            continue
        present = {}
        with os.scandir(audio_dir) as entries:
            for entry in entries:
                if entry.is_file():
                    present[entry.name] = entry.stat().st_size
        absent = [f for f in items if f not in present]
        check.size_bytes += sum(present.values())
        if absent:
            check.pieces.append(
                Piece(
                    "audio files",
                    audio_dir,
                    True,
                    f"{len(absent)} of {len(items)} listed in {split}.json, e.g. {absent[0]}",
                )
            )
        else:
            check.pieces.append(Piece("audio files", audio_dir, False, f"{len(items)} listed, all there"))
    check.size_bytes += sum(p.stat().st_size for p in root.iterdir() if p.is_file())
    return check


def check_superb_task(
    spec: SuperbTaskSpec, data_root: Path, recipe_check: RecipeCheck | None, demo: bool = False
) -> TaskCheck:
    root = spec.data_dir(data_root)
    check = TaskCheck(spec.name, "superb", root, superb_source(spec, demo))
    if not root.is_dir():
        check.pieces.append(Piece("corpus folder", root, True, spec.layout.description))
        return check
    for relative in spec.layout.required:
        check.pieces.append(Piece("corpus path", root / relative, not (root / relative).exists()))
    if spec.s3prl_entry is None:
        check.notes.append("not run by spear-bench (s3prl's own runner): only the corpus layout is checked")
    elif recipe_check is not None and not check.missing:
        try:
            recipe_check(spec, data_root)
            check.pieces.append(Piece("recipe files", root, False, "every file the recipe reads is there"))
        except DatasetError as error:
            check.pieces.append(Piece("recipe files", root, True, str(error)))
    return check


def check_suite(
    suite: str,
    data_root: Path,
    tasks: list[str] | None = None,
    recipe_check: RecipeCheck | None = None,
) -> list[TaskCheck]:
    """One TaskCheck per selected task, in suite order; corpus sizes counted once per folder."""
    demo = suite in DEMO_SUITES
    sizes: dict[Path, int] = {}
    out = []
    for spec in load_suite(suite).select(list(tasks or [])):
        if isinstance(spec, HearTaskSpec):
            out.append(check_hear_task(spec, data_root, demo))
        elif isinstance(spec, SuperbTaskSpec):
            check = check_superb_task(spec, data_root, recipe_check, demo)
            if check.root.is_dir():
                if check.root not in sizes:
                    sizes[check.root] = _folder_bytes(check.root)
                check.size_bytes = sizes[check.root]
            out.append(check)
    return out


def human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


def render(checks: list[TaskCheck]) -> list[str]:
    """The report: a line per task, then each missing piece with where it comes from."""
    lines = []
    for check in checks:
        missing = check.missing
        state = f"MISSING {len(missing)}" if missing else "ok"
        lines.append(f"{check.task:<24} {state:<10} {human_bytes(check.size_bytes):>9}  {check.root}")
        for piece in missing:
            detail = f" ({piece.detail})" if piece.detail else ""
            lines.append(f"    missing {piece.what}: {piece.path}{detail}")
        for note in check.notes:
            lines.append(f"    note: {note}")
        if missing:
            lines.append(f"    from: {check.source}")
    bad = sum(bool(c.missing) for c in checks)
    total = sum(c.size_bytes for c in checks)
    lines.append(
        f"{len(checks)} task(s): {len(checks) - bad} complete, {bad} with missing pieces; {human_bytes(total)} on disk"
    )
    return lines
