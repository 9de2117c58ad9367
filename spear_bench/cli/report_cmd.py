"""``spear-bench report``: leaderboards beside the paper's numbers, comparisons, ablation plots."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

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


def register(app: typer.Typer) -> None:
    app.command("report")(report)
