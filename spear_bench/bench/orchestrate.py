"""Benchmark runs: plan units (model x task), skip finished ones, run the rest, store rows.

A *unit* is one model scored on one task. Its rows are written to the results store in
one atomic file (:class:`spear_bench.results.ResultsStore`) only when the unit has
finished, after its predictions and details; so a killed run resumes where it stopped:
finished units are skipped (same config hash), an interrupted unit is redone from the
embedding cache, and no row is lost or written twice. The config hash covers the model
(name, module, module kwargs, weights by content), the code (spear-bench's version and
sources, the feature libraries' versions, the HEAR module's sources: see
:mod:`spear_bench.bench.fingerprint`), the task definition, the task's data and the
protocol, so changing any of them makes a new unit instead of reusing an old one. The data
(:func:`task_data_key`): a HEAR task's metadata, label vocabulary, split files and the
content hash of every clip at the task's published rate (the embedding cache's audio keys,
remembered by size and time, so an unchanged folder is not read again); a SUPERB corpus
(tasks run by ``s3prl.problem``) by the size and modification time of every file under its folder.
``RunConfig.force`` (``spear-bench run --force``) reruns finished units on purpose.

Each unit is scored by the runner of its task's kind (:data:`RUNNERS`, the contract in
:mod:`spear_bench.bench.runner`); launchers (:mod:`spear_bench.bench.launchers`) decide
where units run and hand each one the models their process has loaded.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from tqdm.auto import tqdm

from spear_bench.atomic_io import atomic_write_text
from spear_bench.bench.cache import TALLY, file_hashes
from spear_bench.bench.fingerprint import code_version, module_source_hash
from spear_bench.bench.hear_data import read_task
from spear_bench.bench.hear_runner import HearRunner
from spear_bench.bench.preflight import check_seed
from spear_bench.bench.probe import ProbeConfig
from spear_bench.bench.runner import LoadedModels, RunContext, TaskRunner
from spear_bench.bench.scored_model import HearModelHandle, resolve_model
from spear_bench.bench.superb_runner import SuperbRunner
from spear_bench.demo.generate import default_demo_root
from spear_bench.errors import ConfigError, DatasetError, SpearBenchError
from spear_bench.results.store import ResultRow, ResultsStore, config_hash
from spear_bench.superb.recipe_files import check_task_files
from spear_bench.superb.runs import KEEP_CHECKPOINTS
from spear_bench.task_registry import (
    DEMO_SUITES,
    FinetuneTaskSpec,
    HearTaskSpec,
    SuperbTaskSpec,
    TaskSpec,
    load_suite,
)

PREDICTIONS_DIR = "_predictions"


@dataclass(frozen=True)
class RunConfig:
    """Everything a unit needs; plain values so that it pickles for submitit and serialises for torchrun."""

    suite: str
    models: tuple[str, ...]
    tasks: tuple[str, ...] = ()
    data_root: str | None = None
    results: str = "results"
    cache: str = "work_dir/cache"
    layer: str = "last"
    seed: int = 42
    seeds: tuple[int, ...] = ()  # several seeds: one unit per seed (each resumable on its own); () = (seed,)
    layers: tuple[str, ...] = ()  # HEAR layer sweep: one unit per layer ("all" = every hidden state); () = (layer,)
    lr_grid: tuple[float, ...] = ()  # SUPERB learning-rate search (best on the recipe's dev metric); () = its rate
    keep_checkpoints: str = "best"  # what a scored SUPERB run folder keeps: all | best | none
    device: str | None = None  # None: not asked for; the launcher decides (spear_bench.bench.launchers.resolve_device)
    quiet: bool = False
    cache_budget_gb: float = 8.0
    force: bool = False  # rerun units the store already has (embeddings under the same key are still reused)
    dtype: str = "float32"  # inference precision of the embeddings (spear_bench.bench.extract)
    vc_vocoder: str | None = None  # SUPERB VC: the pretrained vocoder folder (s3prl's pwg_task1)
    vc_asr_model: str | None = None  # SUPERB VC: the ASR model that scores WER (wav2vec2-large-960h-lv60-self)

    def __post_init__(self) -> None:
        for seed in (self.seed, *self.seeds):  # every seed comes from --seed (and --seeds N counts on from it)
            check_seed(seed)
        if self.keep_checkpoints not in KEEP_CHECKPOINTS:
            raise ConfigError(
                f"--keep-checkpoints {self.keep_checkpoints!r}: expected one of {', '.join(KEEP_CHECKPOINTS)}"
            )

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> "RunConfig":
        data = json.loads(text)
        for name in ("models", "tasks", "seeds", "layers", "lr_grid"):
            if name in data:
                data[name] = tuple(data[name])
        return cls(**data)


@dataclass(frozen=True)
class Unit:
    model: str  # the --model spec
    task: str
    seed: int | None = None  # set when the run has several seeds (RunConfig.seeds); else RunConfig.seed
    layer: str | None = None  # set in a HEAR layer sweep (RunConfig.layers); else RunConfig.layer

    @property
    def label(self) -> str:
        seed = f" seed {self.seed}" if self.seed is not None else ""
        layer = f" layer {self.layer}" if self.layer is not None else ""
        return f"{self.model} / {self.task}{layer}{seed}"

    def config(self, config: "RunConfig") -> "RunConfig":
        """The run config this unit runs under (its own seed and layer)."""
        return dataclasses.replace(
            config,
            seed=config.seed if self.seed is None else self.seed,
            layer=config.layer if self.layer is None else self.layer,
        )


@dataclass
class UnitOutcome:
    unit: Unit
    status: str  # done | skipped | failed
    seconds: float = 0.0
    scores: dict = field(default_factory=dict)
    primary: str = ""
    embed_hits: int = 0
    embed_misses: int = 0
    message: str = ""
    path: str = ""

    def to_dict(self) -> dict:
        out = dataclasses.asdict(self)
        out["unit"] = dataclasses.asdict(self.unit)
        return out

    @classmethod
    def from_dict(cls, data: dict) -> "UnitOutcome":
        data = dict(data)
        data["unit"] = Unit(**data["unit"])
        return cls(**data)


def default_data_root(suite: str, data_root: str | None) -> Path:
    if data_root:
        return Path(data_root)
    if suite in DEMO_SUITES:
        return default_demo_root()
    raise ConfigError(
        f"--data-root is required for suite {suite!r}: the folder holding its datasets (see docs/orchestration.md)"
    )


def plan(config: RunConfig) -> list[Unit]:
    suite = load_suite(config.suite)
    specs = suite.select(list(config.tasks))
    if any(isinstance(spec, FinetuneTaskSpec) for spec in specs):
        raise ConfigError(
            f"suite {config.suite!r} holds fine-tuning tasks: run them with spear-bench finetune asr|audioset"
        )
    if not config.models:
        raise ConfigError("give at least one --model")
    if config.lr_grid and not any(isinstance(spec, SuperbTaskSpec) for spec in specs):
        raise ConfigError(
            f"--lr-grid searches SUPERB tasks' learning rate; no selected task of {config.suite!r} is one"
        )
    if config.layers and not any(isinstance(spec, HearTaskSpec) for spec in specs):
        raise ConfigError(f"--layers sweeps HEAR tasks' embedding layer; no selected task of {config.suite!r} is one")
    seeds = config.seeds if len(config.seeds) > 1 else (None,)
    units = []
    for model in config.models:
        layers = tuple(_sweep_layers(model, config)) or (None,)
        for spec in specs:
            for layer in layers if isinstance(spec, HearTaskSpec) else (None,):
                units += [Unit(model, spec.name, seed, layer) for seed in seeds]
    return units


def _sweep_layers(model: str, config: RunConfig) -> list[str]:
    """The layers of a HEAR layer sweep: ``--layers all`` is every hidden state of the model (0 .. L-1)."""
    if not config.layers:
        return []
    if config.layers != ("all",):
        return list(config.layers)
    resolved = resolve_model(model, "0")
    if resolved.hear_module != "hear_spear":
        raise ConfigError(f"--layers all: {model} is not a hear_spear model (give the layers as --layers 0,1,...)")
    _, loaded = HearModelHandle(resolved).load()
    return [str(i) for i in range(loaded.encoder.num_hidden_states)]


# --- runners: one per task kind ---------------------------------------------------------------------

RUNNERS: dict[str, TaskRunner] = {runner.kind: runner for runner in (HearRunner(), SuperbRunner())}


def runner_for(spec: TaskSpec) -> TaskRunner:
    if spec.kind not in RUNNERS:
        raise ConfigError(f"task {spec.name}: no runner for {spec.kind} tasks (known: {', '.join(RUNNERS)})")
    return RUNNERS[spec.kind]


# --- config hash ------------------------------------------------------------------------------------


def _task_metadata(spec: TaskSpec, data_root: Path) -> dict:
    if isinstance(spec, HearTaskSpec):
        path = spec.check_data(data_root) / "task_metadata.json"
        try:
            return json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as error:
            raise DatasetError(f"{path}: unreadable HEAR task metadata ({error})") from error
    if not _runs_in_s3prl_only(spec):  # those report their s3prl command instead (needs no data)
        spec.check_data(data_root)
    return {}


def published_rate(spec: HearTaskSpec, data_root: Path) -> int:
    """The highest sample rate a HEAR task folder holds audio at (a HEAR download: 48000; the demo: 16000).

    Every other rate is resampled from it (spear_bench.datasets.hear_resample), so the unit key and the
    checks before a run read this one: reading it never starts a resampling, and a rate made by an
    earlier run does not change the key."""
    folder = spec.check_data(data_root)
    rates = [int(p.name) for p in folder.iterdir() if p.is_dir() and p.name.isdigit()]
    return max(rates, default=16000)


def _digest(lines: list[str]) -> str:
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()[:16]


def task_data_key(spec: TaskSpec, data_root: Path, cache_dir: Path | str) -> dict:
    """What the task's score depends on in its data folder (see the module docstring); {} for s3prl-only tasks.

    HEAR: the folder is read and checked first (:func:`read_task`: labels, vocabulary, splits),
    so a malformed task fails here, in one line, before any model runs.
    """
    if isinstance(spec, HearTaskSpec):
        rate = published_rate(spec, data_root)
        task = read_task(spec, data_root, sample_rate=rate)
        listed = [task.root / "labelvocabulary.csv", *(task.root / f"{split}.json" for split in task.splits)]
        clips = task.clips(rate)
        hashes = file_hashes(Path(cache_dir) / "hear").hashes(listed + [path for _, _, path in clips])
        out = {path.name: digest for path, digest in zip(listed, hashes)}
        out["audio"] = _digest([f"{split}/{file}\t{h}" for (split, file, _), h in zip(clips, hashes[len(listed) :])])
        return out
    # SUPERB, both of s3prl's runners. Neither writes into the corpus folder, so a finished unit keeps its
    # key (the six legacy tasks' demo run left every name, size and time as it was, 2026-12-07).
    if isinstance(spec, SuperbTaskSpec) and spec.s3prl_entry in ("problem", "legacy"):
        root = spec.data_dir(data_root)
        lines = []
        for folder, dirs, files in os.walk(root):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for name in sorted(f for f in files if not f.startswith(".")):
                info = os.stat(Path(folder) / name)
                lines.append(f"{Path(folder, name).relative_to(root)}\t{info.st_size}\t{info.st_mtime_ns}")
        return {"files": _digest(lines), "count": len(lines)}
    return {}


def _runs_in_s3prl_only(spec: TaskSpec) -> bool:
    """A SUPERB task defined here but trained only by s3prl's own runner."""
    return isinstance(spec, SuperbTaskSpec) and spec.s3prl_entry is None


def unit_config(unit: Unit, spec: TaskSpec, config: RunConfig, data_root: Path) -> dict:
    model = resolve_model(unit.model, config.layer)
    protocol = ProbeConfig().protocol_dict() if isinstance(spec, HearTaskSpec) else dataclasses.asdict(spec.protocol)
    precision = {} if config.dtype == "float32" else {"dtype": config.dtype}  # float32 hashes unchanged
    return {
        "code": code_version(),
        "module_source": module_source_hash(model.hear_module) if isinstance(spec, HearTaskSpec) else None,
        **precision,
        "model": model.identity(),
        "layer": config.layer if isinstance(spec, HearTaskSpec) else "weighted_sum",
        "task": dataclasses.asdict(spec),
        "task_metadata": _task_metadata(spec, data_root),
        "data": task_data_key(spec, data_root, config.cache),
        "protocol": protocol,
        # No seed: the seeds of one config are one measurement (the store keys each seed's file apart)
        **({"lr_grid": list(config.lr_grid)} if config.lr_grid and isinstance(spec, SuperbTaskSpec) else {}),
    }


# --- running one unit -------------------------------------------------------------------------------


def _progress_factory(config: RunConfig, model: str):
    if config.quiet:
        return None

    def make(desc: str, total: int) -> Callable[[int], None]:
        bar = tqdm(total=total, desc=f"  {model} {desc}", leave=False, unit="it", dynamic_ncols=True)

        def update(n: int) -> None:
            bar.update(n)
            if bar.n >= bar.total:
                bar.close()

        return update

    return make


def run_unit(unit: Unit, config: RunConfig, models: LoadedModels | None = None) -> UnitOutcome:
    """Run one unit unless the store already has it; never raises for a failing unit (status=failed).

    ``models``: the models this process has loaded (a launcher passes the same one to every unit
    it runs, so a model loads once per process); a fresh one when not given.
    """
    start = time.perf_counter()
    config = unit.config(config)
    if config.device is None:  # called outside a launcher: nothing allocated, so the CPU
        config = dataclasses.replace(config, device="cpu")
    hits, misses = TALLY.hits, TALLY.misses  # a failed unit still reports the embeddings it computed
    try:
        return _run_unit(unit, config, start, models if models is not None else LoadedModels())
    except Exception as error:  # keep the run going, report the unit as failed
        return UnitOutcome(
            unit,
            "failed",
            time.perf_counter() - start,
            embed_hits=TALLY.hits - hits,
            embed_misses=TALLY.misses - misses,
            message=error_line(error),
        )


def error_line(error: Exception) -> str:
    """A failure in one line: a SpearBenchError's own message; for anything else (a bug, a library's
    failure) its type, message and the innermost place it was raised, so that it can be found."""
    if isinstance(error, SpearBenchError):
        return str(error)
    frames = traceback.extract_tb(error.__traceback__)
    where = f" (at {Path(frames[-1].filename).name}:{frames[-1].lineno})" if frames else ""
    return " ".join(f"{type(error).__name__}: {error}{where}".split())


def _run_unit(unit: Unit, config: RunConfig, start: float, models: LoadedModels) -> UnitOutcome:
    spec = load_suite(config.suite).task(unit.task)
    data_root = default_data_root(config.suite, config.data_root)
    model = resolve_model(unit.model, config.layer)
    chash = config_hash(unit_config(unit, spec, config, data_root))
    store = ResultsStore(config.results)
    key = (model.name, config.suite, spec.name, chash, config.seed)
    if not config.force and store.is_done(*key):
        return UnitOutcome(
            unit,
            "skipped",
            0.0,
            primary=spec.metric,
            path=str(store.unit_path(*key)),
            scores=_stored_scores(store, key),
        )
    seed_dir = f"__seed{config.seed}" if config.seed != RunConfig.seed else ""  # seeds share a config hash
    out_dir = Path(config.results) / PREDICTIONS_DIR / config.suite / model.name / f"{spec.name}__{chash}{seed_dir}"
    context = RunContext(
        data_root=data_root,
        cache_dir=Path(config.cache),
        out_dir=out_dir,
        device=config.device,
        dtype=config.dtype,
        layer=config.layer,
        seed=config.seed,
        cache_budget_bytes=config.cache_budget_gb * 1024**3,
        progress=_progress_factory(config, model.name),
        models=models,
        vc_vocoder=config.vc_vocoder,
        vc_asr_model=config.vc_asr_model,
        lr_grid=config.lr_grid,
        keep_checkpoints=config.keep_checkpoints,
    )
    result = runner_for(spec).run(spec, model, context)
    rows = []
    for metric, value in result.scores.items():
        if metric != spec.metric and not math.isfinite(value):
            continue  # e.g. d_prime with a perfect class (infinite) or a class absent from a small test set
        facts = spec.metric_facts(metric)  # the task registry's facts travel with the row
        rows.append(
            ResultRow(
                model=model.name,
                suite=config.suite,
                task=spec.name,
                metric=metric,
                value=float(value),
                seed=config.seed,
                config_hash=chash,
                split="test",
                higher_is_better=facts.higher_is_better,
                task_short=spec.short,
                unit=facts.unit,
                weights=model.fingerprint,
                layer=config.layer if isinstance(spec, HearTaskSpec) else "",
                layer_weights=tuple(result.details.get("layer_weights", ())),
                lr_search=result.details.get("lr_search"),
            )
        )
    details = {
        "suite": spec.kind,
        "scores": result.scores,
        "fold_scores": result.fold_scores,
        **result.details,
        "unit": dataclasses.asdict(unit),
        "config_hash": chash,
        "seconds": time.perf_counter() - start,
        "embeddings": {"hits": result.embed.hits, "misses": result.embed.misses},
    }
    atomic_write_text(out_dir / "details.json", json.dumps(details, indent=1, default=str))
    path = store.write_unit(rows)
    return UnitOutcome(
        unit,
        "done",
        time.perf_counter() - start,
        scores=result.scores,
        primary=spec.metric,
        embed_hits=result.embed.hits,
        embed_misses=result.embed.misses,
        path=str(path),
    )


def _stored_scores(store: ResultsStore, key: tuple) -> dict:
    try:
        return {row.metric: row.value for row in store.unit_rows(*key)}
    except (SpearBenchError, TypeError):  # an unreadable file: the outcome still says where it is
        return {}


# --- summaries ---------------------------------------------------------------------------------------


def outcome_details(outcome: UnitOutcome) -> list[str]:
    """What a unit's line shows after its label: primary score, time, cache use, message (empty parts left out)."""
    score = outcome.scores.get(outcome.primary)
    score_text = f"{outcome.primary}={score:.4g}" if isinstance(score, (int, float)) else ""
    looked_up = outcome.status == "done" or outcome.embed_hits or outcome.embed_misses
    cache = f"embeddings {outcome.embed_misses} computed, {outcome.embed_hits} cached" if looked_up else ""
    parts = [score_text, f"{outcome.seconds:.1f}s" if outcome.status != "skipped" else "", cache, outcome.message]
    return [p for p in parts if p]


def format_outcome(outcome: UnitOutcome) -> str:
    return "  ".join([f"[{outcome.status}]", outcome.unit.label, *outcome_details(outcome)])


def summarise(outcomes: list[UnitOutcome]) -> dict:
    hits = sum(o.embed_hits for o in outcomes)
    misses = sum(o.embed_misses for o in outcomes)
    return {
        "done": sum(o.status == "done" for o in outcomes),
        "skipped": sum(o.status == "skipped" for o in outcomes),
        "failed": sum(o.status == "failed" for o in outcomes),
        "embed_hits": hits,
        "embed_misses": misses,
        "hit_rate": hits / (hits + misses) if hits + misses else None,
    }


def check_datasets(config: RunConfig) -> Path:
    """Fail before any model loads if a selected task's data is missing (one line naming the path)."""
    data_root = default_data_root(config.suite, config.data_root)
    if not data_root.is_dir():
        raise DatasetError(f"--data-root {data_root}: no such folder")
    for spec in load_suite(config.suite).select(list(config.tasks)):
        if _runs_in_s3prl_only(spec):
            continue  # reported per unit with the s3prl command to use
        if isinstance(spec, SuperbTaskSpec):
            check_task_files(spec, data_root)  # the corpus and the files its recipe would download
        elif isinstance(spec, HearTaskSpec):
            rate = published_rate(spec, data_root)
            read_task(spec, data_root, sample_rate=rate).clips(rate)  # labels, vocabulary, splits, every clip
        else:
            spec.check_data(data_root)
    return data_root
