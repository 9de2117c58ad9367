"""Write the whole report: leaderboards, comparisons and ablation plots, from the store and the reference.

Layout of the output folder (default ``reports/``, :func:`spear_bench.paths.reports_dir`):

- ``leaderboards.md|html|tex``: every leaderboard in one file (the HTML is standalone)
- ``<board>.md|html|tex``: each leaderboard alone (``superb``, ``hear``, ``finetune``,
  ``finetune_ctc``, ``suite_<suite>`` for measured suites without paper numbers)
- ``compare_<model>.md|html|tex``: one model against the baselines
- ``plots/ablation_<knob>.png|svg``: the ablation figures
- ``plots/layer_weights_<model>.png|svg``: SUPERB weighted-sum layer weights, tasks by layers
- ``plots/layer_scores_<model>.png|svg``: HEAR probe score against layer (``run --layers``)
- ``lr_search.md|html|tex``: the SUPERB learning-rate searches (``run --lr-grid``), when there are any
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from spear_bench.atomic_io import atomic_write_text
from spear_bench.errors import ConfigError
from spear_bench.report import compare as comparison
from spear_bench.report import lr_search
from spear_bench.report.aggregate import Measured, measured_values
from spear_bench.report.layer_plots import plot_layer_scores, plot_layer_weights
from spear_bench.report.leaderboard import Leaderboard, _matches, all_leaderboards
from spear_bench.report.paper_models import PAPER_COUNTERPART
from spear_bench.report.plots import plot_all
from spear_bench.report.reference import load_hear_groups, load_reference
from spear_bench.report.render import html_page, latex_document, to_html_table, to_latex, to_markdown
from spear_bench.results.store import ResultsStore

FALLBACK_COMPARE = "spear_sa_xlarge"
INTRO = (
    "Measured rows (shaded, source 'measured') come from the results store: per task, the mean over seeds of the most "
    "recent config, \u00b1 the 95 % Student-t interval over seeds with their number (n) when there are several. "
    "Paper rows are the SPEAR paper's published numbers (results/reference/). Bold: best per column in "
    "the metric's direction. In the HTML, click a column header to sort."
)


@dataclass
class ReportSettings:
    results: Path
    out: Path
    reference: Path | None = None  # default: results/reference of the checkout
    models: list[str] | None = None  # glob patterns over measured model names; None = all
    paper_models: list[str] | None = None  # glob patterns over paper model ids; None = all
    compare: list[str] | None = None  # models to compare; None = every measured benchmark model (or the paper's XLarge)
    baselines: tuple[str, ...] = comparison.DEFAULT_BASELINES
    plots: bool = True


@dataclass
class Report:
    boards: list[Leaderboard]
    measured: list[Measured]
    files: list[Path] = field(default_factory=list)


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.+-]", "_", name)


def _compare_targets(settings: ReportSettings, boards: list[Leaderboard]) -> list[str]:
    if settings.compare:
        return settings.compare
    measured = []
    for board in boards:
        if board.key in comparison.COMPARED_BOARDS:
            measured += [r.model for r in board.measured_rows if "@" not in r.model and r.model not in measured]
    return measured or [FALLBACK_COMPARE]


def build_report(settings: ReportSettings) -> Report:
    """Everything the report shows, without writing it."""
    reference = load_reference(settings.reference)
    groups = load_hear_groups(settings.reference)
    rows = [r for r in ResultsStore(settings.results).rows() if _matches(r.model, settings.models)]
    measured = measured_values(rows)
    boards = all_leaderboards(reference, groups, measured, settings.models, settings.paper_models)
    return Report(boards, measured)


def write_report(settings: ReportSettings) -> Report:
    report = build_report(settings)
    out = settings.out
    files: list[Path] = []

    def write(name: str, text: str) -> None:
        atomic_write_text(out / name, text)
        files.append(out / name)

    title = "spear-bench leaderboards"
    write("leaderboards.md", f"# {title}\n\n{INTRO}\n\n" + "\n".join(to_markdown(b) for b in report.boards))
    write("leaderboards.html", html_page(title, [to_html_table(b) for b in report.boards], INTRO))
    write("leaderboards.tex", latex_document([to_latex(b) for b in report.boards]))
    for board in report.boards:
        write(f"{board.key}.md", to_markdown(board, level=1) + f"\n{INTRO}\n")
        write(f"{board.key}.html", html_page(board.title, [to_html_table(board)], INTRO))
        write(f"{board.key}.tex", to_latex(board))
    known = {r.model for b in report.boards for r in b.rows}
    unknown = [b for b in settings.baselines if b not in known and PAPER_COUNTERPART.get(b) not in known]
    if unknown:
        raise ConfigError(f"--baselines: no measured or paper rows for {', '.join(unknown)}")
    for target in _compare_targets(settings, report.boards):
        if target not in known and PAPER_COUNTERPART.get(target) not in known:
            raise ConfigError(f"--compare {target}: no measured or paper rows for this model")
        result = comparison.compare(target, report.boards, settings.baselines)
        write(f"compare_{_safe(target)}.md", comparison.to_markdown(result))
        write(f"compare_{_safe(target)}.html", comparison.to_html(result))
        write(f"compare_{_safe(target)}.tex", comparison.to_latex(result))
    searches = lr_search.search_rows(report.measured)
    if searches:
        write("lr_search.md", lr_search.to_markdown(searches))
        write("lr_search.html", lr_search.to_html(searches))
        write("lr_search.tex", lr_search.to_latex(searches))
    if settings.plots:
        files += plot_layer_weights(report.measured, out / "plots")
        files += plot_layer_scores(report.measured, out / "plots")
        scales = ResultsStore(
            settings.results
        ).variant_scales()  # the scale each ablation run was measured at (legend, caption)
        files += plot_all(load_reference(settings.reference), report.measured, out / "plots", scales)
    report.files = files
    return report
