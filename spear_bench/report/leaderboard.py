"""Leaderboards: measured rows from the results store beside the paper's rows.

A :class:`Leaderboard` is plain data (columns, rows of cells, notes); the renderers in
:mod:`spear_bench.report.render` turn it into Markdown, HTML and LaTeX. Measured rows
always come first and carry ``source="measured"``; paper rows name their tables.

Which paper rows a leaderboard shows:
- SUPERB: Tables 13 + 14 (all 15 tasks), then the models only Table 4 has (BEATs, EAT,
  Dasheng 1.2B, USAD) with Table 4's ten columns.
- HEAR: Table 16's per-task rows with group and overall averages recomputed by
  :func:`~spear_bench.report.aggregate.hear_averages` (the same code as measured rows),
  then the rows only Table 5 has (published averages only).
- Fine-tuning: Table 3 (RNN-T ASR, AudioSet mAP); CTC fine-tuning: Table 11.
Measured rows of any other suite (``demo``...) or that match no known task get a
generic table per suite.
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from spear_bench.report.aggregate import Measured, hear_averages, superb_normalisers, superb_score
from spear_bench.report.columns import (
    FINETUNE,
    HEAR_AVERAGE_KEYS,
    HEAR_GROUPS,
    MEAN,
    SUPERB,
    Benchmark,
    Column,
    PaperMetric,
    PaperTask,
    canonical_split,
    display_value,
    hear_benchmark,
)
from spear_bench.report.consistency import KNOWN_HEAR_MISMATCHES
from spear_bench.report.paper_models import display_name

ColumnKey = tuple[str, str, str]  # task, metric, split
MEASURED = "measured"
PARTIAL_MARK = "\u2020"  # dagger: average over part of a group's tasks


def column_key(column: Column) -> ColumnKey:
    return (column.task, column.metric, column.split)


@dataclass
class Cell:
    value: float | None
    std: float = 0.0
    seeds: int = 0
    ci: float = math.nan  # half-width of the 95 % Student-t interval over seeds (NaN for one seed)
    partial: bool = False  # an average over only some of its tasks
    bold: bool = False
    note: str = ""


@dataclass
class Row:
    name: str
    model: str
    variant: str
    source: str  # "measured" or "paper T13+T14" ...
    cells: dict[ColumnKey, Cell] = field(default_factory=dict)

    @property
    def measured(self) -> bool:
        return self.source == MEASURED


@dataclass
class Leaderboard:
    key: str
    title: str
    description: str
    columns: list[Column]
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def measured_rows(self) -> list[Row]:
        return [r for r in self.rows if r.measured]

    @property
    def paper_rows(self) -> list[Row]:
        return [r for r in self.rows if not r.measured]

    def mark_best(self) -> None:
        """Bold the best value of each column (direction-aware; ties at printed precision all bold)."""
        for column in self.columns:
            if column.higher_is_better is None:
                continue
            key = column_key(column)
            cells = [
                r.cells[key]
                for r in self.rows
                if key in r.cells and r.cells[key].value is not None and not r.cells[key].partial
            ]
            if not cells:
                continue
            rounded = [round(c.value, column.decimals) for c in cells]
            best = max(rounded) if column.higher_is_better else min(rounded)
            for cell, value in zip(cells, rounded):
                cell.bold = value == best


def _matches(name: str, patterns: Sequence[str] | None) -> bool:
    """A name matches a pattern it equals (``spear_base[random-init]``, whose brackets a glob would read as a
    character class) or a glob pattern (``spear_*``)."""
    return patterns is None or any(name == p or fnmatch.fnmatchcase(name, p) for p in patterns)


def _paper_rows(reference, tables: Sequence[str], columns: list[Column], paper_models, exclude=()) -> list[Row]:
    """One row per (model, variant) of the given tables, in paper order; cells of known columns only."""
    wanted = {column_key(c) for c in columns}
    frame = reference[reference["table"].isin(list(tables))]
    rows: dict[tuple[str, str], Row] = {}
    for record in frame.itertuples(index=False):
        identity = (record.model, record.variant)
        if identity in exclude or not _matches(record.model, paper_models):
            continue
        key = (
            record.task,
            record.metric,
            record.split if record.suite == "finetune" and record.split != "eval" else "",
        )
        if key not in wanted:
            continue
        row = rows.get(identity)
        if row is None:
            name = display_name(record.model) + (f" [{record.variant}]" if record.variant else "")
            row = rows[identity] = Row(name, record.model, record.variant, "paper T" + "+T".join(tables))
        row.cells.setdefault(key, Cell(float(record.value)))
    return list(rows.values())


def _match(benchmark: Benchmark, item: Measured) -> ColumnKey | None:
    """The leaderboard column a measured number belongs to, or None: by the row's own ``task_short``
    (a row without one, written before rows carried it, is shown in its suite's generic table)."""
    if item.suite not in benchmark.suites:
        return None
    spec: PaperTask | None = benchmark.find_task(item.task_short)
    if spec is None:
        return None
    split = canonical_split(item.split)
    metric: PaperMetric | None = spec.metric(item.metric, split)
    if metric is None:
        return None
    if spec.splits == ("",):
        return (spec.key, metric.key, "") if split == "" else None
    return (spec.key, metric.key, split) if split in spec.splits else None


def _measured_rows(benchmark: Benchmark, measured: Iterable[Measured], models, used: set[int]) -> list[Row]:
    rows: dict[str, Row] = {}
    for item in measured:
        if not _matches(item.model, models):
            continue
        key = _match(benchmark, item)
        if key is None:
            continue
        used.add(id(item))
        row = rows.setdefault(item.model, Row(item.model, item.model, "", MEASURED))
        row.cells[key] = Cell(
            display_value(item.value, item.unit),
            display_value(item.std, item.unit),
            item.seeds,
            ci=display_value(item.ci, item.unit),
        )
    return list(rows.values())


def superb_leaderboard(
    reference, measured: list[Measured], models=None, paper_models=None, used: set[int] | None = None
) -> Leaderboard:
    used = set() if used is None else used
    score = Column("SUPERB", "score", "", True, 1, "SUPERB score", "Aggregate")
    coverage = Column("SUPERB", "tasks", "", None, 0, "Tasks", "Aggregate")
    columns = SUPERB.columns()
    board = Leaderboard(
        "superb",
        "SUPERB leaderboard",
        "Frozen encoder, weighted sum of layers (SUPERB protocol). "
        "Paper rows: Tables 13 and 14, plus the models only Table 4 reports (its 10 tasks). "
        "The SUPERB score maps each metric linearly from FBANK (0) to the paper's best (1000) and "
        "averages over tasks (see docs/reports.md); 'Tasks' is how many of the 15 tasks it covers.",
        columns + [score, coverage],
    )
    full = _paper_rows(reference, ["13", "14"], columns, paper_models)
    have = {(r.model, r.variant) for r in full}
    table4 = [r for r in _paper_rows(reference, ["4"], columns, paper_models) if (r.model, r.variant) not in have]
    board.rows = _measured_rows(SUPERB, measured, models, used) + full + table4
    scale_rows = reference[reference["table"].isin(["13", "14"])]
    normalisers = superb_normalisers(
        (r.model, r.task, r.metric, float(r.value), bool(r.higher_is_better))
        for r in scale_rows.itertuples(index=False)
    )
    for row in board.rows:
        values = {(t, m): c.value for (t, m, _), c in row.cells.items()}
        result = superb_score(values, normalisers)
        if result is not None:
            row.cells[column_key(score)] = Cell(result.value, partial=result.tasks < result.total)
            row.cells[column_key(coverage)] = Cell(float(result.tasks), note=f"{result.tasks}/{result.total}")
    board.notes.append(
        f"{PARTIAL_MARK} SUPERB score over fewer than all 15 tasks: "
        "not comparable with full-coverage scores, never bold."
    )
    board.notes.append(
        "Table 4 prints some numbers that differ from Tables 13/14 for the same model "
        "(e.g. WavLM Base+ PR 3.5 vs 3.92); "
        "Tables 13/14 are used wherever they have the model."
    )
    board.mark_best()
    return board


def hear_leaderboard(
    reference,
    groups: dict[str, str],
    measured: list[Measured],
    models=None,
    paper_models=None,
    used: set[int] | None = None,
) -> Leaderboard:
    used = set() if used is None else used
    benchmark = hear_benchmark(groups)
    order = {g: i for i, g in enumerate(HEAR_GROUPS)}
    task_columns = sorted(
        benchmark.columns(), key=lambda c: (order.get(c.group, 9), [t.key for t in benchmark.tasks].index(c.task))
    )
    average_columns = [
        Column(HEAR_AVERAGE_KEYS[g], MEAN, "", True, 2, label, "Average")
        for g, label in (("Environment", "Env"), ("Speech", "Speech"), ("Music", "Music"), ("all", "Avg"))
    ]
    board = Leaderboard(
        "hear",
        "HEAR leaderboard",
        "Per-task HEAR scores (Table 15 groups: Environment / Speech / Music) "
        "and their averages as in Table 5: group means "
        "and the mean over all 18 tasks, recomputed here from the per-task cells for every row that has them. "
        "Paper rows: Table 16, then the rows only Table 5 reports (published averages).",
        task_columns + average_columns,
    )
    t16 = _paper_rows(reference, ["16"], task_columns, paper_models)
    have = {(r.model, r.variant) for r in t16}
    t5 = [r for r in _paper_rows(reference, ["5"], average_columns, paper_models) if (r.model, r.variant) not in have]
    for row in t5:
        row.source = "paper T5"
    measured_rows = _measured_rows(benchmark, measured, models, used)
    for row in measured_rows + t16:
        scores = {task: cell.value for (task, _, _), cell in row.cells.items()}
        for group, average in hear_averages(scores, groups).items():
            row.cells[(HEAR_AVERAGE_KEYS[group], MEAN, "")] = Cell(
                average.value, partial=not average.complete, note=f"{average.count}/{average.expected} tasks"
            )
    board.rows = measured_rows + t16 + t5
    board.notes.append(
        f"{PARTIAL_MARK} average over only the tasks present (count in the HTML tooltip): not comparable, never bold."
    )
    for (model, variant, _, _), why in KNOWN_HEAR_MISMATCHES.items():
        note = f"Paper inconsistency, {display_name(model)}{' [' + variant + ']' if variant else ''}: {why}."
        if note not in board.notes:
            board.notes.append(note)
    board.notes.append(
        "Grey rows of Tables 5/16 (all layers concatenated) are marked [features=concat]; "
        "the markdown paper loses the shading, "
        "see results/reference/README.md for the evidence."
    )
    board.mark_best()
    return board


FINETUNE_CTC = Benchmark(
    "finetune_ctc",
    (),
    [
        FINETUNE.task("LS-100"),
        PaperTask(  # a column of Table 11 only: no fine-tune task of the registry has it
            "LS-10", "LibriSpeech 10 h (CTC)", "ASR", FINETUNE.task("LS-100").metrics, ("test-clean", "test-other")
        ),
    ],
)


def _finetune_columns(benchmark: Benchmark) -> list[Column]:
    return [
        Column(
            c.task,
            c.metric,
            c.split,
            c.higher_is_better,
            c.decimals,
            f"{c.task} {c.split.replace('test-', '')}" if c.split else f"{c.task} {c.metric}",
            c.group,
        )
        for c in benchmark.columns()
    ]


def finetune_leaderboard(
    reference, measured: list[Measured], models=None, paper_models=None, used: set[int] | None = None
) -> Leaderboard:
    used = set() if used is None else used
    columns = _finetune_columns(FINETUNE)
    board = Leaderboard(
        "finetune",
        "Fine-tuning: ASR WER and AudioSet mAP",
        "Full fine-tuning (Table 3): LibriSpeech WER (%) of an RNN-T head on test-clean / test-other, "
        "AudioSet mAP (%) on the eval set.",
        columns,
    )
    board.rows = _measured_rows(FINETUNE, measured, models, used) + _paper_rows(reference, ["3"], columns, paper_models)
    board.mark_best()
    return board


def ctc_leaderboard(reference, paper_models=None) -> Leaderboard:
    columns = _finetune_columns(FINETUNE_CTC)
    board = Leaderboard(
        "finetune_ctc",
        "Fine-tuning with limited labels: CTC (Table 11)",
        "LibriSpeech WER (%) of a letter CTC head fine-tuned on 100 h / 10 h, "
        "without and with a 4-gram LM (paper rows only).",
        columns,
    )
    board.rows = _paper_rows(reference, ["11"], columns, paper_models)
    board.mark_best()
    return board


def _decimals(values: list[float]) -> int:
    largest = max((abs(v) for v in values), default=0.0)
    return 1 if largest >= 100 else 2 if largest >= 10 else 3


def suite_leaderboards(measured: list[Measured], models=None, used: set[int] | None = None) -> list[Leaderboard]:
    """A generic table per suite for measured numbers no benchmark leaderboard took."""
    used = set() if used is None else used
    by_suite: dict[str, list[Measured]] = {}
    for item in measured:
        if id(item) in used or not _matches(item.model, models):
            continue
        by_suite.setdefault(item.suite, []).append(item)
    boards = []
    for suite, items in sorted(by_suite.items()):
        keys = sorted({(i.task, i.metric, i.split) for i in items})
        direction = {(i.task, i.metric, i.split): i.higher_is_better for i in items}
        columns = []
        for task, metric, split in keys:
            values = [i.value for i in items if (i.task, i.metric, i.split) == (task, metric, split)]
            label = f"{task} {metric}" + (f" ({split})" if split and split != "test" else "")
            columns.append(
                Column(task, metric, split, direction[(task, metric, split)], _decimals(values), label, suite)
            )
        board = Leaderboard(
            f"suite_{suite}",
            f"Measured: suite '{suite}'",
            f"Every measured number of suite '{suite}' that no benchmark leaderboard above shows "
            "(mean over seeds of the latest config; no paper rows).",
            columns,
        )
        rows: dict[str, Row] = {}
        for item in items:
            row = rows.setdefault(item.model, Row(item.model, item.model, "", MEASURED))
            row.cells[(item.task, item.metric, item.split)] = Cell(item.value, item.std, item.seeds, ci=item.ci)
        board.rows = list(rows.values())
        board.mark_best()
        boards.append(board)
    return boards


def all_leaderboards(reference, groups, measured: list[Measured], models=None, paper_models=None) -> list[Leaderboard]:
    used: set[int] = set()
    boards = [
        superb_leaderboard(reference, measured, models, paper_models, used),
        hear_leaderboard(reference, groups, measured, models, paper_models, used),
        finetune_leaderboard(reference, measured, models, paper_models, used),
        ctc_leaderboard(reference, paper_models),
    ]
    return boards + suite_leaderboards(measured, models, used)
