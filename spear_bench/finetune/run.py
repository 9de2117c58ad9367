"""What every fine-tune run shares: its identity (model, data, output folder), the
encoder it starts from, and how its scores reach the results store."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

from spear_bench.atomic_io import atomic_write_text
from spear_bench.bench.fingerprint import code_version
from spear_bench.bench.runner import TaskResult
from spear_bench.models import load_encoder
from spear_bench.models.model_ref import ModelRef
from spear_bench.models.weights import resolve_weights, weights_fingerprint
from spear_bench.paths import results_dir
from spear_bench.results import ResultRow, ResultsStore, config_hash
from spear_bench.task_registry import finetune_task

SUITE = "finetune"


@dataclass
class RunSpec:
    model: str  # model name (models.model_ref.ModelRef: NAME, NAME@WEIGHTS, NAME[random-init]) or SPEAR checkpoint path
    data_dir: Path
    out_dir: Path
    model_path: str | None = None  # weights for a registered name
    init_seed: int = 0  # seed of NAME[random-init]
    resume: bool = True
    force: bool = False  # run again even if the results store has this unit
    progress: bool = True
    results_root: Path | None = None  # default: spear_bench.paths.results_dir()

    @property
    def model_label(self) -> str:
        """The model's name in the results table (a checkpoint: its folder or file name)."""
        ref = ModelRef.parse(self.model, checkpoint_paths=True)
        return Path(ref.weights).name if ref.checkpoint else self.model

    def weights_fingerprint(self) -> str:
        """The weights the run starts from: sha256 of the file(s), or "random-init" (fetches a released name)."""
        ref = ModelRef.parse(self.model, checkpoint_paths=True)
        if ref.checkpoint:
            return weights_fingerprint(ref.weights)
        if self.model_path:
            ref = dataclasses.replace(ref, weights=self.model_path)
        return resolve_weights(ref).fingerprint

    def store(self) -> ResultsStore:
        return ResultsStore(self.results_root or results_dir())


def load_start_encoder(spec: RunSpec):
    return load_encoder(spec.model, seed=spec.init_seed, path=spec.model_path)


def run_identity(kind: str, config, spec: RunSpec) -> dict:
    """Everything that determines a run's outcome (hashed into the results' config_hash), the code version included."""
    finetune_task(config.task)  # a task the registry does not know fails here, before any training
    return {
        "kind": kind,
        "code": code_version(),
        "config": dataclasses.asdict(config),
        "model": spec.model,
        "model_path": spec.model_path,
        "init_seed": spec.init_seed,
        "data_dir": str(Path(spec.data_dir).resolve()),
    }


# Settings that only affect scoring, not training.
EVAL_ONLY_KEYS = (
    "task",
    "eval_splits",
    "eval_csv",
    "eval_before",
    "eval_max_duration",
    "decoding",
    "beam",
    "max_sym_per_frame",
)


def resume_key(identity: dict) -> str:
    """Settings that may change between a killed run and its resumption (steps to go, logging,
    workers, device, how it is scored) are left out, so a run can be resumed with a larger
    --steps or decoded another way."""
    stable = json.loads(json.dumps(identity, default=str))
    for key in EVAL_ONLY_KEYS:
        stable["config"].pop(key, None)
    train = stable["config"]["train"]
    for key in ("max_steps", "save_every", "log_every", "num_workers", "device"):
        train.pop(key, None)
    return config_hash(stable)


def write_outcome(outcome: TaskResult, spec: RunSpec, identity: dict, seed: int, splits: dict[str, str]) -> TaskResult:
    """Store the metrics as one results unit and a summary ``results.json`` in the run folder.

    Each row carries its task's short name and its metric's unit and direction from the
    task registry (tasks/finetune.yaml)."""
    task = finetune_task(outcome.task)
    digest = config_hash(identity)
    weights = spec.weights_fingerprint()
    rows = []
    for metric, value in {**outcome.scores, **{f"{k}_step0": v for k, v in outcome.scores_before.items()}}.items():
        facts = task.metric_facts(metric)
        rows.append(
            ResultRow(
                model=spec.model_label,
                suite=SUITE,
                task=outcome.task,
                metric=metric,
                value=float(value),
                seed=seed,
                config_hash=digest,
                split=splits.get(metric, "test"),
                higher_is_better=facts.higher_is_better,
                task_short=task.short,
                unit=facts.unit,
                weights=weights,
            )
        )
    outcome.results_path = spec.store().write_unit(rows)
    summary = {
        "task": outcome.task,
        "model": spec.model_label,
        "steps": outcome.steps,
        "metrics": outcome.scores,
        "metrics_before": outcome.scores_before,
        "config_hash": digest,
        **outcome.details,
    }
    atomic_write_text(Path(spec.out_dir) / "results.json", json.dumps(summary, indent=1, default=str))
    return outcome


def stored_outcome(spec: RunSpec, task: str, identity: dict, seed: int) -> TaskResult | None:
    """The stored result of this exact run, if the results store has it (and --force was not given)."""
    if spec.force:
        return None
    store = spec.store()
    key = (spec.model_label, SUITE, task, config_hash(identity), seed)
    if not store.is_done(*key):
        return None
    rows = store.unit_rows(*key)
    metrics = {r.metric: r.value for r in rows if not r.metric.endswith("_step0")}
    before = {r.metric[: -len("_step0")]: r.value for r in rows if r.metric.endswith("_step0")}
    return TaskResult(task, metrics, before, -1, Path(spec.out_dir), store.unit_path(*key), {"cached": True})
