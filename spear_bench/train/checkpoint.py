"""Checkpoints of a training run, one layout for pre-training and fine-tuning.

    <run>/checkpoints/step-00000300/train_state.pt  model, optimiser, schedule, data position... (rank 0)
                                   rng-rank<r>.pt   the random state of rank r (train.rng.capture_rng)
                                   ...              what the trainer exports (pre-training: encoder/)
    <run>/checkpoints/latest                        the name of the newest complete step folder

Why step folders and a ``latest`` pointer rather than one ``checkpoint.pt`` file:
- a DDP run has one random state per rank, written by that rank: a folder holds them all,
  and a checkpoint is complete only when every rank has written its file;
- a checkpoint may carry more than tensors (pre-training exports the encoder in the
  release layout beside its training state, loadable as it is);
- keeping the last N checkpoints (``keep_last``) needs N of them side by side.
A folder is written under a hidden temporary name and renamed when complete, then
``latest`` is rewritten atomically, so a run killed at any point resumes from the newest
complete checkpoint. Everything is saved so that it loads with
``torch.load(weights_only=True)``: nothing is unpickled but tensors and plain values.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Callable

import torch

from spear_bench.atomic_io import atomic_write_text, atomic_write_with
from spear_bench.errors import CheckpointError
from spear_bench.interrupts import note_finished
from spear_bench.train.distributed import barrier

CHECKPOINTS = "checkpoints"
LATEST = "latest"
TRAIN_STATE = "train_state.pt"


def rng_file(rank: int) -> str:
    return f"rng-rank{rank}.pt"


def step_name(step: int) -> str:
    return f"step-{step:08d}"


def _step_of(folder: Path) -> int | None:
    prefix, _, digits = folder.name.partition("-")
    return int(digits) if prefix == "step" and digits.isdigit() and folder.is_dir() else None


def save_state(state: dict, path: str | Path) -> Path:
    """``torch.save`` of ``state`` that readers see whole or not at all."""
    return atomic_write_with(path, lambda handle: torch.save(state, handle))


def load_state(path: str | Path) -> dict:
    """A file written by :func:`save_state` or :func:`save_checkpoint`, tensors only (``weights_only``)."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - a corrupt file, a pickle of objects: the same user error
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise CheckpointError(f"{path}: unreadable checkpoint ({first[:200]})") from error


def save_checkpoint(
    run_dir: str | Path,
    step: int,
    state: dict,
    rng: dict,
    rank: int = 0,
    keep_last: int = 1,
    export: Callable[[Path], None] | None = None,
) -> Path:
    """Write ``<run_dir>/checkpoints/step-XXXXXXXX/`` and point ``latest`` at it; every rank calls this.

    ``state`` (rank 0's) goes to train_state.pt, each rank's ``rng`` to rng-rank<r>.pt, and
    ``export(folder)`` (rank 0) may add files. Then rank 0 removes the checkpoints of later
    steps (left by an earlier run this one started over from) and all but the last ``keep_last``
    (all when ``keep_last`` is 0).
    """
    root = Path(run_dir) / CHECKPOINTS
    name = step_name(step)
    final, tmp = root / name, root / f".tmp-{name}"
    if rank == 0:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
    barrier()
    torch.save(rng, tmp / rng_file(rank))
    barrier()
    if rank == 0:
        torch.save(state, tmp / TRAIN_STATE)
        if export is not None:
            export(tmp)
        shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp, final)
        atomic_write_text(root / LATEST, name + "\n")
        steps = sorted((s, p) for p in root.iterdir() if (s := _step_of(p)) is not None)
        earlier = [p for s, p in steps if s <= step]
        kept = earlier[-keep_last:] if keep_last > 0 else earlier
        for _, folder in steps:
            if folder not in kept:
                shutil.rmtree(folder, ignore_errors=True)
        note_finished(f"the checkpoint of step {step} is saved in {final}")  # what an interrupt keeps
    barrier()
    return final


def latest_checkpoint(run_dir: str | Path) -> Path | None:
    """The folder ``latest`` names, or None when the run has no checkpoint."""
    pointer = Path(run_dir) / CHECKPOINTS / LATEST
    if not pointer.is_file():
        return None
    return pointer.parent / pointer.read_text().strip()


def load_checkpoint(folder: str | Path, rank: int = 0) -> tuple[dict, dict]:
    """(training state, this rank's random state) of a checkpoint folder."""
    folder = Path(folder)
    files = [folder / TRAIN_STATE, folder / rng_file(rank)]
    for path in files:
        if not path.is_file():
            raise CheckpointError(
                f"{path}: missing from the checkpoint (delete {folder} to restart from an earlier one)"
            )
    return load_state(files[0]), load_state(files[1])
