"""`spear-bench run ... --plan`: what a run will do and cost, printed before (instead of) running it.

Per unit (model x task): whether the results store already has it, the hours of audio of its
task, the embeddings already in the cache, the cache disk it will add, and an estimated time.
Nothing is scored. The estimate comes from short measurements on the chosen device:

- **model**: load time, then the embedding throughput (seconds of audio per second) of the
  model's HEAR module on a batch of noise clips (after one warm-up call), its embedding width
  and frame rate;
- **HEAR probe**: spear-bench's own probe (:func:`spear_bench.bench.probe.train_grid`) trained
  for a few epochs on random embeddings of the task's width and training-set size (at most
  4096 rows, scaled linearly), the grid of 8 points then one point per other fold; multiplied
  by the epochs the task's grid allows (``max_epochs``, capped at twice the early-stopping
  window, ``2 x patience x check_val_every_n_epoch``: heareval's 500 epochs are an upper bound
  no task reaches);
- **SUPERB**: the model's load time (each unit builds its s3prl upstream) plus the hidden
  states of every clip of the corpus not yet cached (the runner caches them, so training
  steps after the first pass cost little against them).

Unit time = load (once per model and process for HEAR) + uncached audio / throughput + probe.
Hours of audio come from the audio files' headers; nothing else is read.
"""

from __future__ import annotations

import glob
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import soundfile as sf
import torch

from spear_bench.bench.cache import EmbeddingCache
from spear_bench.bench.fingerprint import embedding_settings
from spear_bench.bench.orchestrate import RunConfig, default_data_root, plan, unit_config
from spear_bench.bench.probe import ProbeConfig, ProbeSplit, ScoreResult, select_grid_points, train_grid
from spear_bench.bench.scored_model import HearModelHandle, resolve_model
from spear_bench.datasets.check import human_bytes
from spear_bench.datasets.hear_layout import METADATA, VOCABULARY, split_names
from spear_bench.datasets.hear_resample import rates_present
from spear_bench.errors import DatasetError
from spear_bench.results.store import ResultsStore, config_hash
from spear_bench.task_registry import HearTaskSpec, SuperbTaskSpec, load_suite

AUDIO_SUFFIXES = (".wav", ".flac")
PROBE_ROWS = 4096  # training rows of the probe measurement (scaled linearly to the task's)
PROBE_EPOCHS = 3
NPZ_OVERHEAD = 600  # bytes of zip and header around each cache entry's arrays


@dataclass
class ModelSpeed:
    model: str
    load_s: float
    audio_s_per_s: float  # embedding throughput
    scene_dim: int
    frame_dim: int
    frames_per_s: float
    handle: HearModelHandle = field(repr=False)


@dataclass
class TaskVolume:
    task: str
    kind: str
    files: int
    audio_s: float
    train_clips: int = 0  # HEAR: clips training the probe's first split
    train_audio_s: float = 0.0
    classes: int = 0
    data_splits: int = 1
    probe: ProbeConfig | None = None
    cache_key: str = ""  # the cache's task folder (HEAR: the task name; SUPERB: the corpus folder)


@dataclass
class UnitPlan:
    model: str
    task: str
    finished: bool
    audio_h: float
    cached: int
    files: int
    cache_bytes: float
    estimate_s: float
    parts: dict[str, float] = field(default_factory=dict)


def measure_model(name: str, layer: str, device: str, dtype: str, clip_s: float = 2.0, clips: int = 4) -> ModelSpeed:
    """Load the model's HEAR module and time embeddings of ``clips`` noise clips (after a warm-up)."""
    handle = HearModelHandle(resolve_model(name, layer), device, dtype)
    start = time.perf_counter()
    handle.load()
    load_s = time.perf_counter() - start
    rate = handle.sample_rate
    audio = torch.randn(clips, int(clip_s * rate), generator=torch.Generator().manual_seed(0)) * 0.1
    handle.scene_embeddings(audio[:1])  # warm-up: first-call allocations, lazy inits
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    start = time.perf_counter()
    scene = handle.scene_embeddings(audio)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    frames, stamps = handle.timestamp_embeddings(audio[:1])
    return ModelSpeed(
        name,
        load_s,
        clips * clip_s / max(seconds, 1e-9),
        int(scene.shape[-1]),
        int(frames.shape[-1]),
        frames.shape[1] / clip_s,
        handle,
    )


def _duration(path: Path) -> float:
    try:
        return sf.info(str(path)).duration
    except (sf.LibsndfileError, RuntimeError, OSError) as error:
        raise DatasetError(f"{path}: unreadable audio header ({error})") from error


def hear_volume(spec: HearTaskSpec, data_root: Path) -> TaskVolume:
    """Files and hours of a HEAR task (headers of the rate folder it has), its probe's training size and grid."""
    root = spec.check_data(data_root)
    metadata = json.loads((root / METADATA).read_text())
    splits = split_names(metadata, root / METADATA)
    rates = rates_present(root)
    rate = 16000 if 16000 in rates else (rates[0] if rates else 16000)
    items = {s: json.loads((root / f"{s}.json").read_text()) for s in splits}
    durations = {s: [_duration(root / str(rate) / s / f) for f in files] for s, files in items.items()}
    if metadata.get("split_mode") == "trainvaltest":
        train = ["train"]
        data_splits = 1
    else:
        train = sorted(splits)[2:]  # heareval's first split: test fold00, valid fold01, train the rest
        data_splits = len(splits)
    with (root / VOCABULARY).open() as f:
        classes = max(1, sum(1 for _ in f) - 1)
    return TaskVolume(
        spec.name,
        "hear",
        sum(len(v) for v in items.values()),
        sum(sum(v) for v in durations.values()),
        train_clips=sum(len(items[s]) for s in train),
        train_audio_s=sum(sum(durations[s]) for s in train),
        classes=classes,
        data_splits=data_splits,
        probe=ProbeConfig().with_task_overrides(metadata),
        cache_key=spec.name,
    )


def superb_volume(spec: SuperbTaskSpec, data_root: Path) -> TaskVolume:
    root = spec.check_data(data_root)
    durations = [_duration(p) for p in sorted(root.rglob("*")) if p.suffix.lower() in AUDIO_SUFFIXES]
    return TaskVolume(spec.name, "superb", len(durations), sum(durations), cache_key=spec.layout.root)


def _constant_scorer(probabilities, logits, split) -> ScoreResult:
    return ScoreResult([0.0] * probabilities.shape[0])


def probe_seconds(volume: TaskVolume, dim: int, frames_per_s: float, event: bool, device: str) -> float:
    """spear-bench's probe on random embeddings of the task's shape, timed and scaled to its epochs and rows."""
    config = volume.probe or ProbeConfig()
    rows = int(volume.train_audio_s * frames_per_s) if event else volume.train_clips
    measured_rows = max(1, min(rows, PROBE_ROWS))
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(measured_rows, dim, generator=gen)
    y = torch.zeros(measured_rows, volume.classes)
    y[torch.arange(measured_rows), torch.randint(volume.classes, (measured_rows,), generator=gen)] = 1.0
    split = ProbeSplit(x, y)
    short = ProbeConfig(max_epochs=PROBE_EPOCHS, check_val_every_n_epoch=PROBE_EPOCHS, patience=10**6, device=device)
    points = select_grid_points(config)
    kind = "multilabel" if event else "multiclass"
    start = time.perf_counter()
    train_grid(points, split, split, kind, _constant_scorer, "max", short)
    grid_epoch = (time.perf_counter() - start) / PROBE_EPOCHS
    start = time.perf_counter()
    train_grid(points[:1], split, split, kind, _constant_scorer, "max", short)
    single_epoch = (time.perf_counter() - start) / PROBE_EPOCHS
    epochs = min(config.max_epochs, 2 * config.patience * config.check_val_every_n_epoch)
    scale = max(1.0, rows / measured_rows)
    return epochs * scale * (grid_epoch + (volume.data_splits - 1) * single_epoch)


def _cached_entries(config: RunConfig, speed: ModelSpeed, volume: TaskVolume) -> int:
    if volume.kind == "hear":
        _, loaded = speed.handle.load()
        layer = config.layer if config.dtype == "float32" else f"{config.layer}@{config.dtype}"
        settings = embedding_settings(speed.handle.spec, loaded, speed.handle.spec.hear_module)
        cache = EmbeddingCache(
            Path(config.cache) / "hear", speed.handle.spec.name, speed.handle.weights_hash, layer, settings=settings
        )
        folder = cache.model_dir / volume.cache_key
    else:  # s3prl upstream states: entries of this model name (any weights and settings) for the corpus
        safe_name = EmbeddingCache(Path("."), speed.handle.spec.name, "", "").model_dir.name.split("__")[0]
        pattern = f"{glob.escape(safe_name)}__*/{volume.cache_key}"
        folders = [p for p in (Path(config.cache) / "superb").rglob(pattern) if p.is_dir()]
        return sum(1 for f in folders for _ in f.rglob("*.npz"))
    return sum(1 for _ in folder.rglob("*.npz")) if folder is not None and folder.is_dir() else 0


def plan_run(config: RunConfig, device: str) -> tuple[list[UnitPlan], dict[str, ModelSpeed], dict[str, TaskVolume]]:
    """Measure each model and each task, then estimate every unit; nothing is scored."""
    data_root = default_data_root(config.suite, config.data_root)
    suite = load_suite(config.suite)
    units = plan(config)
    volumes: dict[str, TaskVolume] = {}
    for name in dict.fromkeys(u.task for u in units):
        spec = suite.task(name)
        volumes[name] = (
            hear_volume(spec, data_root) if isinstance(spec, HearTaskSpec) else superb_volume(spec, data_root)
        )
    speeds = {m: measure_model(m, config.layer, device, config.dtype) for m in config.models}
    store = ResultsStore(config.results)
    out = []
    loaded_hear: set[str] = set()
    for unit in units:
        spec, speed, volume = suite.task(unit.task), speeds[unit.model], volumes[unit.task]
        unit_cfg = unit.config(config)  # the unit's own seed and layer (multi-seed runs, layer sweeps)
        model = resolve_model(unit.model, unit_cfg.layer)
        chash = config_hash(unit_config(unit, spec, unit_cfg, data_root))
        finished = not config.force and store.is_done(model.name, config.suite, spec.name, chash, unit_cfg.seed)
        cached = _cached_entries(unit_cfg, speed, volume)
        share = 1.0 - min(cached, volume.files) / max(volume.files, 1)
        parts: dict[str, float] = {}
        if isinstance(spec, HearTaskSpec):
            event = spec.level == "timestamp"
            dim = speed.frame_dim if event else speed.scene_dim
            per_file = dim * 2 * (volume.audio_s / max(volume.files, 1) * speed.frames_per_s if event else 1)
            cache_bytes = (per_file + NPZ_OVERHEAD) * volume.files * share
            if not finished:
                if unit.model not in loaded_hear:
                    parts["load"] = speed.load_s
                    loaded_hear.add(unit.model)
                parts["embed"] = volume.audio_s * share / speed.audio_s_per_s
                parts["probe"] = probe_seconds(volume, dim, speed.frames_per_s, event, device)
        else:
            cache_bytes = 0.0  # the runner's own estimate decides (its budget); states are float32 per layer
            if not finished:
                parts["load"] = speed.load_s
                parts["embed"] = volume.audio_s * share / speed.audio_s_per_s
        out.append(
            UnitPlan(
                unit.model,
                unit.label.split(" / ", 1)[1],
                finished,
                volume.audio_s / 3600,
                cached,
                volume.files,
                cache_bytes,
                sum(parts.values()),
                parts,
            )
        )
    return out, speeds, volumes


def render_plan(units: list[UnitPlan], speeds: dict[str, ModelSpeed], device: str) -> list[str]:
    lines = [f"plan on {device} (nothing run):"]
    for speed in speeds.values():
        lines.append(
            f"  {speed.model}: load {speed.load_s:.1f} s, {speed.audio_s_per_s:.1f} s of audio per second, "
            f"embedding {speed.scene_dim}-d, {speed.frames_per_s:.0f} frames/s"
        )
    lines.append(f"  {'unit':<48} {'audio h':>8} {'cached':>12} {'cache +':>10} {'estimate':>10}")
    for u in units:
        label = f"{u.model} / {u.task}"
        state = "finished" if u.finished else f"{u.estimate_s:.0f} s"
        cached = f"{u.cached}/{u.files}"
        lines.append(f"  {label:<48} {u.audio_h:>8.3f} {cached:>12} {human_bytes(u.cache_bytes):>10} {state:>10}")
    todo = [u for u in units if not u.finished]
    total = sum(u.estimate_s for u in todo)
    disk = sum(u.cache_bytes for u in todo)
    hours = total / 3600
    lines.append(
        f"units: {len(units)} ({len(units) - len(todo)} finished); estimated {total:.0f} s ({hours:.2f} h), "
        f"cache +{human_bytes(disk)}"
    )
    return lines


def estimated_seconds(units: list[UnitPlan]) -> float:
    return sum(u.estimate_s for u in units if not u.finished)
