"""The HEAR protocol for one (model, task): cached embeddings -> probe grid -> test scores -> rows.

Follows heareval 2021.1.3 (``heareval.embeddings`` + ``heareval.predictions``):

1. embeddings of every file of every split, computed once through the HEAR module and
   cached (:mod:`spear_bench.bench.cache`); timestamp tasks label each frame with the events
   active at its timestamp;
2. the grid points (:func:`~spear_bench.bench.probe.select_grid_points`) trained on the
   first data split, model selection on its validation score;
3. the best grid point retrained on every other split (k-fold), each split's model scored
   on its test fold with every metric of the task's ``evaluation`` list; k-fold scores are
   averaged over folds;
4. predictions (probabilities, targets, files; events for timestamp tasks) and a details
   file saved next to the results.
"""

from __future__ import annotations

import functools
import io
import json
import math
import random
import time
from collections import defaultdict
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from sklearn.model_selection import ParameterGrid

from spear_bench.atomic_io import atomic_write_bytes, atomic_write_text
from spear_bench.audio import load_audio
from spear_bench.bench.cache import EmbeddingCache
from spear_bench.bench.extract import ExtractConfig, audio_length, load_batches, timed
from spear_bench.bench.fingerprint import embedding_settings
from spear_bench.bench.hear_data import HearTaskData, frame_labels, read_task
from spear_bench.bench.probe import (
    ProbeConfig,
    ProbeSplit,
    ScoreResult,
    TrainedProbe,
    best_probe,
    loss_per_point,
    select_grid_points,
    train_grid,
)
from spear_bench.bench.runner import EmbedStats, RunContext, TaskResult
from spear_bench.bench.scored_model import BenchModel, HearModelHandle
from spear_bench.errors import AudioError, DatasetError
from spear_bench.hear_metrics import event_metric_details, events_from_frame_predictions, get_metric
from spear_bench.task_registry import HearTaskSpec

# heareval's task_embeddings seeds one random.Random with 0 per task for its file shuffle.
HEAREVAL_FILE_SHUFFLE_SEED = 0


# --- embeddings -----------------------------------------------------------------------------------


def _load_clip(item: tuple[str, str, Path, str], sample_rate: int) -> torch.Tensor | AudioError:
    # A bad clip is returned, not raised: a DataLoader worker would wrap the one-line error in a
    # multi-line traceback, and the good clips of its batch must still be embedded and cached.
    try:
        return load_audio(item[2], target_sr=sample_rate)
    except AudioError as error:
        return error


def compute_embeddings(
    task: HearTaskData,
    task_name: str,
    handle: HearModelHandle,
    cache: EmbeddingCache,
    progress: Callable[[int], None] | None = None,
    extract: ExtractConfig | None = None,
) -> tuple[dict[str, dict[str, dict[str, np.ndarray]]], EmbedStats]:
    """split -> file -> arrays ("embedding", and "timestamps" for event tasks), from the cache or the model.

    The misses of every split are embedded together (:mod:`spear_bench.bench.extract`):
    batches of equal-length clips (a HEAR module takes unpadded batches) within the frame
    budget, decoded by DataLoader workers while the model runs.
    """
    start = time.perf_counter()
    extract = extract or ExtractConfig(dtype=handle.dtype)
    hits0, misses0 = cache.hits, cache.misses
    event = task.embedding_type == "event"
    sample_rate = handle.sample_rate
    found: dict[tuple[str, str], dict[str, np.ndarray]] = {}
    missing: list[tuple[str, str, Path, str]] = []  # (file, audio hash, path, split)
    clips = task.clips(sample_rate)
    for (split, file, path), audio_hash in zip(clips, cache.audio_hashes([path for _, _, path in clips])):
        arrays = cache.get(task_name, split, file, audio_hash)
        if arrays is None:
            missing.append((file, audio_hash, path, split))
        else:
            found[(split, file)] = arrays
            if progress:
                progress(1)
    bad: list[tuple[AudioError, str]] = []  # (error, split): reported once every good clip is cached
    readable, lengths = [], []
    for item in missing:
        try:
            lengths.append(audio_length(item[2], sample_rate))
            readable.append(item)
        except AudioError as error:
            bad.append((error, item[3]))
    load = functools.partial(_load_clip, sample_rate=sample_rate)
    with timed("hear"):
        for items, waves in load_batches(readable, lengths, load, extract, equal_lengths=True):
            by_length: dict[int, list[int]] = defaultdict(list)  # headers and decoded lengths may disagree
            for i, wave in enumerate(waves):
                if isinstance(wave, AudioError):
                    bad.append((wave, items[i][3]))
                else:
                    by_length[wave.numel()].append(i)
            for group in by_length.values():
                audio = torch.stack([waves[i] for i in group])
                if event:
                    embeddings, timestamps = handle.timestamp_embeddings(audio)
                else:
                    embeddings, timestamps = handle.scene_embeddings(audio), None
                for j, i in enumerate(group):
                    file, audio_hash, _, split = items[i]
                    arrays = {"embedding": embeddings[j].numpy().astype(np.float32)}
                    if timestamps is not None:
                        arrays["timestamps"] = timestamps[j].numpy().astype(np.float64)
                    cache.put(task_name, split, file, audio_hash, arrays)
                    found[(split, file)] = arrays
            if progress:
                progress(len(items))
    if bad:  # the work done is kept: every readable clip is embedded and cached above
        error, split = bad[0]
        more = f"; {len(bad) - 1} more unreadable clip(s)" if len(bad) > 1 else ""
        raise DatasetError(
            f"{error} (listed in {task.root / (split + '.json')}{more}; embeddings done so far are cached)"
        )
    out = {split: {file: found[(split, file)] for file in task.split_items[split]} for split in task.splits}
    stats = EmbedStats(cache.hits - hits0, cache.misses - misses0, time.perf_counter() - start)
    return out, stats


def heareval_file_order(task: HearTaskData) -> dict[str, list[str]]:
    """split -> its files in the order of heareval's embeddings memmap, which its probe reads unshuffled.

    heareval's ``task_embeddings`` seeds one ``random.Random(0)`` per task and, split after split
    in ``task_metadata.json``'s ``splits`` order, shuffles that split's file list (its split
    JSON's key order) before writing the memmap. The generator's state carries over from one
    split to the next, so every split of the task is replayed here, in that order.
    hearpreprocess writes the split JSONs sorted by file name, which on some tasks (Speech
    Commands, NSynth) sorts them by label: without this shuffle a batch holds one or two classes.
    """
    names = list(task.metadata.get("splits") or task.splits)
    if sorted(names) != sorted(task.splits):
        raise DatasetError(
            f"{task.root / 'task_metadata.json'}: splits {names} do not match the split files {task.splits}"
        )
    prng = random.Random(HEAREVAL_FILE_SHUFFLE_SEED)
    order = {}
    for split in names:
        files = list(task.split_items[split])
        prng.shuffle(files)
        order[split] = files
    return order


def build_probe_split(task: HearTaskData, splits: list[str], embeddings: dict) -> ProbeSplit:
    """Instances of the given splits (concatenated in the order given, as heareval's ConcatDataset of
    folds), each split in heareval's memmap order: clips for scene tasks, frames for event tasks."""
    index = {label: i for i, label in enumerate(task.labels)}
    xs, ys, files, stamps, clip_files = [], [], [], [], []
    target_events: dict = {}
    order = heareval_file_order(task)
    for split in splits:
        for file in order[split]:
            value = task.split_items[split][file]
            arrays = embeddings[split][file]
            if task.embedding_type == "event":
                emb, ts = arrays["embedding"], arrays["timestamps"]
                if emb.ndim != 2 or emb.shape[0] != ts.shape[0]:
                    raise DatasetError(f"timestamp embeddings of {file}: shape {emb.shape} vs {ts.shape} timestamps")
                for labels in frame_labels(value, ts):
                    y = np.zeros(len(index), dtype=np.float32)
                    y[[index[label] for label in labels]] = 1.0
                    ys.append(y)
                xs.append(emb)
                files.extend([file] * emb.shape[0])
                stamps.append(ts)
                target_events[file] = value
            else:
                emb = arrays["embedding"]
                y = np.zeros(len(index), dtype=np.float32)
                y[[index[str(label)] for label in value]] = 1.0
                if task.prediction_type == "multiclass" and len(value) != 1:
                    raise DatasetError(
                        f"{task.root / (split + '.json')}: {file} has {len(value)} labels, a multiclass task needs one"
                    )
                xs.append(emb[None, :])
                ys.append(y)
                clip_files.append(file)
    x = torch.from_numpy(np.concatenate(xs).astype(np.float32))
    y = torch.from_numpy(np.stack(ys))
    if not torch.isfinite(x).all():
        raise DatasetError(f"non-finite embeddings for task {task.name} (splits {splits})")
    if task.embedding_type == "event":
        return ProbeSplit(x, y, files=files, timestamps=np.concatenate(stamps), target_events=target_events)
    return ProbeSplit(x, y, clip_files=clip_files)


# --- scoring --------------------------------------------------------------------------------------


def postprocessing_options(grid: dict) -> list[tuple]:
    return [tuple(p.items()) for p in ParameterGrid(grid)]


def predicted_events(probabilities: np.ndarray, split: ProbeSplit, labels: list[str], postprocessing: tuple) -> dict:
    """file -> events, for every file of the split (files without events map to [])."""
    by_file: dict[str, list[int]] = defaultdict(list)
    for i, file in enumerate(split.files):
        by_file[file].append(i)
    out = {}
    for file, rows in by_file.items():
        out[file] = events_from_frame_predictions(
            probabilities[rows], split.timestamps[rows], labels, **dict(postprocessing)
        )
    return out


def _fast_label_score(metric: str, probabilities: torch.Tensor, y: torch.Tensor) -> list[float] | None:
    """Vectorised (G, N, C) versions of the argmax metrics (same definitions as metrics.py)."""
    if metric in ("top1_acc", "pitch_acc"):
        return (probabilities.argmax(-1) == y.argmax(-1)).float().mean(-1).tolist()
    if metric == "chroma_acc":
        return (probabilities.argmax(-1) % 12 == y.argmax(-1) % 12).float().mean(-1).tolist()
    return None


def make_scorer(task: HearTaskData, config: ProbeConfig):
    """The validation scorer heareval monitors: the first evaluation score, or the loss when scoring is off."""
    primary = task.evaluation[0]
    metric = get_metric(primary)
    event = task.embedding_type == "event"
    options = postprocessing_options(config.event_postprocessing_grid) if event else []

    if not config.use_scoring_for_early_stopping:

        def loss_scorer(probabilities, logits, split):
            losses = loss_per_point(logits, split.y, task.prediction_type).tolist()
            return ScoreResult(losses, [options[0]] * len(losses) if event else None)

        if event and len(options) != 1:
            raise DatasetError(
                f"{task.root / 'task_metadata.json'}: without scoring for early stopping "
                "the event post-processing grid must have one point"
            )
        return loss_scorer, "min"

    def scorer(probabilities: torch.Tensor, logits: torch.Tensor, split: ProbeSplit) -> ScoreResult:
        if not event:
            fast = _fast_label_score(primary, probabilities, split.y)
            if fast is not None:
                return ScoreResult(fast)
            y = split.y.cpu().numpy()
            return ScoreResult([metric(p, y) for p in probabilities.cpu().numpy()])
        scores, chosen = [], []
        for p in probabilities.cpu().numpy():
            candidates = []
            for post in options:
                value = metric(predicted_events(p, split, task.labels, post), split.target_events, task.labels)
                candidates.append((0.0 if math.isnan(value) else value, post, value))
            candidates.sort(key=lambda c: (c[0], c[1]), reverse=True)  # heareval: sort (score, post) descending
            scores.append(candidates[0][2])
            chosen.append(candidates[0][1])
        return ScoreResult(scores, chosen)

    return scorer, ("max" if metric.higher_is_better else "min")


def test_scores(
    task: HearTaskData, probe: TrainedProbe, test: ProbeSplit, config: ProbeConfig
) -> tuple[dict, dict, dict]:
    """(scores, details, predictions) of one trained probe on a test split."""
    probabilities = probe.predict(test.x.to(config.device), task.prediction_type, config.dropout).cpu().numpy()
    targets = test.y.numpy()
    scores, details = {}, {}
    predictions = {"prediction": probabilities.astype(np.float32), "target": targets}
    if task.embedding_type == "event":
        post = probe.postprocessing or postprocessing_options(config.event_postprocessing_grid)[0]
        events = predicted_events(probabilities, test, task.labels, post)
        for name in task.evaluation:
            sub = event_metric_details(name, events, test.target_events, task.labels)
            primary = "error_rate" if name.startswith("segment_") else "f_measure"
            scores[name] = sub[primary]
            details[name] = sub
        predictions.update(timestamps=test.timestamps, files=np.array(test.files))
        predictions["events"] = events
        details["postprocessing"] = dict(post)
    else:
        for name in task.evaluation:
            scores[name] = get_metric(name)(probabilities, targets, task.labels)
        predictions["files"] = np.array(test.clip_files)
    return scores, details, predictions


def save_predictions(folder: Path, name: str, predictions: dict) -> None:
    events = predictions.pop("events", None)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **predictions)
    atomic_write_bytes(folder / f"{name}.predictions.npz", buffer.getvalue())
    if events is not None:
        atomic_write_text(folder / f"{name}.events.json", json.dumps(events, indent=1))


# --- the task -------------------------------------------------------------------------------------


def run_hear_task(
    spec: HearTaskSpec,
    data_root: Path,
    handle: HearModelHandle,
    cache: EmbeddingCache,
    config: ProbeConfig,
    predictions_dir: Path | None = None,
    progress_factory: Callable[[str, int], Callable[[int], None]] | None = None,
    extract: ExtractConfig | None = None,
) -> TaskResult:
    # the module's rate, made from the task's published rate under the cache when the task lacks it
    task = read_task(
        spec, data_root, sample_rate=handle.sample_rate, resample_cache=Path(cache.root).parent / "hear_audio"
    )
    n_files = sum(len(items) for items in task.split_items.values())
    embed_progress = progress_factory(f"{spec.name}: embeddings", n_files) if progress_factory else None
    embeddings, embed_stats = compute_embeddings(task, spec.name, handle, cache, embed_progress, extract)
    config = config.with_task_overrides(task.metadata)
    scorer, mode = make_scorer(task, config)
    data_splits = task.data_splits()
    points = select_grid_points(config)
    start = time.perf_counter()
    first = data_splits[0]
    train = build_probe_split(task, first["train"], embeddings)
    valid = build_probe_split(task, first["valid"], embeddings)
    probe_progress = (
        progress_factory(
            f"{spec.name}: probe grid", config.max_epochs * len(points) + config.max_epochs * (len(data_splits) - 1)
        )
        if progress_factory
        else None
    )
    grid = train_grid(points, train, valid, task.prediction_type, scorer, mode, config, probe_progress)
    best = best_probe(grid)
    trained = [best]
    for split in data_splits[1:]:
        train = build_probe_split(task, split["train"], embeddings)
        valid = build_probe_split(task, split["valid"], embeddings)
        trained.append(
            train_grid([best.point], train, valid, task.prediction_type, scorer, mode, config, probe_progress)[0]
        )
    fold_scores: dict[str, dict[str, float]] = {}
    fold_details: dict[str, dict] = {}
    for split, probe in zip(data_splits, trained):
        name = "|".join(split["test"])
        test = build_probe_split(task, split["test"], embeddings)
        scores, details, predictions = test_scores(task, probe, test, config)
        fold_scores[name] = scores
        fold_details[name] = {
            **details,
            "validation_score": probe.validation_score,
            "epoch": probe.epoch,
            "epochs_run": probe.epochs_run,
        }
        if predictions_dir is not None:
            save_predictions(predictions_dir, name, predictions)
    probe_seconds = time.perf_counter() - start
    means = {}
    for metric in task.evaluation:
        values = np.array([fold_scores[f][metric] for f in fold_scores], dtype=np.float64)
        means[metric] = float(np.nanmean(values)) if np.isfinite(values).any() else math.nan
    grid_summary = [
        {
            **p.point.as_dict(),
            "validation_score": p.validation_score,
            "epoch": p.epoch,
            "epochs_run": p.epochs_run,
            "postprocessing": dict(p.postprocessing) if p.postprocessing else None,
        }
        for p in grid
    ]
    return TaskResult(
        task=spec.name,
        scores=means,
        fold_scores=fold_scores,
        embed=embed_stats,
        out_dir=predictions_dir,
        details={
            "best_point": best.point.as_dict(),
            "grid": grid_summary,
            "probe_seconds": probe_seconds,
            "embedding_seconds": embed_stats.seconds,
            "folds": fold_details,
            "score_mode": mode,
        },
    )


def _cache_layer(layer: str, dtype: str) -> str:
    """The cache's layer key; lower-precision embeddings never mix with float32 ones."""
    return layer if dtype == "float32" else f"{layer}@{dtype}"


class HearRunner:
    """The HEAR protocol behind the runner contract: the model through its HEAR module, embeddings cached
    under ``<cache>/hear``, the probe grid seeded with the run's seed."""

    kind = "hear"

    def run(self, spec: HearTaskSpec, model: BenchModel, context: RunContext) -> TaskResult:
        handle = context.models.get(
            ("hear", repr(model), context.device, context.dtype),
            lambda: HearModelHandle(model, context.device, context.dtype),
        )
        _, loaded = handle.load()
        cache = EmbeddingCache(
            Path(context.cache_dir) / "hear",
            handle.spec.name,
            handle.weights_hash,
            _cache_layer(context.layer, context.dtype),
            settings=embedding_settings(handle.spec, loaded, handle.spec.hear_module),
        )
        cache.describe(
            {
                "hear_module": handle.spec.hear_module,
                "hear_kwargs": handle.spec.hear_kwargs,
                "weights": handle.spec.weights,
            }
        )
        probe = ProbeConfig(seed=context.seed, device=context.device)
        return run_hear_task(spec, context.data_root, handle, cache, probe, context.out_dir, context.progress)
