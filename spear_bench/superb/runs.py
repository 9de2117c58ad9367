"""SUPERB run folders, for the ``s3prl.problem`` tasks and the legacy-runner tasks alike: their one key,
and what a finished one keeps (:func:`prune_checkpoints`).

A run folder holds s3prl's checkpoints and results; s3prl resumes from what it finds there, so
the folder must change whenever anything that changes the numbers changes: the run's config
(less where it runs and how many loader workers it has), the model (weights by content), the
code version (spear-bench's sources and the libraries' versions) and the seed.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

# Where a run writes, and how many processes load its data: not part of what it computes.
PLACE_KEYS = ("target_dir", "cache_dir", "num_workers")


def run_folder_key(config: dict, model: dict, code: dict, seed: int) -> str:
    """12 hex digits of a hash of (config less :data:`PLACE_KEYS`, model identity, code version, seed)."""
    relevant = {k: v for k, v in config.items() if k not in PLACE_KEYS}
    keyed = {"config": relevant, "model": model, "code": code, "seed": int(seed)}
    return hashlib.sha256(json.dumps(keyed, sort_keys=True, default=str).encode()).hexdigest()[:12]


# --- what a finished run folder keeps ----------------------------------------------------------------

TRAIN_DIR = "train"  # s3prl's Problem.run trains under <target_dir>/train

# all: every checkpoint s3prl wrote (its resume points and its dev-best one); best: only the checkpoint
# the test scores came from; none: no weights (logs, configs, training statistics and scores stay).
KEEP_CHECKPOINTS = ("all", "best", "none")
WEIGHT_SUFFIXES = (".pt", ".ckpt")


def _remove(path: Path) -> int:
    """Delete a file or folder; the bytes it held."""
    if path.is_dir():
        size = sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
        shutil.rmtree(path)
        return size
    size = path.stat().st_size
    path.unlink()
    return size


def _step(path: Path) -> int:
    return int(path.name.split("_")[-1]) if path.is_dir() else int(path.stem.split("-")[-1])


def _steps(train: Path) -> list[Path]:
    """``train/step_N`` folders (s3prl.problem's resume points), oldest first."""
    return sorted((p for p in train.glob("step_*") if p.is_dir()), key=_step)


def tested_checkpoint(target_dir: Path) -> Path | None:
    """The checkpoint s3prl tests: ``train/valid_best`` (the best dev score), else the last ``train/step_*``
    (recipes that never validate, SuperbASV); None when there is none."""
    train = Path(target_dir) / TRAIN_DIR
    if (train / "valid_best").is_dir():
        return train / "valid_best"
    steps = _steps(train)
    return steps[-1] if steps else None


def prune_checkpoints(folder: Path, keep: str) -> int:
    """Delete the checkpoints a finished SUPERB run folder no longer needs (``keep``, one of
    :data:`KEEP_CHECKPOINTS`); the bytes freed.

    Call it only once the folder's scores are written: a fold's ``result.yaml`` (``s3prl.problem``) or
    a unit's ``metrics.json`` (legacy runner) is what marks it finished, and those are never deleted,
    so a later run reads them instead of training again. s3prl's layouts: ``train/step_N/`` (resume
    points) beside ``train/valid_best/`` (the tested one; the last step where the recipe never
    validates); legacy ``states-N.ckpt`` beside the expert's ``*best*.ckpt`` (else the newest states is
    the tested one). The checkpoints of a Base model's heads are hundreds of MB each (SS: 0.6 GB).
    """
    if keep not in KEEP_CHECKPOINTS:
        raise ValueError(f"keep must be one of {KEEP_CHECKPOINTS}, got {keep!r}")
    folder = Path(folder)
    if keep == "all" or not folder.is_dir():
        return 0
    freed = 0
    for train in [p for p in folder.rglob(TRAIN_DIR) if p.is_dir()]:  # s3prl.problem: train/step_N, valid_best
        tested = tested_checkpoint(train.parent)
        freed += sum(_remove(step) for step in _steps(train) if keep == "none" or step != tested)
    for expdir in sorted({p.parent for p in folder.rglob("states-*.ckpt")}):  # legacy runner
        states = sorted(expdir.glob("states-*.ckpt"), key=_step)
        tested = [] if any(expdir.glob("*best*.ckpt")) else states[-1:]
        freed += sum(_remove(state) for state in states if keep == "none" or state not in tested)
    if keep == "none":
        weights = [p for p in folder.rglob("*") if p.is_file() and p.suffix in WEIGHT_SUFFIXES]
        freed += sum(_remove(p) for p in weights)
    return freed
