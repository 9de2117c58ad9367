"""Layer analysis plots (matplotlib, Agg; PNG and SVG): which layers a model's probes use.

- SUPERB: one heat map per model, tasks by layers, of the weighted-sum probe's learned layer
  weights (softmaxed; each row sums to 1), as the WavLM paper's layer-weight figure. The weights
  come with each SUPERB row (``ResultRow.layer_weights``, mean over folds and seeds); a model needs
  one task with weights for its map. ``plots/layer_weights_<model>.png|svg``.
- HEAR: one figure per model, the primary score of each task against the layer whose embeddings
  the HEAR probe was trained on (``spear-bench run --layers all`` stores each layer as
  ``<model>@layer=N``); error bars are the 95 % interval over seeds when a layer has several.
  ``plots/layer_scores_<model>.png|svg``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from pathlib import Path

from spear_bench.errors import SpearBenchError
from spear_bench.report.aggregate import Measured
from spear_bench.report.columns import display_value
from spear_bench.report.plots import pyplot, save_figure
from spear_bench.task_registry import load_suite

_LAYER = re.compile(r"^(?P<base>.+)@layer=(?P<index>-?\d+)$")


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.+-]", "_", name)


def layer_weight_maps(measured: Iterable[Measured]) -> dict[str, tuple[list[str], list[tuple[float, ...]]]]:
    """model -> (tasks, their layer-weight vectors), one vector per task (the first metric that carries one)."""
    out: dict[str, dict[str, tuple[float, ...]]] = {}
    for item in sorted(measured, key=lambda m: (m.model, m.task, m.metric)):
        if item.layer_weights and item.split == "test":
            out.setdefault(item.model, {}).setdefault(item.task, tuple(item.layer_weights))
    return {model: (list(tasks), list(tasks.values())) for model, tasks in out.items()}


def _primary_metric(suite: str, task: str) -> str | None:
    try:
        return load_suite(suite).task(task).metric
    except (SpearBenchError, KeyError, OSError):
        return None


def layer_score_curves(measured: Iterable[Measured]) -> dict[str, dict[str, list[tuple[int, float, float]]]]:
    """base model -> task -> [(layer, score, 95 % half-width)] sorted by layer, the task's primary metric,
    in the paper's units; only tasks scored on two layers or more."""
    curves: dict[str, dict[str, list[tuple[int, float, float]]]] = {}
    primary: dict[tuple[str, str], str | None] = {}
    for item in measured:
        match = _LAYER.match(item.model)
        if not match or item.split != "test":
            continue
        key = (item.suite, item.task)
        if key not in primary:
            primary[key] = _primary_metric(*key)
        if item.metric != primary[key]:
            continue
        ci = display_value(item.ci, item.unit) if item.seeds > 1 else math.nan
        point = (int(match.group("index")), display_value(item.value, item.unit), ci)
        curves.setdefault(match.group("base"), {}).setdefault(f"{item.task} {item.metric}", []).append(point)
    return {
        model: {task: sorted(points) for task, points in tasks.items() if len(points) > 1}
        for model, tasks in curves.items()
        if any(len(points) > 1 for points in tasks.values())
    }


def plot_layer_weights(measured: list[Measured], out_dir: Path) -> list[Path]:
    maps = layer_weight_maps(measured)
    if not maps:
        return []
    plt = pyplot()
    paths = []
    for model, (tasks, vectors) in maps.items():
        width = max(len(v) for v in vectors)
        matrix = [list(v) + [math.nan] * (width - len(v)) for v in vectors]
        figure, axis = plt.subplots(figsize=(max(4.0, 0.6 * width + 2.5), max(2.0, 0.45 * len(tasks) + 1.4)))
        # The colour spans this map's own range (near-uniform weights would otherwise be one flat colour);
        # each cell prints its weight, so the scale is never misread
        image = axis.imshow(matrix, aspect="auto", cmap="viridis", interpolation="nearest")
        for row, vector in enumerate(vectors):
            for column, weight in enumerate(vector):
                axis.text(column, row, f"{weight:.3f}", ha="center", va="center", fontsize=6, color="white")
        axis.set_xticks(range(width))
        axis.set_xticklabels([str(i) for i in range(width)], fontsize=8)
        axis.set_yticks(range(len(tasks)))
        axis.set_yticklabels(tasks, fontsize=8)
        axis.set_xlabel("hidden state index (0: before the first layer)")
        axis.set_title(f"{model}: SUPERB weighted-sum layer weights (softmax)", fontsize=9)
        figure.colorbar(image, ax=axis, label="weight (colour: this map's range)")
        figure.tight_layout()
        paths += save_figure(figure, out_dir, f"layer_weights_{_safe(model)}")
    return paths


def plot_layer_scores(measured: list[Measured], out_dir: Path) -> list[Path]:
    curves = layer_score_curves(measured)
    if not curves:
        return []
    plt = pyplot()
    paths = []
    for model, tasks in curves.items():
        figure, axis = plt.subplots(figsize=(6.4, 4.0))
        for task, points in sorted(tasks.items()):
            layers = [p[0] for p in points]
            scores = [p[1] for p in points]
            errors = [0.0 if math.isnan(p[2]) else p[2] for p in points]
            axis.errorbar(layers, scores, yerr=errors if any(errors) else None, marker="o", capsize=3, label=task)
        axis.set_xlabel("layer (hidden state index) whose embeddings the HEAR probe scores")
        axis.set_ylabel("test score (%)")
        axis.set_title(f"{model}: HEAR probe score per layer", fontsize=9)
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
        figure.tight_layout()
        paths += save_figure(figure, out_dir, f"layer_scores_{_safe(model)}")
    return paths
