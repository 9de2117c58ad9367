"""``spear-bench run`` (HEAR / SUPERB / demo suites) and ``spear-bench demo`` (generate + run + report)."""
from __future__ import annotations

import time
from pathlib import Path
from typing import List, Optional

import typer

DEMO_MODELS = ("spear_base", "wavlm_base_plus")


def _split(values: Optional[List[str]]) -> tuple[str, ...]:
    out: list[str] = []
    for value in values or []:
        out += [v.strip() for v in value.split(",") if v.strip()]
    return tuple(out)


def _print_summary(outcomes, results: Path, seconds: float) -> None:
    from spear_bench.bench.orchestrate import summarise

    s = summarise(outcomes)
    typer.echo(f"units: {s['done']} run, {s['skipped']} already finished, {s['failed']} failed ({seconds:.0f} s)")
    rate = f"{100 * s['hit_rate']:.0f}%" if s["hit_rate"] is not None else "n/a"
    typer.echo(f"embedding cache: {s['embed_hits']} hits, {s['embed_misses']} misses (computed), hit rate {rate}")
    typer.echo(f"results: {results}")


def run(
    suite: str = typer.Option(..., "--suite", help="hear | superb | demo | demo_superb (task files in tasks/)."),
    model: List[str] = typer.Option(..., "--model", help="Model to score (repeatable): a registered name (spear_base, wavlm_base_plus ...), NAME@WEIGHTS, or hear:MODULE or hear:MODULE@WEIGHTS."),
    tasks: Optional[List[str]] = typer.Option(None, "--tasks", help="Tasks to run (names or paper abbreviations, comma-separated or repeated; default: all)."),
    data_root: Optional[Path] = typer.Option(None, "--data-root", help="Folder holding the suite's datasets (HEAR task folders / SUPERB corpora). Demo: generated under work_dir/demo_data when absent."),
    launcher: str = typer.Option("local", "--launcher", help="local | torchrun | slurm."),
    results: Optional[Path] = typer.Option(None, "--results", help="Results store folder (default: results/)."),
    cache: Optional[Path] = typer.Option(None, "--cache", help="Embedding cache folder (default: work_dir/cache)."),
    layer: str = typer.Option("last", "--layer", help="HEAR embeddings: last | all (hidden states concatenated) | an index."),
    device: str = typer.Option("cpu", "--device", help="cpu | cuda | cuda:N (torchrun: one GPU per worker when present)."),
    seed: int = typer.Option(42, "--seed", help="Probe seed (heareval uses 42)."),
    nproc: int = typer.Option(1, "--nproc", help="torchrun: workers on this node."),
    slurm_cluster: Optional[str] = typer.Option(None, "--slurm-cluster", help="slurm launcher: submitit cluster (default SLURM; 'local' or 'debug' run the jobs here)."),
    slurm_partition: Optional[str] = typer.Option(None, "--slurm-partition"),
    slurm_timeout_min: int = typer.Option(240, "--slurm-timeout-min"),
    slurm_gpus: int = typer.Option(0, "--slurm-gpus", help="GPUs per job."),
    wait: bool = typer.Option(True, "--wait/--no-wait", help="slurm: wait for the jobs and print their results."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bars."),
) -> None:
    """Score models on a suite: one unit per (model, task), finished units skipped, results stored atomically."""
    import spear_bench  # noqa: F401
    from spear_bench.bench.launchers import LaunchOptions
    from spear_bench.bench.orchestrate import RunConfig, execute
    from spear_bench.bench.tasks import DEMO_SUITES
    from spear_bench.errors import SpearBenchError
    from spear_bench.paths import cache_dir, results_dir

    results = results or results_dir()
    config = RunConfig(
        suite=suite, models=_split(model), tasks=_split(tasks), data_root=str(data_root) if data_root else None,
        results=str(results), cache=str(cache or cache_dir()), layer=layer, seed=seed, device=device, quiet=quiet,
    )
    if suite in DEMO_SUITES and data_root is None:
        from spear_bench.bench.demo_data import generate_demo_data

        generate_demo_data(log=typer.echo)
    options = LaunchOptions(nproc=nproc, slurm_cluster=slurm_cluster, slurm_partition=slurm_partition,
                            slurm_timeout_min=slurm_timeout_min, slurm_gpus_per_node=slurm_gpus, wait=wait)
    start = time.perf_counter()
    outcomes = execute(config, launcher, options, log=typer.echo)
    _print_summary(outcomes, results, time.perf_counter() - start)
    failed = [o for o in outcomes if o.status == "failed"]
    if failed:
        raise SpearBenchError(f"{len(failed)} unit(s) failed, first: {failed[0].unit.label}: {failed[0].message}")


def demo(
    results: Optional[Path] = typer.Option(None, "--results", help="Results store folder (default: results/)."),
    data_root: Optional[Path] = typer.Option(None, "--data-root", help="Where the demo data is generated (default: work_dir/demo_data)."),
    models: str = typer.Option(",".join(DEMO_MODELS), "--models", help="Models to score, comma-separated (random weights unless NAME@WEIGHTS)."),
    report: bool = typer.Option(True, "--report/--no-report", help="Render the report afterwards (spear-bench report)."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bars."),
) -> None:
    """Generate the demo datasets, score SPEAR Base and WavLM Base+ (random weights) on them, render the report."""
    import spear_bench  # noqa: F401
    from spear_bench.bench.demo_data import generate_demo_data
    from spear_bench.bench.orchestrate import RunConfig, execute
    from spear_bench.errors import SpearBenchError
    from spear_bench.paths import cache_dir, reports_dir, results_dir

    start = time.perf_counter()
    results = results or results_dir()
    root = generate_demo_data(data_root, log=typer.echo)
    config = RunConfig(suite="demo", models=_split([models]), data_root=str(root), results=str(results), cache=str(cache_dir()), quiet=quiet)
    typer.echo(f"demo: scoring {', '.join(config.models)} on the demo suite (HEAR- and SUPERB-format tasks, random weights)")
    outcomes = execute(config, "local", log=typer.echo)
    _print_summary(outcomes, results, time.perf_counter() - start)
    if report:
        try:
            from spear_bench.report.build import ReportSettings, write_report
        except ImportError:
            typer.echo("report: spear_bench.report is not available; skipped")
        else:
            written = write_report(ReportSettings(results=results, out=reports_dir()))
            typer.echo(f"report: wrote {len(written.files)} files under {reports_dir()}")
    typer.echo(f"demo: finished in {time.perf_counter() - start:.0f} s; data {root}, results {results}")
    failed = [o for o in outcomes if o.status == "failed"]
    if failed:
        raise SpearBenchError(f"{len(failed)} demo unit(s) failed, first: {failed[0].unit.label}: {failed[0].message}")


def register(app: typer.Typer) -> None:
    app.command("run")(run)
    app.command("demo")(demo)
