"""Launchers: where the units of a run execute (one registry: name -> launcher); :func:`execute` runs a plan.

- ``local``: in this process, one unit after the other (models load once per process: the
  launcher's :class:`~spear_bench.bench.runner.LoadedModels` goes to every unit it runs).
- ``torchrun``: ``torch.distributed.run`` starts ``nproc`` workers on this node
  (``python -m spear_bench.bench.worker``); worker ``RANK`` takes units ``RANK::WORLD_SIZE``.
- ``slurm``: one submitit job per unit (``AutoExecutor``; ``cluster="local"`` or
  ``"debug"`` runs the same jobs on this machine, which is how it is tested).

Every launcher returns one outcome per unit; units write their own results atomically, so
launchers never merge rows, and a launcher that dies leaves a resumable store. A unit whose
worker or job died without reporting it is a ``failed`` outcome naming the rank or job, so
the run exits non-zero. Devices (:func:`resolve_device`): the ``--device`` asked for is the
device used; without one, units run on the GPU where GPUs are allocated (torchrun with CUDA,
``--slurm-gpus N``) and on the CPU otherwise.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from tqdm.auto import tqdm

from spear_bench.atomic_io import atomic_write_text
from spear_bench.bench.orchestrate import (
    RunConfig,
    Unit,
    UnitOutcome,
    check_datasets,
    format_outcome,
    plan,
    run_unit,
)
from spear_bench.bench.preflight import check_device, check_folder, check_launch_options
from spear_bench.bench.runner import LoadedModels
from spear_bench.bench.scored_model import resolve_model
from spear_bench.errors import ConfigError, SpearBenchError
from spear_bench.interrupts import Terminated, note_finished
from spear_bench.models.model_ref import random_init_warning


@dataclass(frozen=True)
class LaunchOptions:
    nproc: int = 1  # torchrun workers
    slurm_cluster: str | None = None  # None = real SLURM; "local" | "debug" for submitit's local executors
    slurm_partition: str | None = None
    slurm_timeout_min: int = 240
    slurm_gpus_per_node: int = 0
    slurm_cpus_per_task: int = 4
    slurm_mem_gb: int = 32
    slurm_folder: str | None = None
    wait: bool = True


# LaunchOptions field -> its command-line option (the fields a user sets on the command line)
OPTION_NAMES = {
    "nproc": "--nproc",
    "slurm_cluster": "--slurm-cluster",
    "slurm_partition": "--slurm-partition",
    "slurm_timeout_min": "--slurm-timeout-min",
    "slurm_gpus_per_node": "--slurm-gpus",
    "wait": "--no-wait",
}


def changed_options(options: LaunchOptions) -> dict[str, object]:
    """The command-line launcher options given a value other than their default (option -> value)."""
    default = LaunchOptions()
    return {
        name: (True if field == "wait" else getattr(options, field))
        for field, name in OPTION_NAMES.items()
        if getattr(options, field) != getattr(default, field)
    }


def check_run(config: RunConfig, launcher: str, options: LaunchOptions | None = None) -> None:
    """Before any model loads or data is generated: the launcher and its options agree, the results and
    cache folders are writable with free space, the device exists (where the units run: this machine,
    unless a real SLURM cluster runs them). The seed is checked by RunConfig itself."""
    options = options or LaunchOptions()
    get_launcher(launcher)
    check_launch_options(launcher, changed_options(options))
    check_folder(config.results, "--results")
    check_folder(config.cache, "--cache")
    if launcher != "slurm" or options.slurm_cluster in ("local", "debug"):
        check_device(config.device)


Launcher = Callable[[list[Unit], RunConfig, LaunchOptions, Callable[[str], None]], list[UnitOutcome]]
LAUNCHERS: dict[str, Launcher] = {}


def launcher(name: str):
    def register(function: Launcher) -> Launcher:
        LAUNCHERS[name] = function
        return function

    return register


def resolve_device(requested: str | None, gpus: bool, local_rank: int | None = None) -> str:
    """The device units run on: ``requested`` as given; without one, ``cuda`` when GPUs are allocated, else ``cpu``.

    Under torchrun (``local_rank`` given) a bare ``cuda`` is this worker's own GPU, so that
    N workers do not share GPU 0; an explicit ``cpu`` or ``cuda:N`` is never changed.
    """
    device = requested if requested else ("cuda" if gpus else "cpu")
    if local_rank is not None and device == "cuda":
        return f"cuda:{local_rank}"
    return device


def get_launcher(name: str) -> Launcher:
    if name not in LAUNCHERS:
        raise ConfigError(f"unknown launcher {name!r}; known: {', '.join(LAUNCHERS)}")
    return LAUNCHERS[name]


@launcher("local")
def launch_local(
    units: list[Unit], config: RunConfig, options: LaunchOptions, log: Callable[[str], None]
) -> list[UnitOutcome]:
    config = _replace_device(config, resolve_device(config.device, gpus=False))
    models = LoadedModels()  # one per process: each model loads once for all its units
    outcomes = []
    bar = tqdm(total=len(units), desc="units", unit="unit", disable=config.quiet, dynamic_ncols=True)
    note_units_finished(outcomes, len(units), config)
    for unit in units:
        bar.set_postfix_str(unit.label)
        outcome = run_unit(unit, config, models)
        outcomes.append(outcome)
        note_units_finished(outcomes, len(units), config)
        bar.write(format_outcome(outcome)) if not config.quiet else log(format_outcome(outcome))
        bar.update(1)
    bar.close()
    return outcomes


def note_units_finished(outcomes: list[UnitOutcome], total: int, config: RunConfig) -> None:
    """What an interrupt now would keep (:mod:`spear_bench.interrupts`)."""
    finished = sum(o.status in ("done", "skipped") for o in outcomes)
    note_finished(
        f"{finished} of {total} units finished (stored in {config.results}); "
        f"embeddings computed so far are cached in {config.cache}"
    )


# --- torchrun ----------------------------------------------------------------------------------------


def rank_outcomes_path(plan_path: str, rank: int) -> Path:
    return Path(f"{plan_path}.rank{rank}.json")


def worker_main(plan_path: str) -> int:
    """Entry of one torchrun worker: run this rank's share of the plan, recording each outcome next to the plan.

    The outcomes file is rewritten (atomically) after every unit, so a rank that dies
    mid-way has reported exactly the units it finished.
    """
    rank, world = int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))
    plan = json.loads(Path(plan_path).read_text())
    config = RunConfig.from_json(plan["config"])
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    device = resolve_device(config.device, gpus=torch.cuda.is_available(), local_rank=local_rank)
    config = _replace_device(config, device)
    units = [Unit(**u) for u in plan["units"]][rank::world]
    outcomes: list[dict] = []
    atomic_write_text(rank_outcomes_path(plan_path, rank), "[]")
    models = LoadedModels()
    for unit in units:
        outcome = run_unit(unit, config, models)
        print(f"[rank {rank}] {format_outcome(outcome)}", flush=True)
        outcomes.append(outcome.to_dict())
        atomic_write_text(rank_outcomes_path(plan_path, rank), json.dumps(outcomes))
    return 0


def _replace_device(config: RunConfig, device: str) -> RunConfig:
    return dataclasses.replace(config, device=device)


@launcher("torchrun")
def launch_torchrun(
    units: list[Unit], config: RunConfig, options: LaunchOptions, log: Callable[[str], None]
) -> list[UnitOutcome]:
    if options.nproc < 1:
        raise ConfigError(f"--nproc must be >= 1, got {options.nproc}")
    folder = Path(config.results) / "_launch"
    folder.mkdir(parents=True, exist_ok=True)
    worker_config = dataclasses.replace(config, quiet=True)  # the device is resolved by each worker
    fd, plan_path = tempfile.mkstemp(dir=folder, prefix="plan-", suffix=".json")
    with os.fdopen(fd, "w") as f:
        json.dump({"config": worker_config.to_json(), "units": [dataclasses.asdict(u) for u in units]}, f)
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc_per_node={options.nproc}",
        "-m",
        "spear_bench.bench.worker",
        plan_path,
    ]
    log(f"torchrun: {' '.join(command)}")
    process = subprocess.Popen(command)
    try:
        returncode = process.wait()
    except KeyboardInterrupt as interrupt:  # pass the signal on, so that the workers stop as this process does
        process.send_signal(signal.SIGTERM if isinstance(interrupt, Terminated) else signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        reported = collect_rank_outcomes(units, plan_path, options.nproc, 0, lambda line: None)
        note_units_finished([o for o in reported if o.status != "failed"], len(units), config)
        raise
    return collect_rank_outcomes(units, plan_path, options.nproc, returncode, log)


def collect_rank_outcomes(
    units: list[Unit], plan_path: str, nproc: int, returncode: int, log: Callable[[str], None]
) -> list[UnitOutcome]:
    """One outcome per unit, in plan order: what each rank reported, ``failed`` for the units a rank never reported."""
    reported: dict[Unit, UnitOutcome] = {}
    for rank in range(nproc):
        path = rank_outcomes_path(plan_path, rank)
        if path.is_file():
            try:
                records = json.loads(path.read_text())
            except ValueError:
                records = []
            for record in records:
                outcome = UnitOutcome.from_dict(record)
                reported[outcome.unit] = outcome
    outcomes = []
    for index, unit in enumerate(units):
        if unit in reported:
            outcomes.append(reported[unit])
            continue
        message = (
            f"torchrun rank {index % nproc} ended without reporting this unit "
            f"(torchrun exit status {returncode}, plan {plan_path})"
        )
        missing = UnitOutcome(unit, "failed", message=message)
        log(format_outcome(missing))
        outcomes.append(missing)
    if returncode != 0 and all(o.status != "failed" for o in outcomes):
        raise SpearBenchError(
            f"torchrun exited with status {returncode} although every unit reported (plan {plan_path})"
        )
    return outcomes


# --- SLURM via submitit ----------------------------------------------------------------------------


def slurm_job(unit: Unit, config: RunConfig) -> dict:
    """What one SLURM job runs (a top-level function, so submitit can pickle it; the job's fresh
    interpreter imports spear_bench, and its torchaudio hook, with this module)."""
    return run_unit(unit, config).to_dict()


def slurm_executor(options: LaunchOptions, default_folder: Path, name: str):
    """A submitit executor with the --slurm-* options (cluster resources only on a real SLURM cluster)."""
    import submitit  # SLURM runs only; looked up at call time, so tests can stand a fake in sys.modules

    folder = options.slurm_folder or str(default_folder)
    executor = submitit.AutoExecutor(folder=folder, cluster=options.slurm_cluster)
    params = {"timeout_min": options.slurm_timeout_min, "name": name}
    if executor.cluster == "slurm":
        params.update(
            slurm_partition=options.slurm_partition,
            gpus_per_node=options.slurm_gpus_per_node,
            cpus_per_task=options.slurm_cpus_per_task,
            mem_gb=options.slurm_mem_gb,
        )
        params = {k: v for k, v in params.items() if v is not None}
    executor.update_parameters(**params)
    return executor


@launcher("slurm")
def launch_slurm(
    units: list[Unit], config: RunConfig, options: LaunchOptions, log: Callable[[str], None]
) -> list[UnitOutcome]:
    executor = slurm_executor(options, Path(config.results) / "_slurm" / "%j", f"spear-bench-{config.suite}")
    gpus = executor.cluster == "slurm" and options.slurm_gpus_per_node > 0
    job_config = dataclasses.replace(config, quiet=True, device=resolve_device(config.device, gpus=gpus))
    jobs = []
    if executor.cluster == "debug":
        jobs = [executor.submit(slurm_job, unit, job_config) for unit in units]
    else:
        with executor.batch():
            for unit in units:
                jobs.append(executor.submit(slurm_job, unit, job_config))
    for unit, job in zip(units, jobs):
        log(f"submitted {unit.label}: job {job.job_id}")
    note_finished(
        f"{len(jobs)} SLURM job(s) submitted; they run on and store their units in {config.results} "
        "(scancel stops them)"
    )
    if not options.wait:
        return []
    outcomes = []
    for unit, job in zip(units, jobs):
        try:
            outcome = UnitOutcome.from_dict(job.result())
        except Exception as error:  # the job itself died (node failure, timeout)
            outcome = UnitOutcome(
                unit,
                "failed",
                message=f"job {job.job_id}: {str(error).splitlines()[0] if str(error) else type(error).__name__}",
            )
        log(format_outcome(outcome))
        outcomes.append(outcome)
    return outcomes


def execute(
    config: RunConfig, launcher: str = "local", options: LaunchOptions | None = None, log: Callable[[str], None] = print
) -> list[UnitOutcome]:
    """Check the run (:func:`check_run`), plan, check the data, run every unit with ``launcher``; the outcomes."""
    check_run(config, launcher, options)
    run = get_launcher(launcher)
    for model in config.models:
        resolved = resolve_model(model, config.layer)  # unknown names and missing weights fail here, before any work
        if resolved.random_init:
            log(random_init_warning(resolved.name))  # once per run, here in the parent process
    units = plan(config)
    check_datasets(config)
    return run(units, config, options or LaunchOptions(), log)
