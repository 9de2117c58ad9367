"""Task registry: the HEAR, SUPERB and demo task definitions in ``tasks/*.yaml`` as typed records.

Tasks are data, not code (``tasks/hear.yaml``, ``tasks/superb.yaml``, ``tasks/demo.yaml``);
this module only reads and checks them. A suite is a named list of tasks; a task is a
:class:`HearTaskSpec` (a HEAR 2021 task folder scored with the heareval protocol), a
:class:`SuperbTaskSpec` (an s3prl downstream task) or a :class:`FinetuneTaskSpec` (a
``spear-bench finetune`` task, ``tasks/finetune.yaml``). Where a task's data lives is
decided by the user (``--data-root``): specs only name the folder expected under that root.

Every task answers :meth:`metric_facts` (unit and direction of each metric it scores):
the facts each result row stores when it is written, so that reports read them from the
rows instead of guessing. HEAR metrics take theirs from heareval's scorers
(:mod:`spear_bench.hear_metrics`), SUPERB and fine-tune metrics from their task files.

This module is the only reader of ``tasks/*.yaml``. Besides the tasks, a suite file may
say how the paper prints its metrics (:class:`PaperColumn`: header and decimals, the
report's layout: :mod:`spear_bench.report.columns`) and, for the demo suite, each HEAR
task's probe grid cap (``hear_probe_grid``). Neither is part of a task spec, so neither
enters a unit's config hash.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

import yaml

from spear_bench.errors import ConfigError, DatasetError
from spear_bench.hear_metrics import get_metric
from spear_bench.paths import tasks_dir

LEVELS = ("scene", "timestamp")
# How a stored value is expressed: a fraction in [0, 1], percent, decibels, or no unit ("").
UNITS = ("fraction", "percent", "dB", "")
PREDICTION_TYPES = ("multiclass", "multilabel")
SPLIT_MODES = ("trainvaltest", "new_split_kfold", "presplit_kfold")
# Which of s3prl's entry points trains a SUPERB task: its s3prl.problem class | the legacy run_downstream expert.
S3PRL_ENTRIES = ("problem", "legacy")


@dataclass(frozen=True)
class MetricFacts:
    """What a result row says about its metric: the unit its value is in and its direction."""

    name: str
    unit: str
    higher_is_better: bool


@dataclass(frozen=True)
class PaperColumn:
    """How the paper prints one metric of a task: under ``header`` with ``decimals`` (for each of ``splits``)."""

    task: str  # the task's short name (the paper's abbreviation)
    metric: str  # the registry's metric name
    header: str  # the paper's column header: PER, Acc, SI-SDRi
    decimals: int
    splits: tuple[str, ...] = ("",)  # "": the one test split; else the named test splits the paper shows


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
                f"HEAR task {self.name}: expected {metadata} "
                f"(a hearpreprocess task folder {self.folder}/ under --data-root)"
            )
        return folder

    def metric_facts(self, metric: str) -> MetricFacts:
        """Unit and direction of one of this task's metrics, from its heareval scorer."""
        if metric not in self.metrics:
            raise ConfigError(f"HEAR task {self.name} has no metric {metric!r}")
        scorer = get_metric(metric)
        return MetricFacts(metric, scorer.unit, scorer.higher_is_better)


@dataclass(frozen=True)
class SuperbMetric:
    name: str
    higher_is_better: bool
    unit: str = "percent"


@dataclass(frozen=True)
class SuperbLayout:
    root: str  # folder under the data root
    required: tuple[str, ...]  # paths under ``root`` that must exist
    description: str


@dataclass(frozen=True)
class SuperbProtocol:
    """The training schedule of an s3prl.problem recipe (its class defaults; demo tasks shorten it).

    Written into the recipe's config by spear_bench.superb.recipes.apply_protocol; the
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
    s3prl_entry: str | None  # problem | legacy (spear_bench.superb.legacy_tasks) | None (not run)
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
            raise DatasetError(
                f"SUPERB task {self.name}: expected the corpus folder {root} ({self.layout.description})"
            )
        for relative in self.layout.required:
            if not (root / relative).exists():
                raise DatasetError(f"SUPERB task {self.name}: expected {root / relative} ({self.layout.description})")
        return root

    def higher_is_better(self, metric: str) -> bool:
        return self.metric_facts(metric).higher_is_better

    def metric_facts(self, metric: str) -> MetricFacts:
        for m in self.metrics:
            if m.name == metric:
                return MetricFacts(m.name, m.unit, m.higher_is_better)
        raise ConfigError(f"SUPERB task {self.name} has no metric {metric!r}")


@dataclass(frozen=True)
class FinetuneTaskSpec:
    """A fine-tuning task (``spear-bench finetune asr|audioset``), named by its config's ``task``.

    ``metrics`` are the base names: an ASR run stores ``wer_<split>`` per evaluation split
    (``wer_test_clean``), and ``<metric>_step0`` for the score before fine-tuning; both
    take the facts of their base metric.
    """

    name: str
    short: str
    title: str
    finetune: str  # asr | audioset
    metrics: tuple[SuperbMetric, ...]
    kind: str = "finetune"

    def metric_facts(self, metric: str) -> MetricFacts:
        base = metric[: -len("_step0")] if metric.endswith("_step0") else metric
        for m in self.metrics:
            if base == m.name or (self.finetune == "asr" and base.startswith(m.name + "_")):
                return MetricFacts(metric, m.unit, m.higher_is_better)
        known = ", ".join(m.name for m in self.metrics)
        raise ConfigError(f"fine-tune task {self.name} has no metric {metric!r} (known: {known})")


TaskSpec = Union[HearTaskSpec, SuperbTaskSpec, FinetuneTaskSpec]


@dataclass(frozen=True)
class SuiteSpec:
    name: str
    description: str
    tasks: tuple[TaskSpec, ...] = field(default_factory=tuple)
    source: str = ""
    paper_columns: tuple[PaperColumn, ...] = ()  # the paper's columns of this suite's tasks, in suite order
    hear_probe_grid: dict = field(default_factory=dict)  # demo: task -> heareval task_specific_param_grid

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


def _metrics(entry: dict, where: str) -> tuple[SuperbMetric, ...]:
    """``metrics: [{name, unit, higher_is_better}, ...]``: every fact given, units from :data:`UNITS`."""
    out = []
    for m in _require(entry, "metrics", where):
        if not isinstance(m, dict) or not {"name", "unit", "higher_is_better"} <= set(m):
            raise ConfigError(f"{where}: each metric needs name, unit and higher_is_better, got {m!r}")
        if m["unit"] not in UNITS:
            raise ConfigError(f"{where}: metric {m['name']!r} unit must be one of {UNITS}, got {m['unit']!r}")
        out.append(SuperbMetric(m["name"], bool(m["higher_is_better"]), m["unit"]))
    return tuple(out)


def _paper_column(short: str, metric: str, entry: dict, where: str, splits=("",)) -> PaperColumn:
    """``{paper: HEADER, decimals: N}`` of one metric: both given, decimals a non-negative integer."""
    header, decimals = entry.get("paper"), entry.get("decimals")
    if not isinstance(header, str) or not isinstance(decimals, int) or isinstance(decimals, bool) or decimals < 0:
        raise ConfigError(f"{where}: metric {metric!r} needs paper (a header) and decimals (an integer >= 0)")
    return PaperColumn(short, metric, header, decimals, tuple(splits))


def _metric_paper_columns(entry: dict, where: str) -> list[PaperColumn]:
    """The paper's columns of a SUPERB or fine-tune task: its metrics that name a ``paper`` header."""
    splits = entry.get("paper_splits") or ("",)
    return [
        _paper_column(entry["short"], m["name"], m, where, splits)
        for m in entry["metrics"]
        if "paper" in m or "decimals" in m
    ]


def _hear_paper_columns(spec: HearTaskSpec, columns: dict, path: Path) -> list[PaperColumn]:
    """A HEAR task's column: its primary score, printed as the suite's ``paper_columns`` say."""
    if not columns:
        return []
    if spec.metric not in columns:
        raise ConfigError(f"{path}: paper_columns has no entry for {spec.name}'s primary metric {spec.metric!r}")
    return [_paper_column(spec.short, spec.metric, columns[spec.metric], f"{path}: paper_columns")]


def _unique_columns(columns: list[PaperColumn], path: Path) -> tuple[PaperColumn, ...]:
    """One column per (task, metric): tasks sharing a short name (two LS-100 entries) must print it alike."""
    out: dict[tuple[str, str], PaperColumn] = {}
    for column in columns:
        seen = out.setdefault((column.task, column.metric), column)
        if seen != column:
            raise ConfigError(f"{path}: task {column.task} prints {column.metric!r} two ways: {seen} and {column}")
    return tuple(out.values())


def _finetune_spec(entry: dict, where: str) -> FinetuneTaskSpec:
    finetune = _require(entry, "finetune", where)
    if finetune not in ("asr", "audioset"):
        raise ConfigError(f"{where}: finetune must be asr or audioset, got {finetune!r}")
    name, short, title = (_require(entry, key, where) for key in ("name", "short", "title"))
    return FinetuneTaskSpec(name, short, title, finetune, _metrics(entry, where))


def _superb_spec(entry: dict, where: str) -> SuperbTaskSpec:
    s3prl = _require(entry, "s3prl", where)
    layout = _require(entry, "layout", where)
    protocol_fields = {f.name for f in dataclasses.fields(SuperbProtocol)}
    protocol = entry.get("protocol") or {}
    if set(protocol) - protocol_fields:
        raise ConfigError(f"{where}: unknown protocol fields {sorted(set(protocol) - protocol_fields)}")
    s3prl_entry = entry.get("s3prl_entry")
    if s3prl_entry is not None and s3prl_entry not in S3PRL_ENTRIES:
        raise ConfigError(f"{where}: s3prl_entry must be one of {S3PRL_ENTRIES} or null, got {s3prl_entry!r}")
    metrics = _metrics(entry, where)
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
        s3prl_entry=s3prl_entry,
        dataset=entry.get("dataset"),
        layout=SuperbLayout(layout["root"], tuple(layout.get("required", ())), layout.get("description", "")),
        protocol=SuperbProtocol(**protocol),
        folds=entry.get("folds"),
    )
    if spec.metric not in {m.name for m in metrics}:
        raise ConfigError(f"{where}: primary metric {spec.metric!r} is not in metrics")
    if spec.s3prl_entry == "problem" and spec.s3prl_problem is None:
        raise ConfigError(f"{where}: s3prl_entry problem needs s3prl.problem (the class name)")
    if spec.s3prl_entry == "legacy" and spec.s3prl_problem is not None:
        raise ConfigError(f"{where}: s3prl_entry legacy is for tasks without an s3prl.problem class")
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
        # PyYAML's own text spans several lines (with a caret drawing): keep the place and the problem.
        mark = getattr(error, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark is not None else str(path)
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise ConfigError(f"{where}: not valid YAML ({problem})") from error
    if not isinstance(data, dict) or "tasks" not in data or "suite" not in data:
        raise ConfigError(f"{path}: expected a mapping with 'suite' and 'tasks'")
    default_kind = data["suite"] if data["suite"] in ("hear", "superb", "finetune") else None
    hear_columns = data.get("paper_columns") or {}
    if not isinstance(hear_columns, dict):
        raise ConfigError(f"{path}: paper_columns must map a HEAR metric to {{paper, decimals}}")
    specs: list[TaskSpec] = []
    columns: list[PaperColumn] = []
    for i, entry in enumerate(data["tasks"]):
        where = f"{path}: task #{i + 1} ({entry.get('name', '?')})"
        kind = entry.get("kind", default_kind)
        if kind == "hear":
            specs.append(_hear_spec({k: v for k, v in entry.items()}, where))
            columns += _hear_paper_columns(specs[-1], hear_columns, path)
        elif kind == "superb" and "base" in entry:
            specs.append(_demo_superb_spec(entry, where))
        elif kind == "superb":
            specs.append(_superb_spec(entry, where))
            columns += _metric_paper_columns(entry, where)
        elif kind == "finetune":
            specs.append(_finetune_spec(entry, where))
            columns += _metric_paper_columns(entry, where)
        else:
            raise ConfigError(f"{where}: kind must be hear, superb or finetune, got {kind!r}")
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        raise ConfigError(f"{path}: duplicate task names")
    grid = data.get("hear_probe_grid") or {}
    if not isinstance(grid, dict):
        raise ConfigError(f"{path}: hear_probe_grid must map a task name to its probe grid")
    return SuiteSpec(
        data["suite"],
        data.get("description", ""),
        tuple(specs),
        str(path),
        paper_columns=_unique_columns(columns, path),
        hear_probe_grid=grid,
    )


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


def finetune_task(name: str) -> FinetuneTaskSpec:
    """The fine-tune task a config's ``task`` names (ConfigError naming the known ones)."""
    suite = load_suite("finetune")
    for spec in suite.tasks:
        if spec.name == name:
            return spec
    known = ", ".join(t.name for t in suite.tasks)
    raise ConfigError(f"fine-tune task {name!r} is not in {suite.source}; known: {known}")


DEMO_SUITES = ("demo", "demo_superb")  # suites whose data spear_bench.demo generates
