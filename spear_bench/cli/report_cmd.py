"""``spear-bench report``: leaderboards beside the paper's numbers, comparisons, ablation plots."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Optional

import typer

from spear_bench.atomic_io import atomic_write_text
from spear_bench.errors import ConfigError
from spear_bench.paths import reports_dir, results_dir


def _patterns(text: Optional[str]) -> Optional[list[str]]:
    if not text:
        return None
    return [p.strip() for p in text.split(",") if p.strip()]


def report(
    models: Optional[str] = typer.Option(
        None, "--models", help="Measured models to show: comma-separated names or globs (default: all)."
    ),
    paper_models: Optional[str] = typer.Option(
        None,
        "--paper-models",
        help="Paper rows to show: comma-separated model ids or globs, e.g. 'spear_*,wavlm_*' (default: all).",
    ),
    results: Optional[Path] = typer.Option(None, "--results", help="Results store folder (default: results/)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Output folder (default: reports/)."),
    reference: Optional[Path] = typer.Option(
        None, "--reference", help="Reference CSV folder (default: results/reference/)."
    ),
    compare: Optional[str] = typer.Option(
        None,
        "--compare",
        help="Models to compare against the baselines, comma-separated "
        "(default: every measured model, else the paper's SPEAR s+a XLarge).",
    ),
    baselines: str = typer.Option(
        "wavlm_large,usad_large,dasheng_1.2b", "--baselines", help="Baselines of the comparison report."
    ),
    plots: bool = typer.Option(True, "--plots/--no-plots", help="Draw the ablation figures."),
) -> None:
    """Render the SUPERB, HEAR and fine-tuning leaderboards (Markdown, HTML, LaTeX), comparisons and ablation plots."""
    # loaded when the command runs: `spear-bench --help` stays fast (docs/architecture.md)
    from spear_bench.report.build import ReportSettings, write_report

    if results is not None and not results.is_dir():
        raise ConfigError(f"--results {results}: no such folder")

    settings = ReportSettings(
        results=results or results_dir(),
        out=out or reports_dir(),
        reference=reference,
        models=_patterns(models),
        paper_models=_patterns(paper_models),
        compare=_patterns(compare),
        baselines=tuple(_patterns(baselines) or ()),
        plots=plots,
    )
    result = write_report(settings)
    measured_models = sorted({m.model for m in result.measured})
    typer.echo(f"measured: {len(result.measured)} numbers from {len(measured_models)} model(s) in {settings.results}")
    for board in result.boards:
        typer.echo(f"  {board.key}: {len(board.measured_rows)} measured + {len(board.paper_rows)} paper rows")
    typer.echo(f"wrote {len(result.files)} files under {settings.out}")


def compare(
    model_a: str = typer.Argument(
        ..., help="Model A as the results store names it (NAME[random-init], NAME@layer=N ...)."
    ),
    model_b: str = typer.Argument(..., help="Model B (from --results-b when given)."),
    suite: str = typer.Option(..., "--suite", help="Suite whose tasks are compared (demo, hear, superb ...)."),
    results: Optional[Path] = typer.Option(None, "--results", help="Results store of A (default: results/)."),
    results_b: Optional[Path] = typer.Option(
        None, "--results-b", help="Results store of B (default: the same as A's), e.g. a run with other settings."
    ),
    out: Optional[Path] = typer.Option(None, "--out", help="Output folder (default: reports/)."),
) -> None:
    """Per task of a suite: do two models differ beyond their seed spread? (Welch's t-test on per-seed scores)."""
    # loaded when the command runs: `spear-bench --help` stays fast (docs/architecture.md)
    from spear_bench.report import significance
    from spear_bench.report.aggregate import measured_values
    from spear_bench.results.store import ResultsStore

    store_a = results or results_dir()
    store_b = results_b or store_a
    for option, folder in (("--results", store_a), ("--results-b", store_b)):
        if not Path(folder).is_dir():
            raise ConfigError(f"{option} {folder}: no such folder")
    measured_a = measured_values(ResultsStore(store_a).rows())
    measured_b = measured_a if store_b == store_a else measured_values(ResultsStore(store_b).rows())
    for option, model, items, folder in (("A", model_a, measured_a, store_a), ("B", model_b, measured_b, store_b)):
        if not any(m.model == model and m.suite == suite for m in items):
            known = sorted({m.model for m in items if m.suite == suite})
            raise ConfigError(
                f"compare: model {option} {model!r} has no results of suite {suite!r} in {folder} "
                f"(measured there: {', '.join(known) or 'none'})"
            )
    comparison = significance.compare_seeds(measured_a, measured_b, model_a, model_b, suite)
    folder = out or reports_dir()
    stem = f"significance_{_safe(model_a)}__vs__{_safe(model_b)}__{_safe(suite)}"
    text = significance.to_markdown(comparison)
    atomic_write_text(folder / f"{stem}.md", text)
    atomic_write_text(folder / f"{stem}.html", significance.to_html(comparison))
    atomic_write_text(folder / f"{stem}.tex", significance.to_latex(comparison))
    typer.echo(text)
    typer.echo(f"wrote {folder / stem}.md|html|tex")


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.+-]", "_", name)


def register(app: typer.Typer) -> None:
    app.command("report")(report)
    app.command("compare")(compare)
