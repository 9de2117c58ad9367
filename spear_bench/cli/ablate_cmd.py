"""``spear-bench ablate --config SWEEP.yaml``: pre-train, score, plot every variant of a sweep (docs/ablations.md)."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Optional

import typer

from spear_bench.errors import SpearBenchError


def ablate(
    config: Path = typer.Option(..., "--config", help="sweep YAML (see configs/ablate/)"),
    launcher: str = typer.Option("local", "--launcher", help="local | torchrun | slurm (pre-training, scoring)."),
    nproc: int = typer.Option(
        1,
        "--nproc",
        help="processes per pre-training (local: DDP, gloo; torchrun: ranks) and torchrun scoring workers.",
    ),
    work_dir: Optional[Path] = typer.Option(None, "--work-dir", help="override the sweep's work_dir."),
    results: Optional[Path] = typer.Option(None, "--results", help="results store (default: the sweep's, results/)."),
    plots: Optional[Path] = typer.Option(None, "--plots", help="figure folder (default: the sweep's, reports/plots)."),
    slurm_cluster: Optional[str] = typer.Option(
        None, "--slurm-cluster", help="submitit cluster ('local' or 'debug' run the jobs here)."
    ),
    slurm_partition: Optional[str] = typer.Option(None, "--slurm-partition"),
    slurm_timeout_min: int = typer.Option(240, "--slurm-timeout-min"),
    slurm_gpus: int = typer.Option(0, "--slurm-gpus", help="GPUs per job."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bars."),
) -> None:
    """Sweep pre-training knobs: per variant derive the config, pre-train (resumable), score, store, plot."""
    # loaded when the command runs: `spear-bench --help` stays fast (docs/architecture.md)
    from spear_bench.ablate.config import load_sweep
    from spear_bench.ablate.execute import execute_sweep
    from spear_bench.bench.launchers import LaunchOptions

    logging.basicConfig(
        level=logging.WARNING if quiet else logging.INFO, format="%(asctime)s %(levelname)s %(message)s"
    )
    sweep = load_sweep(config)
    if work_dir is not None:
        sweep = dataclasses.replace(sweep, work_dir=str(work_dir))
    if results is not None:
        sweep = dataclasses.replace(sweep, results=str(results))
    if plots is not None:
        sweep = dataclasses.replace(sweep, plots=str(plots))
    options = LaunchOptions(
        nproc=nproc,
        slurm_cluster=slurm_cluster,
        slurm_partition=slurm_partition,
        slurm_timeout_min=slurm_timeout_min,
        slurm_gpus_per_node=slurm_gpus,
    )
    typer.echo(
        f"ablate {sweep.name}: knobs {sweep.knobs}, seeds {list(sweep.seeds)}, scored on {sweep.score.suite} "
        f"{', '.join(sweep.score.tasks) or '(all tasks)'}"
    )
    result = execute_sweep(sweep, launcher, options, log=lambda line: print(line, flush=True), quiet=quiet)
    counts = {status: sum(o.status == status for o in result.outcomes) for status in ("done", "skipped", "failed")}
    typer.echo(
        f"units: {counts['done']} run, {counts['skipped']} already finished, {counts['failed']} failed "
        f"({result.seconds:.0f} s)"
    )
    for path in result.figure:
        typer.echo(f"figure: {path}")
    failed = [o for o in result.outcomes if o.status == "failed"]
    if failed:
        raise SpearBenchError(f"{len(failed)} unit(s) failed, first: {failed[0].unit.label}: {failed[0].message}")


def register(app: typer.Typer) -> None:
    app.command("ablate")(ablate)
