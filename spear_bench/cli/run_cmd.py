"""``spear-bench run`` (HEAR / SUPERB / demo suites) and ``spear-bench demo`` (generate + run + report)."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import List, Optional

import typer

from spear_bench.errors import ConfigError, SpearBenchError
from spear_bench.paths import cache_dir, reports_dir, results_dir

# The demo stays offline: random weights, asked for by name (and labelled so in every output).
DEMO_MODELS = ("spear_base[random-init]", "wavlm_base_plus[random-init]")


def _split(values: Optional[List[str]]) -> tuple[str, ...]:
    out: list[str] = []
    for value in values or []:
        out += [v.strip() for v in value.split(",") if v.strip()]
    return tuple(out)


def _seed_options(seed: str, count: int) -> dict:
    """``--seed 1,2,3`` or ``--seed S --seeds N`` -> RunConfig's seed and seeds (one-line errors)."""
    try:
        given = [int(s) for s in seed.split(",") if s.strip()]
    except ValueError:
        raise ConfigError(f"--seed {seed!r}: expected an integer or comma-separated integers (1,2,3)") from None
    if not given:
        raise ConfigError("--seed: give at least one integer")
    if count < 0:
        raise ConfigError(f"--seeds {count}: expected a positive number of seeds")
    if count and len(given) > 1:
        raise ConfigError("--seeds N takes one --seed (the first of N); give either --seed 1,2,3 or --seeds N")
    if count:
        given = [given[0] + i for i in range(count)]
    if len(set(given)) != len(given):
        raise ConfigError(f"--seed {seed!r}: a seed is given twice")
    return {"seed": given[0], "seeds": tuple(given) if len(given) > 1 else ()}


def _layer_list(text: Optional[str]) -> tuple[str, ...]:
    if not text:
        return ()
    layers = tuple(v.strip() for v in text.split(",") if v.strip())
    if layers == ("all",):
        return layers
    if not layers or not all(v.lstrip("-").isdigit() for v in layers):
        raise ConfigError(f"--layers {text!r}: expected 'all' or comma-separated layer indices (0,3,6)")
    return layers


def parse_lr_grid(text: Optional[str]) -> tuple[float, ...]:
    """``1e-5,1e-4,1e-3`` or the log range ``START:STOP:COUNT`` -> the rates (one-line errors)."""
    if not text:
        return ()
    try:
        if ":" in text:
            start, stop, count = text.split(":")
            start_f, stop_f, n = float(start), float(stop), int(count)
            if n < 2 or start_f <= 0 or stop_f <= 0:
                raise ValueError
            rates = [start_f * (stop_f / start_f) ** (i / (n - 1)) for i in range(n)]
            rates = [float(f"{r:.6g}") for r in rates]
        else:
            rates = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ConfigError(
            f"--lr-grid {text!r}: expected positive rates (1e-5,1e-4,1e-3) or a log range START:STOP:COUNT "
            "with COUNT >= 2 (1e-5:1e-3:3)"
        ) from None
    if not rates or any(r <= 0 for r in rates) or len(set(rates)) != len(rates):
        raise ConfigError(f"--lr-grid {text!r}: expected distinct positive rates")
    return tuple(rates)


def _print_summary(outcomes, results: Path, seconds: float) -> None:
    # loaded when the command runs: `spear-bench --help` stays fast (docs/architecture.md)
    from spear_bench.bench.orchestrate import summarise

    s = summarise(outcomes)
    typer.echo(f"units: {s['done']} run, {s['skipped']} already finished, {s['failed']} failed ({seconds:.0f} s)")
    rate = f"{100 * s['hit_rate']:.0f}%" if s["hit_rate"] is not None else "n/a"
    typer.echo(f"embedding cache: {s['embed_hits']} hits, {s['embed_misses']} misses (computed), hit rate {rate}")
    typer.echo(f"results: {results}")


def _check_models(config) -> None:
    """Names, weights and downloads fail in one line before any data is generated or loaded."""
    # loaded when the command runs: `spear-bench --help` stays fast (docs/architecture.md)
    from spear_bench.bench.scored_model import resolve_model

    for model in config.models:
        resolve_model(model, config.layer)


def _scoring_stages(outcomes, seconds: float, clock_before: dict, clock_after: dict) -> dict[str, float]:
    """Split the scoring time into embeddings (model passes, from spear_bench.bench.extract's clock),
    HEAR probes and SUPERB training (each unit's time less its embeddings), and the rest (model loading)."""
    # loaded when the command runs: `spear-bench --help` stays fast (docs/architecture.md)
    from spear_bench.task_registry import HearTaskSpec, demo_suite

    hear_tasks = {t.name for t in demo_suite().tasks if isinstance(t, HearTaskSpec)}
    embed = {k: clock_after.get(k, 0.0) - clock_before.get(k, 0.0) for k in ("hear", "superb")}
    units = {"hear": 0.0, "superb": 0.0}
    for o in outcomes:
        units["hear" if o.unit.task in hear_tasks else "superb"] += o.seconds
    out = {
        "embeddings, HEAR tasks": embed["hear"],
        "HEAR probes": max(0.0, units["hear"] - embed["hear"]),
        "hidden states, SUPERB tasks": embed["superb"],
        "SUPERB training": max(0.0, units["superb"] - embed["superb"]),
    }
    out["model loading, other"] = max(0.0, seconds - sum(out.values()))
    return out


def _print_stages(stages: dict[str, float]) -> None:
    typer.echo("demo stages (seconds):")
    for name, seconds in stages.items():
        typer.echo(f"  {name:<30}{seconds:>7.1f}")
    typer.echo(f"  {'total':<30}{sum(stages.values()):>7.1f}")


def run(
    suite: str = typer.Option(..., "--suite", help="hear | superb | demo | demo_superb (task files in tasks/)."),
    model: List[str] = typer.Option(
        ...,
        "--model",
        help="Model to score (repeatable): a released name (spear_base_sa, wavlm_large ...; "
        "fetched once, see spear-bench models), NAME@WEIGHTS, NAME[random-init], "
        "or hear:MODULE or hear:MODULE@WEIGHTS.",
    ),
    tasks: Optional[List[str]] = typer.Option(
        None, "--tasks", help="Tasks to run (names or paper abbreviations, comma-separated or repeated; default: all)."
    ),
    data_root: Optional[Path] = typer.Option(
        None,
        "--data-root",
        help="Folder holding the suite's datasets (HEAR task folders / SUPERB corpora). "
        "Demo: generated under work_dir/demo_data when absent.",
    ),
    launcher: str = typer.Option("local", "--launcher", help="local | torchrun | slurm."),
    results: Optional[Path] = typer.Option(None, "--results", help="Results store folder (default: results/)."),
    cache: Optional[Path] = typer.Option(None, "--cache", help="Embedding cache folder (default: work_dir/cache)."),
    layer: str = typer.Option(
        "last", "--layer", help="HEAR embeddings: last | all (hidden states concatenated) | an index."
    ),
    device: Optional[str] = typer.Option(
        None,
        "--device",
        help="cpu | cuda | cuda:N, used as given (torchrun: cuda = each worker's GPU). "
        "Default: the GPU where GPUs are allocated (torchrun with CUDA, --slurm-gpus N), else cpu.",
    ),
    dtype: str = typer.Option(
        "float32", "--dtype", help="Embedding inference precision: float32 | bfloat16 | float16 (autocast; for GPUs)."
    ),
    seed: str = typer.Option(
        "42",
        "--seed",
        help="Probe seed(s): init and dropout of the HEAR probe (heareval uses 42; "
        "its grid points are drawn with 42 whatever the seed), the SUPERB recipe's seed. "
        "Comma-separated for several (1,2,3): one unit per seed; reports show mean ± 95 % interval.",
    ),
    seeds: int = typer.Option(
        0, "--seeds", help="Run N seeds: --seed, --seed+1, ... (one unit per seed, each resumable)."
    ),
    layers: Optional[str] = typer.Option(
        None,
        "--layers",
        help="HEAR layer sweep: 'all' (every hidden state) or indices (0,3,6): one unit per layer, "
        "plotted as score against layer by spear-bench report.",
    ),
    lr_grid: Optional[str] = typer.Option(
        None,
        "--lr-grid",
        help="SUPERB learning-rate search: rates (1e-5,1e-4,1e-3) or a log range START:STOP:COUNT (1e-5:1e-3:3); "
        "each rate's run resumes on its own, the best on the recipe's dev metric is stored "
        "(default: the recipe's rate).",
    ),
    keep_checkpoints: str = typer.Option(
        "best",
        "--keep-checkpoints",
        help="What a scored SUPERB run folder keeps: all (every checkpoint s3prl wrote) | best (the tested one) "
        "| none (no weights; logs, configs and scores stay). A Base model's heads take up to 0.6 GB a checkpoint.",
    ),
    nproc: int = typer.Option(1, "--nproc", help="torchrun: workers on this node."),
    slurm_cluster: Optional[str] = typer.Option(
        None,
        "--slurm-cluster",
        help="slurm launcher: submitit cluster (default SLURM; 'local' or 'debug' run the jobs here).",
    ),
    slurm_partition: Optional[str] = typer.Option(None, "--slurm-partition"),
    slurm_timeout_min: int = typer.Option(240, "--slurm-timeout-min"),
    slurm_gpus: int = typer.Option(0, "--slurm-gpus", help="GPUs per job."),
    wait: bool = typer.Option(True, "--wait/--no-wait", help="slurm: wait for the jobs and print their results."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bars."),
    force: bool = typer.Option(
        False, "--force", help="Rerun units the results store already has (embeddings under the same key are reused)."
    ),
    vc_vocoder: Optional[Path] = typer.Option(
        None, "--vc-vocoder", help="SUPERB VC: the pretrained vocoder folder (s3prl's pwg_task1, vocoder_download.sh)."
    ),
    vc_asr_model: Optional[Path] = typer.Option(
        None, "--vc-asr-model", help="SUPERB VC: a local copy of facebook/wav2vec2-large-960h-lv60-self (scores WER)."
    ),
    plan: bool = typer.Option(
        False,
        "--plan",
        help="Print the units, hours of audio, cached embeddings, cache disk and estimated time per unit "
        "(from a short measurement of each model on the device), and run nothing.",
    ),
) -> None:
    """Score models on a suite: one unit per (model, task), finished units skipped, results stored atomically."""
    # loaded when the command runs: `spear-bench --help` stays fast (docs/architecture.md)
    from spear_bench.bench.extract import ExtractConfig
    from spear_bench.bench.launchers import LaunchOptions, check_run, execute, resolve_device
    from spear_bench.bench.orchestrate import RunConfig
    from spear_bench.bench.plan import plan_run, render_plan
    from spear_bench.demo.generate import generate_demo_data, needs_legacy_superb_corpora
    from spear_bench.task_registry import DEMO_SUITES, load_suite

    results = results or results_dir()
    config = RunConfig(
        suite=suite,
        models=_split(model),
        tasks=_split(tasks),
        data_root=str(data_root) if data_root else None,
        results=str(results),
        cache=str(cache or cache_dir()),
        layer=layer,
        **_seed_options(seed, seeds),
        layers=_layer_list(layers),
        lr_grid=parse_lr_grid(lr_grid),
        keep_checkpoints=keep_checkpoints,
        device=device,
        quiet=quiet,
        force=force,
        dtype=ExtractConfig(dtype=dtype).dtype,  # a bad value fails here, in one line
        vc_vocoder=str(vc_vocoder) if vc_vocoder else None,
        vc_asr_model=str(vc_asr_model) if vc_asr_model else None,
    )
    options = LaunchOptions(
        nproc=nproc,
        slurm_cluster=slurm_cluster,
        slurm_partition=slurm_partition,
        slurm_timeout_min=slurm_timeout_min,
        slurm_gpus_per_node=slurm_gpus,
        wait=wait,
    )
    check_run(config, launcher, options)  # folders, device, launcher options: before any model or data
    _check_models(config)
    if suite in DEMO_SUITES and data_root is None:
        generate_demo_data(log=typer.echo, legacy_superb=needs_legacy_superb_corpora(load_suite(suite)))
    if plan:
        device_used = resolve_device(device, slurm_gpus > 0)
        units, speeds, _ = plan_run(config, device_used)
        for line in render_plan(units, speeds, device_used):
            typer.echo(line)
        return
    start = time.perf_counter()
    outcomes = execute(config, launcher, options, log=typer.echo)
    _print_summary(outcomes, results, time.perf_counter() - start)
    failed = [o for o in outcomes if o.status == "failed"]
    if failed:
        raise SpearBenchError(_failed_message(failed))


def _failed_message(failed) -> str:
    """One line naming every failed unit (a dead torchrun rank or SLURM job included) and the first reason."""
    names = ", ".join(o.unit.label for o in failed[:10]) + (f" and {len(failed) - 10} more" if len(failed) > 10 else "")
    return f"{len(failed)} unit(s) failed: {names}; first: {failed[0].unit.label}: {failed[0].message}"


def demo(
    results: Optional[Path] = typer.Option(None, "--results", help="Results store folder (default: results/)."),
    data_root: Optional[Path] = typer.Option(
        None, "--data-root", help="Where the demo data is generated (default: work_dir/demo_data)."
    ),
    models: str = typer.Option(
        ",".join(DEMO_MODELS),
        "--models",
        help="Models to score, comma-separated (NAME[random-init], NAME@WEIGHTS or a released name).",
    ),
    report: bool = typer.Option(
        True, "--report/--no-report", help="Render the report afterwards (spear-bench report)."
    ),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bars."),
) -> None:
    """Generate the demo data, score SPEAR Base and WavLM Base+ (random-init weights) on it, render the report."""
    # loaded when the command runs: `spear-bench --help` stays fast (docs/architecture.md)
    from spear_bench.bench.extract import CLOCK
    from spear_bench.bench.launchers import check_run, execute
    from spear_bench.bench.orchestrate import RunConfig
    from spear_bench.demo.generate import generate_demo_data
    from spear_bench.report.build import ReportSettings, write_report

    start = time.perf_counter()
    stages: dict[str, float] = {}
    results = results or results_dir()
    config = RunConfig(suite="demo", models=_split([models]), results=str(results), cache=str(cache_dir()), quiet=quiet)
    check_run(config, "local")
    _check_models(config)
    root = generate_demo_data(data_root, log=typer.echo)
    stages["data generation"] = time.perf_counter() - start
    config = dataclasses.replace(config, data_root=str(root))
    typer.echo(f"demo: scoring {', '.join(config.models)} on the demo suite (HEAR- and SUPERB-format tasks)")
    scoring = time.perf_counter()
    clock_before = dict(CLOCK.seconds)
    outcomes = execute(config, "local", log=typer.echo)
    stages.update(_scoring_stages(outcomes, time.perf_counter() - scoring, clock_before, CLOCK.seconds))
    _print_summary(outcomes, results, time.perf_counter() - start)
    report_start = time.perf_counter()
    if report:
        written = write_report(ReportSettings(results=results, out=reports_dir()))
        typer.echo(f"report: wrote {len(written.files)} files under {reports_dir()}")
    stages["report"] = time.perf_counter() - report_start
    _print_stages(stages)
    typer.echo(f"demo: finished in {time.perf_counter() - start:.0f} s; data {root}, results {results}")
    failed = [o for o in outcomes if o.status == "failed"]
    if failed:
        raise SpearBenchError(f"{len(failed)} demo unit(s) failed, first: {failed[0].unit.label}: {failed[0].message}")


def register(app: typer.Typer) -> None:
    app.command("run")(run)
    app.command("demo")(demo)
