"""The contract every task runner follows: ``run(spec, model, context) -> TaskResult``.

One runner is registered per task kind (``hear``, ``superb``: see
:data:`spear_bench.bench.orchestrate.RUNNERS`); fine-tunes (``spear-bench finetune``) return
the same :class:`TaskResult`. A runner gets the task (a :mod:`spear_bench.task_registry` spec),
the model to score (:class:`spear_bench.bench.scored_model.BenchModel`, not loaded) and a
:class:`RunContext`: where the data, caches and predictions are, how to run, and the
models this process has already loaded (:class:`LoadedModels`, owned by the orchestrator
and shared by the units it runs, so a model loads once per process).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Hashable, Protocol, TypeVar

ProgressFactory = Callable[[str, int], Callable[[int], None]]  # (description, total) -> update(n)
T = TypeVar("T")


@dataclass
class EmbedStats:
    """Embeddings of a run: taken from the cache (hits), computed (misses), and the seconds spent."""

    hits: int = 0
    misses: int = 0
    seconds: float = 0.0

    def add(self, other: "EmbedStats") -> None:
        self.hits += other.hits
        self.misses += other.misses
        self.seconds += other.seconds


@dataclass
class TaskResult:
    """What one task run produced, whatever its kind (HEAR probe, SUPERB downstream, fine-tune).

    ``scores`` become the stored rows; ``details`` (runner-specific: the probe grid, the
    features' source, the training loss...) are written beside them.
    """

    task: str
    scores: dict[str, float]  # metric -> test score (mean over folds)
    scores_before: dict[str, float] = field(default_factory=dict)  # fine-tunes: the same metrics before training
    steps: int = 0  # training steps run (fine-tunes; -1 when taken from the store)
    out_dir: Path | None = None  # where the run wrote its predictions, checkpoints, summary
    results_path: Path | None = None  # the results store's file of this unit, once written
    details: dict = field(default_factory=dict)
    fold_scores: dict[str, dict[str, float]] = field(default_factory=dict)  # fold (or "test") -> metric -> score
    embed: EmbedStats = field(default_factory=EmbedStats)


class LoadedModels:
    """The models one process has loaded, by key; the orchestrator owns one and hands it to every unit."""

    def __init__(self) -> None:
        self._models: dict[Hashable, Any] = {}

    def get(self, key: Hashable, load: Callable[[], T]) -> T:
        if key not in self._models:
            self._models[key] = load()
        return self._models[key]

    def clear(self) -> None:
        self._models.clear()


@dataclass
class RunContext:
    """Everything a runner needs besides the task and the model."""

    data_root: Path
    cache_dir: Path  # embedding caches live under it, one folder per task kind
    out_dir: Path  # the unit's predictions
    device: str = "cpu"
    dtype: str = "float32"  # inference precision of the embeddings (spear_bench.bench.extract)
    layer: str = "last"
    seed: int = 42
    cache_budget_bytes: float = 8 * 1024**3
    progress: ProgressFactory | None = None
    models: LoadedModels = field(default_factory=LoadedModels)
    vc_vocoder: str | None = None  # SUPERB VC's pretrained scorers (spear_bench.superb.vc_eval): folders, or
    vc_asr_model: str | None = None  # None (a demo then uses flagged random-init stand-ins)
    lr_grid: tuple[float, ...] = ()  # SUPERB: learning rates to search on the dev set; () = the recipe's rate
    keep_checkpoints: str = "best"  # SUPERB run folders once scored: all | best | none (superb.runs.prune_checkpoints)


class TaskRunner(Protocol):
    """Scores one model on one task of its kind."""

    kind: str

    def run(self, spec: Any, model: Any, context: RunContext) -> TaskResult: ...
