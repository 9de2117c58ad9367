"""The paper's leaderboard columns, laid out from the task registry (``tasks/*.yaml``).

A :class:`Benchmark` (SUPERB, HEAR, fine-tuning) lists the registry's tasks that the paper
has columns for (:class:`PaperTask`), under their short names (the paper's abbreviations:
``PR``, ``ESC``, ``LS-100``) and titles. Each :class:`PaperMetric` is a metric as the
paper prints it: its header and decimals (the registry's ``paper``/``decimals``), its
direction (the registry's, which every row carries too) and the registry's metric name.

A measured row belongs to the column whose task is the row's own ``task_short`` (written
from the task registry when the row was stored) and whose metric is the row's metric (the
registry's name, or the paper's header, compared after :func:`normalise_name`: lower case,
runs of non-alphanumerics turned into ``_``); nothing is inferred from the stored task name.

Units: the report shows every metric in the paper's units (percent for accuracies, error
rates, mAP, F-measures, STOI). Each row says the unit of its value (``unit``): a
``fraction`` (heareval's scores) is shown in percent, anything else (``percent``, ``dB``,
no unit) as stored (:func:`display_value`). Nothing is guessed from the size of a value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable

from spear_bench.task_registry import SuiteSpec, TaskSpec, load_suite


def normalise_name(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


@dataclass(frozen=True)
class PaperMetric:
    key: str  # as the paper's header writes it: "PER", "Acc", "SI-SDRi"
    higher_is_better: bool
    decimals: int = 2
    names: tuple[str, ...] = ()  # the registry's metric names (normalised) this column shows

    def matches(self, metric: str) -> bool:
        name = normalise_name(metric)
        return name == normalise_name(self.key) or name in self.names


@dataclass(frozen=True)
class PaperTask:
    key: str  # the paper's abbreviation
    title: str
    group: str  # SUPERB category, HEAR group or fine-tuning kind
    metrics: tuple[PaperMetric, ...]
    splits: tuple[str, ...] = ("",)  # "" = one test split; else the named test splits shown

    def metric(self, metric: str, split: str = "") -> PaperMetric | None:
        """The column metric a stored metric name is; with a named ``split``, ``<name>_<split>`` too
        (fine-tuned ASR stores ``wer_test_clean`` with split ``test-clean``)."""
        found = next((m for m in self.metrics if m.matches(metric)), None)
        suffix = "_" + normalise_name(split)
        if found is None and split and normalise_name(metric).endswith(suffix):
            base = normalise_name(metric)[: -len(suffix)]
            found = next((m for m in self.metrics if m.matches(base)), None)
        return found


@dataclass(frozen=True)
class Column:
    """One column of a leaderboard: a task's metric on one split."""

    task: str
    metric: str
    split: str
    higher_is_better: bool
    decimals: int
    label: str
    group: str = ""


@dataclass
class Benchmark:
    """A named list of tasks (one registry per benchmark)."""

    name: str  # "superb" | "hear" | "finetune"
    suites: tuple[str, ...]  # store suites whose rows belong here
    tasks: list[PaperTask] = field(default_factory=list)

    def task(self, key: str) -> PaperTask:
        for spec in self.tasks:
            if spec.key == key:
                return spec
        raise KeyError(f"{self.name}: unknown task {key!r}")

    def find_task(self, short: str) -> PaperTask | None:
        """The task whose key is ``short`` (a row's ``task_short``), or None."""
        return next((spec for spec in self.tasks if short and spec.key == short), None)

    def columns(self) -> list[Column]:
        out = []
        for spec in self.tasks:
            for metric in spec.metrics:
                for split in spec.splits:
                    parts = (
                        [spec.key]
                        + ([split] if split else [])
                        + ([metric.key] if len(spec.metrics) > 1 or self.name != "hear" else [])
                    )
                    out.append(
                        Column(
                            spec.key,
                            metric.key,
                            split,
                            metric.higher_is_better,
                            metric.decimals,
                            " ".join(parts),
                            spec.group,
                        )
                    )
        return out


def paper_tasks(suite: SuiteSpec, group: Callable[[TaskSpec], str]) -> list[PaperTask]:
    """The suite's tasks with columns in the paper, in suite order: title from the task, metrics as printed."""
    columns: dict[str, list] = {}
    for column in suite.paper_columns:
        columns.setdefault(column.task, []).append(column)
    tasks = []
    for short, printed in columns.items():
        spec = suite.task(short)  # the first task under this short name
        metrics = tuple(
            PaperMetric(c.header, spec.metric_facts(c.metric).higher_is_better, c.decimals, (normalise_name(c.metric),))
            for c in printed
        )
        tasks.append(PaperTask(short, spec.title, group(spec), metrics, printed[0].splits))
    return tasks


SUPERB = Benchmark("superb", ("superb",), paper_tasks(load_suite("superb"), lambda spec: spec.category.capitalize()))

# The HEAR group averages of Table 5; their members come from Table 15 (hear_task_groups.csv).
HEAR_GROUPS = ("Environment", "Speech", "Music")
HEAR_AVERAGE_KEYS = {"Environment": "HEAR-Env", "Speech": "HEAR-Speech", "Music": "HEAR-Music", "all": "HEAR-Avg"}
MEAN = "mean"  # the metric name of an average over tasks


def hear_benchmark(groups: dict[str, str]) -> Benchmark:
    """The HEAR benchmark: the tasks of tasks/hear.yaml (title, primary score as the paper prints it) under
    their short names, in the paper's column order, with task groups as Table 15 gives them (``task -> group``)."""
    return Benchmark("hear", ("hear",), paper_tasks(load_suite("hear"), lambda spec: groups.get(spec.short, "")))


FINETUNE_GROUPS = {"asr": "ASR", "audioset": "AT"}  # Table 3's column groups
FINETUNE = Benchmark(
    "finetune", ("finetune",), paper_tasks(load_suite("finetune"), lambda spec: FINETUNE_GROUPS[spec.finetune])
)

# Split names the runners may write, mapped to the paper's.
SPLIT_ALIASES = {"test_clean": "test-clean", "clean": "test-clean", "test_other": "test-other", "other": "test-other"}
TEST_SPLITS = frozenset({"", "test", "eval", "evaluation"})


def canonical_split(split: str) -> str:
    name = normalise_name(split)
    if name in SPLIT_ALIASES:
        return SPLIT_ALIASES[name]
    return "" if name in TEST_SPLITS else name


def display_value(value: float, unit: str) -> float:
    """A stored value in the paper's units, by the unit its row gives: a fraction in percent, the rest as stored."""
    return value * 100.0 if unit == "fraction" else value
