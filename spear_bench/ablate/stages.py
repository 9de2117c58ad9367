"""The stages of an ablation variant, each a unit skipped when finished: targets, pre-training, scale, store.

A ``pretrain`` unit runs in this process, under ``torchrun`` (one DDP pre-training per variant) or as
one submitit job per variant (:func:`pretrain_all`); ``score`` units go through the benchmark
orchestrator (:mod:`spear_bench.ablate.execute`).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from safetensors import safe_open

from spear_bench.ablate.config import SweepConfig, load_sweep
from spear_bench.ablate.knobs import value_text
from spear_bench.ablate.variants import (
    Variant,
    derive_config,
    encoder_dir,
    targets_dir,
    targets_key,
    variant_dir,
    write_variant_config,
)
from spear_bench.atomic_io import atomic_write_text
from spear_bench.bench.launchers import slurm_executor
from spear_bench.bench.orchestrate import UnitOutcome, outcome_details
from spear_bench.errors import ConfigError, SpearBenchError
from spear_bench.pretrain.config import load_pretrain_config
from spear_bench.pretrain.pipeline import prepare_training_data
from spear_bench.pretrain.trainer import read_log, run_pretraining
from spear_bench.results.store import ResultsStore, config_hash

DONE_FILE = "done.json"


@dataclass(frozen=True)
class StageUnit:
    """One stage of one variant (``targets`` units are per targets key and name their first variant)."""

    stage: str  # targets | pretrain | score | store
    variant: Variant
    key: str = ""

    @property
    def label(self) -> str:
        return f"{self.stage} {self.variant.label}" + (f" [{self.key}]" if self.key else "")


@dataclass
class StageOutcome:
    unit: StageUnit
    status: str  # done | skipped | failed
    seconds: float = 0.0
    message: str = ""
    scored: UnitOutcome | None = None  # a score unit that ran: the orchestrator's outcome (scores, cache use)


def format_stage(outcome: StageOutcome) -> str:
    if outcome.scored is not None:
        details = outcome_details(outcome.scored)
    else:
        seconds = f"{outcome.seconds:.1f}s" if outcome.status == "done" and outcome.unit.stage != "score" else ""
        details = [seconds, outcome.message]
    return "  ".join(p for p in [f"[{outcome.status}]", outcome.unit.label, *details] if p)


def run_stage(unit: StageUnit, action: Callable[[], str]) -> StageOutcome:
    """``action`` (returning done | skipped) timed; a SpearBenchError makes a failed outcome carrying its line."""
    start = time.perf_counter()
    try:
        return StageOutcome(unit, action(), time.perf_counter() - start)
    except SpearBenchError as error:
        return StageOutcome(unit, "failed", time.perf_counter() - start, str(error))


TARGET_FOLDERS = ("data", "features", "mvq", "tokens")


def run_targets(sweep: SweepConfig, variant: Variant, progress: bool = True) -> str:
    """Prepare data, teacher features, quantisers and tokens once per targets key. Returns done | skipped."""
    _, path, values = write_variant_config(sweep, variant)
    key = targets_key(values)
    folder = targets_dir(sweep, key)
    marker = folder / DONE_FILE
    if not marker.is_file():
        config = load_pretrain_config(path, {"work_dir": str(folder)})
        cuts = prepare_training_data(config, progress)
        atomic_write_text(marker, json.dumps({"cuts": len(cuts), "hours": sum(c.duration for c in cuts) / 3600}) + "\n")
        status = "done"
    else:
        status = "skipped"
    _link_targets(folder, variant_dir(sweep, variant))
    return status


def _link_targets(source: Path, work: Path) -> None:
    """The variant's work_dir reuses the shared targets (symbolic links; the pipeline then skips those stages)."""
    work.mkdir(parents=True, exist_ok=True)
    for name in TARGET_FOLDERS:
        link, target = work / name, (source / name).resolve()
        if link.is_symlink() and Path(os.readlink(link)) == target:
            continue
        if link.is_symlink():
            link.unlink()
        elif link.exists():
            continue  # prepared in place by an earlier run: the pipeline checks it
        if target.exists():
            link.symlink_to(target, target_is_directory=True)


def pretrain_done(sweep: SweepConfig, variant: Variant) -> bool:
    config, _, values = write_variant_config(sweep, variant)
    marker = config.work_path / DONE_FILE
    return marker.is_file() and json.loads(marker.read_text()).get("config") == config_hash(_training_identity(values))


def _training_identity(values: dict) -> dict:
    return {k: v for k, v in values.items() if k != "work_dir"}


def run_pretrain(sweep: SweepConfig, variant: Variant, nproc: int = 1, progress: bool = True) -> str:
    """Pre-train the variant (resuming from its latest checkpoint); a marker records the finished config."""
    if pretrain_done(sweep, variant):
        return "skipped"
    config, _, values = write_variant_config(sweep, variant)
    result = run_pretraining(config, nproc=nproc, progress=progress)
    _mark_pretrained(config, values, result.final_step)
    return "done"


def _mark_pretrained(config, values: dict, final_step: int) -> None:
    encoder = config.work_path / "exp" / "encoder"
    if final_step < config.train.max_steps or not (encoder / "model.safetensors").is_file():
        raise SpearBenchError(
            f"{config.work_path}: pre-training stopped at step {final_step} of {config.train.max_steps}"
        )
    atomic_write_text(
        config.work_path / DONE_FILE,
        json.dumps({"config": config_hash(_training_identity(values)), "steps": final_step}) + "\n",
    )


def pretrain_job(sweep_file: str, variant: Variant) -> str:
    """What one SLURM job runs for a ``pretrain`` unit (top-level, so submitit can pickle it; the job's fresh
    interpreter imports spear_bench, and its torchaudio hook, with this module)."""
    return run_pretrain(load_sweep(sweep_file), variant, progress=False)


def _pretrain_torchrun(sweep: SweepConfig, variant: Variant, nproc: int, log: Callable[[str], None]) -> str:
    if pretrain_done(sweep, variant):
        return "skipped"
    config, path, values = write_variant_config(sweep, variant)
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc_per_node={nproc}",
        "-m",
        "spear_bench",
        "pretrain",
        "--config",
        str(path),
        "--quiet",
    ]
    log(f"torchrun: {' '.join(command)}")
    result = subprocess.run(command)
    if result.returncode != 0:
        raise SpearBenchError(f"{path}: torchrun pre-training exited with status {result.returncode}")
    records = read_log(config.work_path / "exp")
    _mark_pretrained(config, values, records[-1]["step"] if records else 0)
    return "done"


def pretrain_all(
    sweep: SweepConfig,
    all_variants: list[Variant],
    launcher: str,
    options,
    log,
    quiet: bool,
    on_outcome: Callable[[StageOutcome], object] = lambda outcome: None,
) -> list[StageOutcome]:
    """Every variant's pre-training unit with ``launcher``; ``on_outcome`` sees each outcome as it comes."""
    units = [StageUnit("pretrain", v) for v in all_variants]
    if launcher == "slurm":
        outcomes = _pretrain_slurm(sweep, units, options, log)
        for outcome in outcomes:
            on_outcome(outcome)
        return outcomes
    outcomes = []
    for unit in units:
        if launcher == "torchrun":
            action = functools.partial(_pretrain_torchrun, sweep, unit.variant, options.nproc, log)
        else:
            action = functools.partial(run_pretrain, sweep, unit.variant, nproc=options.nproc, progress=not quiet)
        outcomes.append(run_stage(unit, action))
        on_outcome(outcomes[-1])
    return outcomes


def _pretrain_slurm(sweep: SweepConfig, units: list[StageUnit], options, log) -> list[StageOutcome]:
    """One submitit job per unfinished variant (``slurm_cluster`` local/debug runs them on this machine)."""
    if not sweep.source:
        raise ConfigError("the slurm launcher needs the sweep loaded from a file (jobs re-read it)")
    todo = [u for u in units if not pretrain_done(sweep, u.variant)]
    out = [StageOutcome(u, "skipped") for u in units if u not in todo]
    if not todo:
        return out
    executor = slurm_executor(options, sweep.work_path / "_slurm" / "%j", f"spear-bench-ablate-{sweep.name}")
    jobs = [(u, executor.submit(pretrain_job, str(Path(sweep.source).resolve()), u.variant)) for u in todo]
    for unit, job in jobs:
        log(f"submitted {unit.label}: job {job.job_id}")
    for unit, job in jobs:
        start = time.perf_counter()
        try:
            out.append(StageOutcome(unit, job.result(), time.perf_counter() - start))
        except Exception as error:  # the job died (node failure, timeout) or raised
            reason = str(error).splitlines()[0] if str(error) else type(error).__name__
            out.append(StageOutcome(unit, "failed", time.perf_counter() - start, f"job {job.job_id}: {reason}"))
    return out


# --- scale of a measured run ----------------------------------------------------------------------


def run_scale(sweep: SweepConfig, variant: Variant) -> dict:
    """Model size, training steps and data of a pre-trained variant (for the legend: what the numbers measure)."""
    config, _, _ = write_variant_config(sweep, variant)
    params = 0
    with safe_open(str(encoder_dir(sweep, variant) / "model.safetensors"), "pt") as handle:
        for key in handle.keys():
            params += _numel(handle.get_slice(key).get_shape())
    stats = json.loads((targets_dir(sweep, targets_key(derive_config(sweep, variant))) / DONE_FILE).read_text())
    demo = config.data.demo is not None
    return {
        "params_m": round(params / 1e6, 2),
        "size": config.model.size,
        "steps": config.train.max_steps,
        "batch_seconds": config.train.batch_duration,
        "cuts": stats["cuts"],
        "hours": round(stats["hours"], 4),
        "demo": demo,
    }


def _numel(shape) -> int:
    total = 1
    for dim in shape:
        total *= int(dim)
    return total


def scale_text(scale: dict) -> str:
    """'tiny 5.57M params, 30 steps x 16 s batches, 36 demo clips (0.037 h), demo scale'."""
    data = f"{scale['cuts']} {'demo ' if scale['demo'] else ''}clips ({scale['hours']:.2g} h)"
    return (
        f"{scale['size']} {scale['params_m']:g}M params, {scale['steps']} steps x {scale['batch_seconds']:g} s "
        f"batches, {data}" + (", demo scale" if scale["demo"] else "")
    )


# --- store ----------------------------------------------------------------------------------------


def store_variant(sweep: SweepConfig, variant: Variant, unit_files: list[Path], results: Path, scale: str) -> str:
    """Copy the variant's scored rows into ``results`` under its name; write its sidecar (knobs, scale)."""
    store = ResultsStore(results)
    status = "skipped"
    for path in unit_files:
        rows = store.read_unit(path)
        if not rows:
            continue
        first = rows[0]
        if store.is_done(variant.name, first.suite, first.task, first.config_hash, first.seed):
            continue
        store.write_unit([dataclasses.replace(row, model=variant.name) for row in rows])
        status = "done"
    record = {
        "model": variant.name,
        "base": variant.model,
        "knobs": {k: value_text(v) for k, v in variant.knobs},
        "sweep": sweep.name,
        "scale": scale,
        "seeds": sorted(set(sweep.seeds)),
    }
    store.write_variant_record(record)
    return status
