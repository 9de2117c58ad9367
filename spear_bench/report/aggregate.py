"""Aggregate scores: HEAR group averages, the SUPERB score, and measured values from the store.

HEAR (Table 5): a group average is the plain mean of the group's per-task scores, with
group membership from Table 15 (``hear_task_groups.csv``); the overall average is the
mean over all 18 tasks (not the mean of the three group means: Table 5's WavLM Base+ row,
62.69, is the 18-task mean, while the mean of its group means is 62.24). A group whose
tasks are not all present gets a *partial* average, flagged as such.

Rounding: Table 16 prints per-task scores to 0.1 and Table 5 prints averages to 0.01, so
an average recomputed from Table 16 may differ from Table 5 by up to 0.05 (per-task
rounding, which averaging cannot increase) + 0.005 (Table 5's rounding):
:data:`HEAR_AVERAGE_TOLERANCE` = 0.055. Against Table 16's own ``Avg`` column (printed
to 0.1) the bound is 0.05 + 0.05 = :data:`HEAR_AVG_COLUMN_TOLERANCE`.

SUPERB score (SUPERB-SG / SUPERB challenge style): for every task metric,
``(s - s_FBANK) / (s_SOTA - s_FBANK)`` (1 = the reference best, 0 = FBANK; the same
formula serves both directions), averaged over a task's metrics, then over tasks, times
1000. ``s_FBANK`` is the FBANK row of Tables 13/14 and ``s_SOTA`` the best value among
the paper's rows of Tables 13/14 for that metric; both are fixed by the reference, so
adding measured models never changes anyone's score. A model's score uses the tasks it
has; the report prints how many of the 15 that is (scores over different task sets
are not comparable).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from spear_bench.report.stats import sample_std, t_interval

HEAR_AVERAGE_TOLERANCE = 0.055
HEAR_AVG_COLUMN_TOLERANCE = 0.1


@dataclass(frozen=True)
class Average:
    value: float
    count: int  # tasks averaged
    expected: int  # tasks in the group

    @property
    def complete(self) -> bool:
        return self.count == self.expected


def hear_averages(scores: Mapping[str, float], groups: Mapping[str, str]) -> dict[str, Average]:
    """Group averages and the overall average (key ``"all"``) of per-task HEAR scores.

    ``scores``: task abbreviation -> score (tasks outside ``groups`` are ignored);
    ``groups``: task -> group, as in Table 15. Groups with no score are left out.
    """
    members: dict[str, list[str]] = {}
    for task, group in groups.items():
        members.setdefault(group, []).append(task)
    members["all"] = list(groups)
    out = {}
    for group, tasks in members.items():
        present = [scores[t] for t in tasks if t in scores and scores[t] is not None and not math.isnan(scores[t])]
        if present:
            out[group] = Average(sum(present) / len(present), len(present), len(tasks))
    return out


@dataclass(frozen=True)
class NormalisedMetric:
    task: str
    metric: str
    fbank: float
    sota: float

    def normalise(self, value: float) -> float:
        return (value - self.fbank) / (self.sota - self.fbank)


def superb_normalisers(reference: Iterable[tuple[str, str, str, float, bool]]) -> list[NormalisedMetric]:
    """Per task metric: FBANK's value and the best reference value.

    ``reference``: (model, task, metric, value, higher_is_better) of the paper rows that define
    the scale (Tables 13 and 14).
    """
    fbank: dict[tuple[str, str], float] = {}
    best: dict[tuple[str, str], float] = {}
    for model, task, metric, value, higher in reference:
        key = (task, metric)
        if model == "fbank":
            fbank[key] = value
            continue
        if key not in best or (value > best[key] if higher else value < best[key]):
            best[key] = value
    return [
        NormalisedMetric(key[0], key[1], fbank[key], best[key])
        for key in best
        if key in fbank and best[key] != fbank[key]
    ]


@dataclass(frozen=True)
class SuperbScore:
    value: float
    tasks: int  # tasks the score covers
    total: int  # tasks on the scale


def superb_score(values: Mapping[tuple[str, str], float], normalisers: list[NormalisedMetric]) -> SuperbScore | None:
    """The SUPERB score of one model from its (task, metric) -> value (None if no task is covered)."""
    per_task: dict[str, list[float]] = {}
    all_tasks = {n.task for n in normalisers}
    for norm in normalisers:
        value = values.get((norm.task, norm.metric))
        if value is not None and not math.isnan(value):
            per_task.setdefault(norm.task, []).append(norm.normalise(value))
    if not per_task:
        return None
    task_scores = [sum(v) / len(v) for v in per_task.values()]
    return SuperbScore(1000.0 * sum(task_scores) / len(task_scores), len(per_task), len(all_tasks))


@dataclass(frozen=True)
class Measured:
    """One measured number: the mean over seeds of the latest config of a (model, suite, task, metric, split)."""

    model: str
    suite: str
    task: str
    metric: str
    split: str
    value: float
    std: float
    seeds: int
    config_hash: str
    higher_is_better: bool
    git_commit: str
    time: str
    task_short: str = ""  # from the rows (the task registry's short name when they were written)
    unit: str = ""  # from the rows: fraction | percent | dB | ""
    weights: str = ""  # fingerprint of the weights scored (ResultRow.weights)
    values: tuple[float, ...] = ()  # the per-seed scores, in seed order
    ci: float = math.nan  # half-width of the 95 % Student-t interval of the mean (NaN for one seed)
    layer: str = ""  # HEAR: the layer scored (ResultRow.layer)
    layer_weights: tuple[float, ...] = ()  # SUPERB: the weighted sum's layer weights, mean over seeds
    lr_search: dict | None = None  # SUPERB: the learning-rate search of the latest seed (ResultRow.lr_search)


def _short_weights(fingerprint: str) -> str:
    if not fingerprint:
        return "unrecorded-weights"
    return fingerprint.split(":", 1)[-1][:8] if fingerprint.startswith("sha256:") else fingerprint


def weights_labels(rows: Iterable) -> dict[tuple[str, str], str]:
    """(model, weights fingerprint) -> the model's name in the report.

    A name scored with one set of weights keeps its name; a name scored with several
    (``spear_base@ckpt-a`` and ``spear_base@ckpt-b``, or rows from before fingerprints were
    stored) becomes ``NAME@<fingerprint>`` per weights, so rows of different weights are
    never merged, and never replace each other, under one name.
    """
    seen: dict[str, set[str]] = {}
    for row in rows:
        seen.setdefault(row.model, set()).add(getattr(row, "weights", "") or "")
    return {
        (model, w): model if len(ws) == 1 else f"{model}@{_short_weights(w)}" for model, ws in seen.items() for w in ws
    }


def layer_label(model: str, layer: str) -> str:
    """A HEAR layer other than the default (``last``) is a model of its own in the report: ``NAME@layer=N``."""
    return model if layer in ("", "last") else f"{model}@layer={layer}"


def _mean_weights(rows: list) -> tuple[float, ...]:
    vectors = [r.layer_weights for r in rows if getattr(r, "layer_weights", ())]
    if not vectors or len({len(v) for v in vectors}) != 1:
        return tuple(vectors[-1]) if vectors else ()
    return tuple(sum(column) / len(vectors) for column in zip(*vectors))


def measured_values(rows: Iterable) -> list[Measured]:
    """Collapse store rows (ResultRow) into one number per (model, weights, suite, task, metric, split).

    Rows of different weights under one model name are kept apart (:func:`weights_labels`).
    When a task was run under several configs with the same weights, the config with the
    most recent row wins (an older config is an earlier attempt); the seeds of that config
    are averaged (std is the sample standard deviation over seeds, n - 1 as in the interval, 0 for one seed; ci the
    95 % Student-t half-width, :func:`spear_bench.report.stats.t_interval`). A HEAR layer other
    than the default is kept apart as ``NAME@layer=N`` (:func:`layer_label`).
    """
    rows = list(rows)
    labels = weights_labels(rows)
    groups: dict[tuple, dict[str, list]] = {}
    for row in rows:
        weights = getattr(row, "weights", "") or ""
        name = layer_label(labels[(row.model, weights)], getattr(row, "layer", "") or "")
        key = (name, row.suite, row.task, row.metric, row.split)
        groups.setdefault((key, weights), {}).setdefault(row.config_hash, []).append(row)
    out = []
    for (key, weights), by_config in sorted(groups.items()):
        config, chosen = max(by_config.items(), key=lambda item: (max(r.time for r in item[1]), item[0]))
        per_seed: dict[int, object] = {}
        for row in sorted(chosen, key=lambda r: r.time):
            per_seed[row.seed] = row  # a re-run of the same seed replaces the older value
        seed_rows = [per_seed[seed] for seed in sorted(per_seed)]
        values = [float(r.value) for r in seed_rows]
        mean = sum(values) / len(values)
        std = sample_std(values) if len(values) > 1 else 0.0
        latest = max(chosen, key=lambda r: r.time)
        out.append(
            Measured(
                *key,
                mean,
                std,
                len(values),
                config,
                bool(latest.higher_is_better),
                latest.git_commit,
                latest.time,
                getattr(latest, "task_short", ""),
                getattr(latest, "unit", ""),
                weights,
                tuple(values),
                t_interval(values).half_width,
                getattr(latest, "layer", "") or "",
                _mean_weights(seed_rows),
                getattr(latest, "lr_search", None),
            )
        )
    return out
