"""The ablation figure: the paper's numbers (where it has the knob's table) beside the measured variants."""

from __future__ import annotations

from pathlib import Path

from spear_bench.ablate.config import SweepConfig
from spear_bench.report.aggregate import measured_values
from spear_bench.report.plots import ablation_spec, plot_ablation
from spear_bench.report.reference import load_reference
from spear_bench.results.store import ResultsStore
from spear_bench.task_registry import load_suite


def plot_knob(sweep: SweepConfig) -> str:
    """The ablation figure the sweep draws into: its first knob."""
    return next(iter(sweep.knobs))


def render_figure(sweep: SweepConfig, results: Path, out_dir: Path) -> list[Path]:
    """``ablation_<knob>.png|svg``: the paper's numbers (when it has the knob's table) beside the measured variants."""
    knob = plot_knob(sweep)
    # The sweep's tasks are drawn with their primary metric (one panel each, not one per secondary metric).
    suite = load_suite(sweep.score.suite)
    primary = {spec.name: spec.metric for spec in suite.select(list(sweep.score.tasks))}
    measured = [
        m
        for m in measured_values(ResultsStore(results).rows())
        if not (m.suite == sweep.score.suite and m.task in primary and m.metric != primary[m.task])
    ]
    return plot_ablation(
        ablation_spec(knob), load_reference(), measured, out_dir, scales=ResultsStore(results).variant_scales()
    )
