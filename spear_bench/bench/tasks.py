"""Task registry: the HEAR, SUPERB and demo task definitions in ``tasks/*.yaml`` as typed records.

Tasks are data, not code (``tasks/hear.yaml``, ``tasks/superb.yaml``, ``tasks/demo.yaml``);
this module only reads and checks them. A suite is a named list of tasks; a task is a
:class:`HearTaskSpec` (a HEAR 2021 task folder scored with the heareval protocol) or a
:class:`SuperbTaskSpec` (an s3prl downstream task). Where a task's data lives is decided
by the user (``--data-root``): specs only name the folder expected under that root.
"""
from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

import yaml

from spear_bench.errors import ConfigError, DatasetError
from spear_bench.paths import tasks_dir

LEVELS = ("scene", "timestamp")
PREDICTION_TYPES = ("multiclass", "multilabel")
SPLIT_MODES = ("trainvaltest", "new_split_kfold", "presplit_kfold")
SUPERB_RUNNERS = ("s3prl_problem",)


@dataclass(frozen=True)
class HearTaskSpec:
    """A HEAR task: a task folder under the data root, scored with the heareval protocol."""

    name: str  # name in the results store
    short: str  # the paper's column (BJ, CD, ...)
    title: str
    group: str  # environment | speech | music
    folder: str  # task folder name under the data root
    level: str  # scene (clip-level) | timestamp (frame-level events)
    prediction_type: str  # multiclass | multilabel
    metric: str  # primary score
    metrics: tuple[str, ...]
    split_mode: str
    folds: int | None
    sample_duration: float | None
    kind: str = "hear"

    def task_dir(self, data_root: Path | str) -> Path:
        return Path(data_root) / self.folder

    def check_data(self, data_root: Path | str) -> Path:
        """The task folder, or a one-line DatasetError naming the expected path."""
        folder = self.task_dir(data_root)
        metadata = folder / "task_metadata.json"
        if not metadata.is_file():
            raise DatasetError(
                f"HEAR task {self.name}: expected {metadata} (a hearpreprocess task folder {self.folder}/ under --data-root)"
            )
        return folder


@dataclass(frozen=True)
class SuperbMetric:
    name: str
    higher_is_better: bool


@dataclass(frozen=True)
class SuperbLayout:
    root: str  # folder under the data root
    required: tuple[str, ...]  # paths under ``root`` that must exist
    description: str


@dataclass(frozen=True)
class SuperbProtocol:
    """The training schedule of an s3prl.problem recipe (its class defaults; demo tasks shorten it).

    Written into the recipe's config by spear_bench.bench.superb_recipes.apply_protocol; the
    rest of the recipe (sampler, augmentation, head, scheduler) is the class's own.
    """

    optimizer: str = "Adam"
    lr: float = 1e-4
    batch_size: int = 32  # train batch sampler
    gradient_accumulate: int = 1
    total_steps: int = 200000
    eval_step: float = 5000  # ASV never validates (s3prl: 1e20)
    save_step: int = 1000
    gradient_clipping: float = 1.0


@dataclass(frozen=True)
class SuperbTaskSpec:
    """A SUPERB task: an s3prl downstream over a corpus under the data root."""

    name: str
    short: str
    title: str
    category: str
    metric: str  # primary metric (the paper's column)
    metrics: tuple[SuperbMetric, ...]
    s3prl_downstream: str
    s3prl_config: str
    s3prl_problem: str | None
    runner: str | None  # s3prl_problem | None (not run by spear-bench yet)
    dataset: str | None  # corpus name (documentation)
    layout: SuperbLayout
    protocol: SuperbProtocol
    folds: int | None = None
    kind: str = "superb"
    base: str | None = None  # the SUPERB task a demo task runs (its recipe)

    @property
    def base_name(self) -> str:
        return self.base or self.name

    def data_dir(self, data_root: Path | str) -> Path:
        return Path(data_root) / self.layout.root

    def check_data(self, data_root: Path | str) -> Path:
        """The corpus folder, or a one-line DatasetError naming the first missing path."""
        root = self.data_dir(data_root)
        if not root.is_dir():
            raise DatasetError(f"SUPERB task {self.name}: expected the corpus folder {root} ({self.layout.description})")
        for relative in self.layout.required:
            if not (root / relative).exists():
                raise DatasetError(f"SUPERB task {self.name}: expected {root / relative} ({self.layout.description})")
        return root

    def higher_is_better(self, metric: str) -> bool:
        for m in self.metrics:
            if m.name == metric:
                return m.higher_is_better
        raise ConfigError(f"SUPERB task {self.name} has no metric {metric!r}")


TaskSpec = Union[HearTaskSpec, SuperbTaskSpec]


@dataclass(frozen=True)
class SuiteSpec:
    name: str
    description: str
    tasks: tuple[TaskSpec, ...] = field(default_factory=tuple)
    source: str = ""

    def task(self, name: str) -> TaskSpec:
        for spec in self.tasks:
            if name in (spec.name, spec.short):
                return spec
        raise ConfigError(f"suite {self.name!r} has no task {name!r}; known: {', '.join(t.name for t in self.tasks)}")

    def select(self, names: list[str] | None) -> list[TaskSpec]:
        """The tasks named (by name or paper abbreviation), in suite order; all tasks when ``names`` is empty."""
        if not names:
            return list(self.tasks)
        wanted = {self.task(n).name for n in names}
        return [t for t in self.tasks if t.name in wanted]


def _require(entry: dict, key: str, where: str) -> Any:
    if key not in entry:
        raise ConfigError(f"{where}: missing field {key!r}")
    return entry[key]


def _hear_spec(entry: dict, where: str) -> HearTaskSpec:
    fields = [f.name for f in dataclasses.fields(HearTaskSpec)]
    unknown = set(entry) - set(fields)
    if unknown:
        raise ConfigError(f"{where}: unknown fields {sorted(unknown)}")
    missing = [name for name in fields if name not in entry and name != "kind"]
    if missing:
        raise ConfigError(f"{where}: missing fields {missing}")
    spec = HearTaskSpec(**{**entry, "metrics": tuple(entry["metrics"])})
    if spec.level not in LEVELS:
        raise ConfigError(f"{where}: level must be one of {LEVELS}, got {spec.level!r}")
    if spec.prediction_type not in PREDICTION_TYPES:
        raise ConfigError(f"{where}: prediction_type must be one of {PREDICTION_TYPES}, got {spec.prediction_type!r}")
    if spec.split_mode not in SPLIT_MODES:
        raise ConfigError(f"{where}: split_mode must be one of {SPLIT_MODES}, got {spec.split_mode!r}")
    if (spec.split_mode == "trainvaltest") != (spec.folds is None):
        raise ConfigError(f"{where}: folds must be null for trainvaltest and an integer for k-fold")
    if spec.metric not in spec.metrics:
        raise ConfigError(f"{where}: primary metric {spec.metric!r} is not in metrics {list(spec.metrics)}")
    return spec


def _superb_spec(entry: dict, where: str) -> SuperbTaskSpec:
    s3prl = _require(entry, "s3prl", where)
    layout = _require(entry, "layout", where)
    protocol_fields = {f.name for f in dataclasses.fields(SuperbProtocol)}
    protocol = entry.get("protocol") or {}
    if set(protocol) - protocol_fields:
        raise ConfigError(f"{where}: unknown protocol fields {sorted(set(protocol) - protocol_fields)}")
    runner = entry.get("runner")
    if runner is not None and runner not in SUPERB_RUNNERS:
        raise ConfigError(f"{where}: runner must be one of {SUPERB_RUNNERS} or null, got {runner!r}")
    metrics = tuple(SuperbMetric(m["name"], bool(m["higher_is_better"])) for m in _require(entry, "metrics", where))
    spec = SuperbTaskSpec(
        name=_require(entry, "name", where),
        short=_require(entry, "short", where),
        title=_require(entry, "title", where),
        category=_require(entry, "category", where),
        metric=_require(entry, "metric", where),
        metrics=metrics,
        s3prl_downstream=_require(s3prl, "downstream", where),
        s3prl_config=s3prl.get("config", ""),
        s3prl_problem=s3prl.get("problem"),
        runner=runner,
        dataset=entry.get("dataset"),
        layout=SuperbLayout(layout["root"], tuple(layout.get("required", ())), layout.get("description", "")),
        protocol=SuperbProtocol(**protocol),
        folds=entry.get("folds"),
    )
    if spec.metric not in {m.name for m in metrics}:
        raise ConfigError(f"{where}: primary metric {spec.metric!r} is not in metrics")
    if spec.runner is not None and spec.s3prl_problem is None:
        raise ConfigError(f"{where}: runner s3prl_problem needs s3prl.problem (the class name)")
    return spec


def _demo_superb_spec(entry: dict, where: str) -> SuperbTaskSpec:
    """A demo SUPERB task: a SUPERB task's reader and head under another name, with a short schedule."""
    base = superb_suite().task(_require(entry, "base", where))
    overrides = entry.get("protocol") or {}
    protocol_fields = {f.name for f in dataclasses.fields(SuperbProtocol)}
    if set(overrides) - protocol_fields:
        raise ConfigError(f"{where}: unknown protocol fields {sorted(set(overrides) - protocol_fields)}")
    layout = dataclasses.replace(base.layout, root=entry.get("layout_root", base.layout.root))
    return dataclasses.replace(
        base,
        name=_require(entry, "name", where),
        base=base.name,
        short=entry.get("short", base.short),
        layout=layout,
        protocol=dataclasses.replace(base.protocol, **overrides),
        folds=entry.get("folds", base.folds),
    )


def load_suite_file(path: Path | str) -> SuiteSpec:
    """Read and check one suite file (``tasks/<suite>.yaml``)."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError as error:
        raise ConfigError(f"suite file {path} not found") from error
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML ({error})") from error
    if not isinstance(data, dict) or "tasks" not in data or "suite" not in data:
        raise ConfigError(f"{path}: expected a mapping with 'suite' and 'tasks'")
    default_kind = data["suite"] if data["suite"] in ("hear", "superb") else None
    specs: list[TaskSpec] = []
    for i, entry in enumerate(data["tasks"]):
        where = f"{path}: task #{i + 1} ({entry.get('name', '?')})"
        kind = entry.get("kind", default_kind)
        if kind == "hear":
            specs.append(_hear_spec({k: v for k, v in entry.items()}, where))
        elif kind == "superb" and "base" in entry:
            specs.append(_demo_superb_spec(entry, where))
        elif kind == "superb":
            specs.append(_superb_spec(entry, where))
        else:
            raise ConfigError(f"{where}: kind must be hear or superb, got {kind!r}")
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        raise ConfigError(f"{path}: duplicate task names")
    return SuiteSpec(data["suite"], data.get("description", ""), tuple(specs), str(path))


@functools.lru_cache(maxsize=None)
def load_suite(name: str) -> SuiteSpec:
    """A suite by name: ``hear``, ``superb``, ``demo`` (files in ``tasks/``)."""
    path = tasks_dir() / f"{name}.yaml"
    if not path.is_file():
        raise ConfigError(f"unknown suite {name!r}: no {path} (known: {', '.join(suite_names())})")
    return load_suite_file(path)


def suite_names() -> list[str]:
    return sorted(p.stem for p in tasks_dir().glob("*.yaml"))


def hear_suite() -> SuiteSpec:
    return load_suite("hear")


def superb_suite() -> SuiteSpec:
    return load_suite("superb")


def demo_suite() -> SuiteSpec:
    return load_suite("demo")


DEMO_SUITES = ("demo", "demo_superb")  # suites whose data spear_bench.bench.demo_data generates
