"""A HEAR task's audio at the rate a model reads, made from a rate the task folder has.

The HEAR tasks' free download holds every task at 48000 Hz only (docs/data.md); spear-bench and
heareval read ``<task>/16000/<split>/``. When that folder is absent, it is made once from the
rate that is there (48000 preferred, else the highest of HEAR's rates present) with the
resampler hear-preprocess itself uses, then read as usual:

- hear-preprocess (``hearpreprocess/util/audio.py``, ``resample_wav``) runs
  ``ffmpeg -i IN -af aresample=resampler=soxr -ar RATE OUT.wav``: FFmpeg's libswresample handing
  the samples to **libsoxr** at its default precision (20 bits, ``soxr_quality_spec(SOXR_HQ, 0)``:
  linear phase, libsoxr's default pass band), from the 32-bit float WAV of its previous step,
  written as FFmpeg's WAV default, 16-bit PCM (``lrintf(x * 32768)`` clipped, no dither).
- Here: the same libsoxr recipe through python-soxr (``soxr.resample(..., quality="HQ")``), on
  float32 samples, written back in the source file's format; 16-bit PCM is converted as FFmpeg
  converts it (round, clip; no dither), so the result does not depend on libsndfile's scaling.

Where: beside the task (``<task>/16000/``, made in ``16000.partial/`` and renamed when whole, so
heareval's own runners read the same files), or, when the task folder cannot be written, under
the cache (``<cache>/hear_audio/<folder>__<key>/16000/``). ``<task>/16000.resampled.json`` (or the
cache folder's) records the source rate and the resampler. A killed resampling resumes: every
file is written atomically and files already there are kept.
"""

from __future__ import annotations

import hashlib
import json
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import soundfile as sf
import soxr

from spear_bench.atomic_io import atomic_path, atomic_write_text
from spear_bench.errors import AudioError, DatasetError

HEAR_RATES = (16000, 22050, 32000, 44100, 48000)  # the rates hear-preprocess writes
RESAMPLER = f"libsoxr HQ (python-soxr {soxr.__version__}), as hear-preprocess's ffmpeg aresample=resampler=soxr"


@dataclass(frozen=True)
class ResampleResult:
    rate_dir: Path  # the folder holding <split>/ at the target rate
    source_rate: int | None  # None: the rate folder was already there
    files: int  # files written now


def resample_wave(wave: np.ndarray, source_rate: int, target_rate: int) -> np.ndarray:
    """float32 samples at ``source_rate`` to ``target_rate`` with libsoxr's HQ recipe (hear-preprocess's)."""
    return np.asarray(soxr.resample(np.asarray(wave, dtype=np.float32), source_rate, target_rate, quality="HQ"))


def _to_pcm16(wave: np.ndarray) -> np.ndarray:
    """FFmpeg's float to s16 conversion (libswresample: lrintf(x * 32768), clipped to int16)."""
    return np.clip(np.rint(wave.astype(np.float64) * 32768.0), -32768, 32767).astype(np.int16)


def resample_file(source: Path, target: Path, target_rate: int) -> None:
    """One file, written atomically in the source's format (a mono WAV/FLAC as hear-preprocess writes)."""
    try:
        info = sf.info(str(source))
        wave, rate = sf.read(str(source), dtype="float32", always_2d=False)
    except (sf.LibsndfileError, RuntimeError, OSError) as error:
        raise AudioError(f"{source}: unreadable audio ({error})") from error
    if wave.ndim != 1:
        raise AudioError(f"{source}: {wave.shape[1]} channels, HEAR task audio is mono")
    out = resample_wave(wave, rate, target_rate)
    if info.subtype == "PCM_16":
        out = _to_pcm16(out)
    else:
        out = np.clip(out, -1.0, 1.0)
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(target, suffix=target.suffix) as tmp:  # soundfile picks the container by suffix
        sf.write(str(tmp), out, target_rate, subtype=info.subtype, format=info.format)


def rates_present(task_root: Path) -> list[int]:
    """HEAR rate folders in a task folder, highest first."""
    return sorted((r for r in HEAR_RATES if (task_root / str(r)).is_dir()), reverse=True)


def source_rate(task_root: Path, target_rate: int) -> int:
    """The rate to resample from: 48000 (the published rate) when there, else the highest present."""
    rates = [r for r in rates_present(task_root) if r != target_rate]
    if not rates:
        raise DatasetError(
            f"expected audio folder {task_root / str(target_rate)} or a HEAR rate folder to make it from "
            f"({', '.join(str(r) for r in HEAR_RATES if r != target_rate)}/ under {task_root}); "
            "spear-bench data fetch hear downloads the published tasks"
        )
    return 48000 if 48000 in rates else rates[0]


def _writable(folder: Path) -> bool:
    """Whether files can be created in ``folder`` (tried, not guessed from permission bits: root ignores them)."""
    probe = folder / f".spear-bench-write-test-{os.getpid()}"
    try:
        probe.touch()
        probe.unlink()
        return True
    except OSError:
        return False


def cache_location(task_root: Path, cache_root: Path) -> Path:
    """Where a read-only task's resampled audio goes: one folder per task folder and metadata."""
    key = hashlib.sha256(str(task_root.resolve()).encode())
    metadata = task_root / "task_metadata.json"
    if metadata.is_file():
        key.update(metadata.read_bytes())
    return cache_root / f"{task_root.name}__{key.hexdigest()[:12]}"


def make_rate(
    task_root: Path,
    target_rate: int,
    out_root: Path | None = None,
    log: Callable[[str], None] | None = None,
    workers: int = 2,
) -> ResampleResult:
    """Write ``<out_root>/<target_rate>/<split>/...`` from the task's source rate folder (``out_root``:
    the task folder by default). Files already in the partial folder are kept (a resumed run)."""
    out_root = Path(out_root or task_root)
    final = out_root / str(target_rate)
    if final.is_dir():
        return ResampleResult(final, None, 0)
    rate = source_rate(task_root, target_rate)
    source_dir = task_root / str(rate)
    partial = out_root / f"{target_rate}.partial"
    jobs = [
        (path, partial / path.relative_to(source_dir))
        for path in sorted(source_dir.rglob("*"))
        if path.is_file() and not path.name.startswith(".")
    ]
    todo = [(s, t) for s, t in jobs if not t.exists()]
    if log:
        files = f"{len(todo)} of {len(jobs)} files"
        log(f"{task_root.name}: making {target_rate} Hz audio from {rate}/ ({files}; {RESAMPLER})")
    partial.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:  # libsoxr runs outside the GIL
        list(pool.map(lambda job: resample_file(job[0], job[1], target_rate), todo))
    atomic_write_text(
        out_root / f"{target_rate}.resampled.json",
        json.dumps({"source": str(source_dir), "source_rate": rate, "rate": target_rate, "resampler": RESAMPLER}),
    )
    try:
        os.replace(partial, final)
    except OSError:
        if not final.is_dir():  # another worker renamed its copy first: use that one
            raise
    return ResampleResult(final, rate, len(todo))


def audio_root_at(
    task_root: Path,
    target_rate: int,
    splits: list[str],
    cache_root: Path | None,
    log: Callable[[str], None] | None = None,
) -> Path:
    """The folder whose ``<split>/`` subfolders hold the task's audio at ``target_rate``, made when absent.

    Beside the task when it can be written, else under ``cache_root`` (an error naming both when
    there is no cache)."""
    here = task_root / str(target_rate)
    if here.is_dir():
        missing = [s for s in splits if not (here / s).is_dir()]
        if missing:
            raise DatasetError(
                f"expected audio folder {here / missing[0]} (audio at {target_rate} Hz for split {missing[0]!r})"
            )
        return here
    source_rate(task_root, target_rate)  # a one-line error when there is nothing to resample from
    if _writable(task_root):
        return make_rate(task_root, target_rate, log=log).rate_dir
    if cache_root is None:
        raise DatasetError(
            f"{task_root}: no {target_rate}/ audio folder and the folder is read-only; "
            "spear-bench data resample --to DIR writes a resampled copy"
        )
    return make_rate(task_root, target_rate, out_root=cache_location(task_root, cache_root), log=log).rate_dir
