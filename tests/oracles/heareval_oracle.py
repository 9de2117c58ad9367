"""heareval 2021.1.3 as the oracle of spear-bench's HEAR protocol, end to end.

Synthetic HEAR task folders whose audio *is* the embedding, so that heareval's pipeline
(``task_embeddings`` -> ``task_predictions``, its own code) and spear-bench's
(:func:`~spear_bench.bench.hear_runner.run_hear_task`) see the same embeddings through
their own readers, orders and probes:

* this module is also a HEAR 2021 module (``load_model``, ``get_scene_embeddings``,
  ``get_timestamp_embeddings``): the scene embedding of a clip is its samples, the
  timestamp embeddings are its samples cut into ``dim``-sized frames (50 ms apart);
* :func:`make_task` writes a task folder as hearpreprocess does: ``task_metadata.json``,
  ``labelvocabulary.csv``, ``<split>.json`` with the files sorted by name, and the names
  start with the label (as Speech Commands'), so a split read in file order is sorted by
  label; the audio is 32-bit float WAV (the values survive exactly);
* :func:`run_heareval` and :func:`run_spear_bench` run each pipeline on it, CPU, with
  heareval's defaults except ``max_epochs`` (and ``grid_points`` where a caller asks).

Test support, not library code: used by tests/test_heareval_oracle.py (the parity tests),
tests/test_heareval_runners.py and the benchmarks (which put tests/ on ``sys.path``); its HEAR module
name is ``oracles.heareval_oracle``.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import logging
import os
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

import numpy as np
import soundfile as sf
import torch

from spear_bench.bench.cache import EmbeddingCache
from spear_bench.bench.hear_runner import run_hear_task
from spear_bench.bench.probe import ProbeConfig
from spear_bench.bench.scored_model import BenchModel, HearModelHandle
from spear_bench.compat.heareval import install_heareval_hook
from spear_bench.task_registry import HearTaskSpec

MODULE = __name__  # the HEAR module name heareval imports
SAMPLE_RATE = 16000
EVENT_HOP_MS = 50.0
AMPLITUDE = 0.1  # embeddings are scaled into the usual audio range (float WAV keeps them exactly)


# --- the HEAR module: the audio is the embedding ----------------------------------------------------


class VectorModel(torch.nn.Module):
    """A HEAR model without weights: a torch module (heareval's torch path), ``dim``-d embeddings."""

    sample_rate = SAMPLE_RATE

    def __init__(self, dim: int):
        super().__init__()
        self.dim = int(dim)
        self.scene_embedding_size = self.timestamp_embedding_size = self.dim


def load_model(model_file_path: str = "", dim: int = 16) -> VectorModel:
    return VectorModel(dim)


def get_scene_embeddings(audio: torch.Tensor, model: VectorModel) -> torch.Tensor:
    if audio.shape[1] != model.dim:
        raise ValueError(f"scene clips of this task hold one {model.dim}-d embedding, got {audio.shape[1]} samples")
    return audio.float()


def get_timestamp_embeddings(audio: torch.Tensor, model: VectorModel) -> tuple[torch.Tensor, torch.Tensor]:
    n, samples = audio.shape
    if samples % model.dim:
        raise ValueError(f"event clips of this task hold {model.dim}-d frames, got {samples} samples")
    frames = samples // model.dim
    timestamps = (torch.arange(frames, dtype=torch.float32) + 0.5) * EVENT_HOP_MS
    return audio.float().reshape(n, frames, model.dim), timestamps.expand(n, frames).contiguous()


# --- synthetic task folders --------------------------------------------------------------------------


@dataclass(frozen=True)
class OracleTask:
    """A synthetic task: ``kind`` scene (train/valid/test), kfold (scene, ``folds`` folds) or event."""

    name: str
    kind: str
    clips: dict[str, int]  # split -> clips
    classes: int
    dim: int = 16
    separation: float = 3.0  # distance between class means, in noise standard deviations
    frames: int = 40  # event clips: frames per clip (50 ms apart)
    seed: int = 0
    amplitude: float = AMPLITUDE  # the embedding is this times (class mean + unit noise)

    @property
    def labels(self) -> list[str]:
        return [f"c{i:02d}" for i in range(self.classes)]

    @property
    def evaluation(self) -> list[str]:
        return ["event_onset_200ms_fms", "segment_1s_er"] if self.kind == "event" else ["top1_acc", "mAP"]

    def spec(self) -> HearTaskSpec:
        """The task definition spear-bench runs it with (as a tasks/*.yaml entry would give it)."""
        kfold = self.kind == "kfold"
        return HearTaskSpec(
            name=self.name,
            short=self.name,
            title=self.name,
            group="environment",
            folder=self.name,
            level="timestamp" if self.kind == "event" else "scene",
            prediction_type="multilabel" if self.kind == "event" else "multiclass",
            metric=self.evaluation[0],
            metrics=tuple(self.evaluation),
            split_mode="new_split_kfold" if kfold else "trainvaltest",
            folds=len(self.clips) if kfold else None,
            sample_duration=self.duration,
        )

    @property
    def duration(self) -> float:
        samples = self.dim * (self.frames if self.kind == "event" else 1)
        return samples / SAMPLE_RATE


def make_task(root: Path, task: OracleTask) -> Path:
    """Write the task folder ``root/<name>`` (hearpreprocess layout); returns it."""
    rng = np.random.default_rng(task.seed)
    folder = root / task.name
    means = rng.normal(size=(task.classes, task.dim)) * task.separation / np.sqrt(2)
    metadata = {
        "task_name": task.name,
        "version": "oracle",
        "embedding_type": "event" if task.kind == "event" else "scene",
        "prediction_type": task.spec().prediction_type,
        "split_mode": task.spec().split_mode,
        "sample_duration": task.duration,
        "evaluation": task.evaluation,
        "splits": list(task.clips),
        **({"nfolds": len(task.clips)} if task.kind == "kfold" else {}),
    }
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "task_metadata.json").write_text(json.dumps(metadata, indent=4))
    with (folder / "labelvocabulary.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["idx", "label"])
        writer.writerows(enumerate(task.labels))
    for split, n in task.clips.items():
        items = {}
        audio_dir = folder / str(SAMPLE_RATE) / split
        audio_dir.mkdir(parents=True, exist_ok=True)
        for i in range(n):
            if task.kind == "event":
                x, events = _event_clip(rng, means, task)
                name = f"{split}_{i:05d}.wav"
                items[name] = events
            else:
                c = int(rng.integers(task.classes))
                x = means[c] + rng.normal(size=task.dim)
                name = f"{task.labels[c]}_{split}_{i:05d}.wav"  # the label first: sorted names are sorted labels
                items[name] = [task.labels[c]]
            sf.write(
                audio_dir / name, (task.amplitude * x.reshape(-1)).astype(np.float32), SAMPLE_RATE, subtype="FLOAT"
            )
        (folder / f"{split}.json").write_text(json.dumps(dict(sorted(items.items())), indent=1))
    return folder


def _event_clip(rng: np.random.Generator, means: np.ndarray, task: OracleTask) -> tuple[np.ndarray, list[dict]]:
    """One or two events (distinct labels, at least 6 frames each) over background noise."""
    x = rng.normal(size=(task.frames, task.dim))
    events = []
    for c in rng.choice(task.classes, size=int(rng.integers(1, 3)), replace=False):
        start = int(rng.integers(0, task.frames - 8))
        end = int(rng.integers(start + 6, min(task.frames, start + 24) + 1))
        x[start:end] += means[c]
        events.append({"label": task.labels[c], "start": start * EVENT_HOP_MS, "end": end * EVENT_HOP_MS})
    return x, sorted(events, key=lambda e: (e["start"], e["label"]))


# --- heareval's pipeline -------------------------------------------------------------------------------


@contextlib.contextmanager
def heareval_session(workdir: Path, verbose: bool = False):
    """Run heareval quietly in ``workdir`` and put back the process state it changes.

    Lightning's ``deterministic=True`` switches on ``torch.use_deterministic_algorithms`` and
    sets environment variables (``seed_everything`` sets ``PL_GLOBAL_SEED``); heareval prints
    a lot (torchinfo summaries, tqdm bars, the profiler report): captured, and shown only if
    it fails (or with ``verbose``). The compatibility shims it needs are installed here too,
    for a process started without the package's .pth (:mod:`spear_bench.compat.heareval`).
    """

    install_heareval_hook()
    saved_env = dict(os.environ)
    saved_deterministic = torch.are_deterministic_algorithms_enabled()
    saved_threads = torch.get_num_threads()
    loggers = [logging.getLogger(name) for name in ("pytorch_lightning", "lightning_fabric", "lightning")]
    saved_levels = [lg.level for lg in loggers]
    captured = io.StringIO()
    try:
        with contextlib.chdir(workdir), warnings.catch_warnings():
            if verbose:
                yield
                return
            warnings.simplefilter("ignore")
            for lg in loggers:
                lg.setLevel(logging.ERROR)
            try:
                with contextlib.redirect_stdout(captured), contextlib.redirect_stderr(captured):
                    yield
            except BaseException:
                sys.stderr.write(captured.getvalue()[-20000:])
                raise
    finally:
        os.environ.clear()
        os.environ.update(saved_env)
        torch.use_deterministic_algorithms(saved_deterministic)
        torch.set_num_threads(saved_threads)
        for lg, level in zip(loggers, saved_levels):
            lg.setLevel(level)


def heareval_embeddings(task_dir: Path, embeddings_dir: Path, dim: int) -> Path:
    """heareval's ``task_embeddings`` with this module as the HEAR module; returns the embedding folder."""
    from heareval.embeddings.task_embeddings import Embedding, task_embeddings

    out = embeddings_dir / task_dir.name
    task_embeddings(Embedding(MODULE, None, {"dim": dim}), task_dir, out)
    return out


def heareval_predictions(embedding_dir: Path, dim: int, max_epochs: int, grid_points: int = 8) -> dict:
    """heareval's ``task_predictions`` (its runner's defaults, CPU) with ``max_epochs``; its results JSON."""
    from heareval.predictions import task_predictions as predictions

    logger = logging.getLogger("spear_bench.heareval_oracle")  # task_predictions logs every grid point at INFO
    logger.propagate = False
    if not logger.handlers:
        logger.addHandler(logging.NullHandler())
    with mock.patch.dict(predictions.PARAM_GRID, {"max_epochs": [max_epochs]}):
        predictions.task_predictions(
            embedding_path=embedding_dir.resolve(),
            embedding_size=dim,
            grid_points=grid_points,
            gpus=None,
            in_memory=True,
            deterministic=True,
            grid="default",
            logger=logger,
        )
    return json.loads((embedding_dir / "test.predicted-scores.json").read_text())


def heareval_summary(results: dict, evaluation: list[str]) -> dict:
    """heareval's results JSON as {"best_point", "scores" (mean over folds), "validation_score"}."""
    # one entry per test fold ("test", or "fold00" ...), each with its validation_score; not "aggregated_scores"
    folds = {k: v for k, v in results.items() if isinstance(v, dict) and "validation_score" in v}
    scores = {m: float(np.nanmean([float(v[f"test_{m}"]) for v in folds.values()])) for m in evaluation}
    hparams = results["hparams"]
    first = next(iter(folds.values()))
    point = {
        "hidden_layers": int(hparams["hidden_layers"]),
        "initialization": init_name(hparams["initialization"]),
        "lr": float(hparams["lr"]),
    }
    return {
        "best_point": point,
        "scores": scores,
        "validation_score": float(first["validation_score"]),
        "postprocessing": [list(p) for p in results.get("postprocessing") or []],
    }


def init_name(serialized: str) -> str:
    """heareval stores the init function as str(function): '<function xavier_uniform_ at 0x...>'."""
    for name in ("xavier_normal", "xavier_uniform"):
        if name in serialized:
            return name
    return serialized


def run_heareval(
    task_dir: Path,
    workdir: Path,
    dim: int,
    max_epochs: int,
    evaluation: list[str],
    grid_points: int = 8,
    verbose: bool = False,
) -> dict:
    """heareval end to end (embeddings, then the probe grid) on a task folder of this module."""
    workdir.mkdir(parents=True, exist_ok=True)
    with heareval_session(workdir, verbose):
        embedding_dir = heareval_embeddings(task_dir, workdir / "embeddings", dim)
    return run_heareval_predictions(embedding_dir, workdir, dim, max_epochs, evaluation, grid_points, verbose)


def run_heareval_predictions(
    embedding_dir: Path,
    workdir: Path,
    dim: int,
    max_epochs: int,
    evaluation: list[str],
    grid_points: int = 8,
    verbose: bool = False,
) -> dict:
    """heareval's probe grid on embeddings it already wrote (:func:`heareval_embeddings`); its summary."""
    workdir.mkdir(parents=True, exist_ok=True)
    with heareval_session(workdir, verbose):
        results = heareval_predictions(embedding_dir, dim, max_epochs, grid_points)
    return heareval_summary(results, evaluation)


# --- spear-bench's pipeline ----------------------------------------------------------------------------


def vector_handle(dim: int, device: str = "cpu"):
    """This module as a spear-bench HEAR model (``hear:oracles.heareval_oracle`` with its ``dim``)."""

    model = BenchModel(name="heareval_oracle", hear_module=MODULE, hear_kwargs={"dim": dim}, family="hear")
    return HearModelHandle(model, device)


def run_spear_bench(
    task: OracleTask, data_root: Path, cache_dir: Path, max_epochs: int, grid_points: int = 8, seed: int = 42
) -> dict:
    """spear-bench's run_hear_task on the task folder (embeddings cached under ``cache_dir``)."""

    handle = vector_handle(task.dim)
    cache = EmbeddingCache(cache_dir, "heareval_oracle", handle.weights_hash, "last")
    config = ProbeConfig(max_epochs=max_epochs, grid_points=grid_points, seed=seed)
    result = run_hear_task(task.spec(), data_root, handle, cache, config)
    grid, point = result.details["grid"], result.details["best_point"]
    best = next(g for g in grid if {k: g[k] for k in point} == point)
    return {
        "best_point": point,
        "scores": result.scores,
        "validation_score": float(best["validation_score"]),
        "postprocessing": sorted((best.get("postprocessing") or {}).items()),
        "grid": grid,
    }


# --- the three parity tasks (tests/test_heareval_oracle.py, benchmarks/heareval_oracle_noise.py) ---------

ORACLE_MAX_EPOCHS = 9  # three validation checks (every 3 epochs); heareval's other defaults unchanged
ORACLE_TASKS = {
    # > 1024 training clips, names (and so the split JSON) sorted by label, as Speech Commands
    "scene": OracleTask("oracle_scene", "scene", {"train": 1100, "valid": 200, "test": 200}, classes=8, separation=1.5),
    # heareval selects the grid point on its first split only (test fold00, valid fold01, train fold02):
    # folds of > 1024 clips give two steps an epoch, as the scene task, and a valid fold of 1100 clips
    "kfold": OracleTask(
        "oracle_kfold", "kfold", {"fold00": 1100, "fold01": 1100, "fold02": 1100}, classes=6, separation=1.5
    ),
    # Built so that one grid point wins on every seed. Separation 1.0: a class's frames lie 2.8 noise
    # SDs from the background's, so frames are misread and the validation onset F-measure stays near
    # 0.75 instead of saturating at 1.0 (at separation 2.0 every point but lr 1e-4 reached ~1.0 and
    # heareval's tie rule chose). Amplitude 0.3: the first-layer activations are small against the
    # 1.0 BatchNorm's running variance starts from, so eval-mode outputs are squashed; through two
    # BatchNorm layers the 2-hidden-layer points predict few or no events (a NaN score) in 9 epochs,
    # and among the 1-hidden-layer points lr decides: 80 training clips of 30 frames (2400 frames,
    # three steps an epoch) leave 3.2e-4 and 1e-4 behind 1e-3. 200 validation clips, not 100: less
    # validation noise, the margin over the runner-up on the worst seed went from 0.015 to 0.061
    # (figures at PARITY_TASKS)
    "event": OracleTask(
        "oracle_event",
        "event",
        {"train": 80, "valid": 200, "test": 100},
        classes=3,
        frames=30,
        separation=1.0,
        amplitude=0.3,
    ),
}

# Largest spread (max - min) of each test score of spear-bench's probe over seeds 0-4 and 42 on each task,
# measured with benchmarks/heareval_oracle_noise.py (docs/orchestration.md), rounded up to 0.001: the
# most two correct implementations with different random streams can be expected to differ by.
# scene: top1_acc 0.895-0.940 (range 0.045), mAP 0.9503-0.9639 (0.0137);
# kfold (mean of 3 folds): top1_acc 0.9052-0.9455 (0.0403), mAP 0.9715-0.9763 (0.0047);
# event: event_onset_200ms_fms 0.7405-0.7724 (0.0319), segment_1s_er 0.2025-0.2562 (0.0537).
SEED_TOLERANCE = {
    "scene": {"top1_acc": 0.045, "mAP": 0.014},
    "kfold": {"top1_acc": 0.041, "mAP": 0.005},
    "event": {"event_onset_200ms_fms": 0.032, "segment_1s_er": 0.054},
}
# Tasks whose grid point and test scores are compared with heareval's (tests/test_heareval_oracle.py):
# those where spear-bench picks the same grid point on every seed, its validation score above every
# other grid point's on every seed (scene: 0.890-0.950 against at most 0.870; kfold: 0.920-0.950
# against at most 0.898; both 1 hidden layer, xavier_normal, lr 1e-3). event: 1 hidden layer,
# xavier_normal, lr 1e-3 on every seed, validation onset F 0.741-0.787 against at most 0.715
# (1h/xavier_normal/3.2e-4), ahead of the runner-up on each seed by 0.061-0.101; the 2-hidden-layer
# points at most 0.589 (most predict no event: NaN, ranked last as heareval's checkpoint ranks it).
PARITY_TASKS = ("scene", "kfold", "event")
