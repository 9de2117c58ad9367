"""``execute_sweep``: every missing stage of every variant of a sweep, then the figure."""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from spear_bench.ablate.config import SweepConfig
from spear_bench.ablate.figure import render_figure
from spear_bench.ablate.stages import (
    StageOutcome,
    StageUnit,
    format_stage,
    pretrain_all,
    run_scale,
    run_stage,
    run_targets,
    scale_text,
    store_variant,
)
from spear_bench.ablate.variants import Variant, derive_config, encoder_dir, targets_key, variants
from spear_bench.bench.launchers import LaunchOptions, execute, get_launcher
from spear_bench.bench.orchestrate import RunConfig
from spear_bench.demo.generate import generate_demo_data
from spear_bench.errors import ConfigError, SpearBenchError
from spear_bench.models.registry import get_bundle
from spear_bench.paths import cache_dir, reports_dir, results_dir


@dataclass
class SweepResult:
    outcomes: list[StageOutcome]
    figure: list[Path]
    variants: list[Variant]
    seconds: float


def execute_sweep(
    sweep: SweepConfig, launcher: str = "local", options=None, log: Callable[[str], None] = print, quiet: bool = False
) -> SweepResult:
    """Run every missing stage of every variant, then render the figure. Finished stages are skipped."""
    get_launcher(launcher)  # unknown launcher: fail before any work
    check_scored_model(sweep)
    options = options or LaunchOptions()
    start = time.perf_counter()
    results = Path(sweep.results) if sweep.results else results_dir()
    all_variants = variants(sweep)
    outcomes: list[StageOutcome] = []

    def record(outcome: StageOutcome) -> StageOutcome:
        outcomes.append(outcome)
        log(format_stage(outcome))
        return outcome

    # 1. targets, once per key
    seen: set[str] = set()
    for variant in all_variants:
        key = targets_key(derive_config(sweep, variant))
        outcome = run_stage(StageUnit("targets", variant, key), lambda v=variant: run_targets(sweep, v, not quiet))
        if key not in seen or outcome.status != "skipped":  # a shared key's later variants only link to it
            record(outcome)
        seen.add(key)
    if any(o.status == "failed" for o in outcomes):
        raise SpearBenchError(f"targets failed: {next(o.message for o in outcomes if o.status == 'failed')}")

    # 2. pre-training
    pretrained = pretrain_all(sweep, all_variants, launcher, options, log, quiet, on_outcome=record)
    ready = [o.unit.variant for o in pretrained if o.status != "failed"]

    # 3. scoring through the orchestrator, one run per seed (the probe seed follows the variant's)
    score = sweep.score
    data_root = score.data_root
    if score.suite == "demo" and data_root is None:
        data_root = str(generate_demo_data(log=log))
    unit_files: dict[Variant, list[Path]] = {}
    for seed in sorted({v.seed for v in ready}):
        group = [v for v in ready if v.seed == seed]
        specs = {f"{v.model}@{encoder_dir(sweep, v)}": v for v in group}
        config = RunConfig(
            suite=score.suite,
            models=tuple(specs),
            tasks=tuple(score.tasks),
            data_root=data_root,
            results=str(sweep.work_path / "scores"),
            cache=str(cache_dir()),
            layer=score.layer,
            seed=score.probe_seed + seed,
            device=score.device,
            quiet=quiet,
        )
        for unit_outcome in execute(config, launcher, options, log=lambda _: None):
            variant = specs[unit_outcome.unit.model]
            failed = unit_outcome.status == "failed"
            record(
                StageOutcome(
                    StageUnit("score", variant, unit_outcome.unit.task),
                    unit_outcome.status,
                    unit_outcome.seconds,
                    unit_outcome.message if failed else "",
                    scored=None if failed else unit_outcome,
                )
            )
            if unit_outcome.status in ("done", "skipped") and unit_outcome.path:
                unit_files.setdefault(variant, []).append(Path(unit_outcome.path))

    # 4. store under the variants' names
    scales = {}
    for variant in ready:
        if variant not in unit_files:
            continue
        text = sweep.scale or scale_text(run_scale(sweep, variant))
        scales[variant.name] = text
        store = functools.partial(store_variant, sweep, variant, unit_files[variant], results, text)
        record(run_stage(StageUnit("store", variant), store))

    # 5. the figure
    figure = render_figure(sweep, results, Path(sweep.plots) if sweep.plots else reports_dir() / "plots")
    return SweepResult(outcomes, figure, all_variants, time.perf_counter() - start)


def check_scored_model(sweep: SweepConfig) -> None:
    """The encoders are scored as ``sweep.model`` (its registered architecture loads their weights): they must match."""
    get_bundle(sweep.model)  # unknown name: ConfigError listing the known ones
    for variant in variants(sweep)[:1]:
        model = derive_config(sweep, variant).get("model") or {}
        size, overrides = model.get("size", "base"), model.get("overrides") or {}
        if overrides or get_bundle(sweep.model).name != f"spear_{size}":
            raise ConfigError(
                f"{sweep.source or sweep.name}: the variants pre-train a {size} SPEAR"
                f"{' with model.overrides' if overrides else ''}, but are scored as {sweep.model!r} "
                f"(set model: spear_{size}; overridden architectures have no registered model)"
            )
