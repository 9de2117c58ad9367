"""Ablations as runs: ``spear-bench ablate --config SWEEP.yaml`` sweeps pre-training knobs, scores, plots.

A sweep file (``configs/ablate/*.yaml``, :class:`SweepConfig`) names a base pre-training
config, knobs with their values (:data:`KNOBS`), the suite and tasks to score each variant
on, and the seeds. Every (knob values, seed) is a *variant*; its stages are units, each
skipped when finished, so a killed sweep resumes where it stopped:

1. ``targets``  data, teacher features, quantisers and tokens, shared by every variant whose
   knobs leave them unchanged (keyed by the hash of ``data`` + ``token_sets``; the variant's
   folder links to them);
2. ``pretrain`` the derived pre-training config (``variants/<knobs>/seed<s>/pretrain.yaml``),
   trained with resume (a killed run continues from its latest checkpoint);
3. ``score``    the encoder scored through the benchmark orchestrator exactly as
   ``spear-bench run --model <model>@<encoder>`` (finished units skipped by config hash);
4. ``store``    the scores copied into the results store under the variant's name,
   ``<model>@<knob>=<value>[,...]`` (the report's ablation convention), with a sidecar
   ``_ablations/<name>.json`` holding the knobs and the run's scale;
5. the ablation figure, measured series beside the paper's (``spear_bench.report.plots``).

``--launcher local|torchrun|slurm``: ``pretrain`` units run in this process, under
``torchrun`` (one DDP pre-training per variant) or as one submitit job per variant;
``score`` units go through the same launcher as ``spear-bench run``.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import itertools
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import yaml
from safetensors import safe_open

from spear_bench.atomic_io import atomic_write_text
from spear_bench.bench.demo_suite_data import generate_demo_data
from spear_bench.bench.launchers import LaunchOptions, execute, get_launcher, slurm_executor
from spear_bench.bench.orchestrate import RunConfig, format_outcome
from spear_bench.errors import ConfigError, SpearBenchError
from spear_bench.models.registry import get_bundle
from spear_bench.paths import cache_dir, reports_dir, results_dir
from spear_bench.pretrain.config import build_dataclass, load_pretrain_config, read_yaml_mapping
from spear_bench.pretrain.pipeline import prepare_training_data
from spear_bench.pretrain.trainer import read_log, run_pretraining
from spear_bench.report.aggregate import measured_values
from spear_bench.report.plots import ablation_spec, plot_ablation
from spear_bench.report.reference import load_reference
from spear_bench.results.store import ResultsStore, config_hash
from spear_bench.task_registry import load_suite

DONE_FILE = "done.json"


# --- knobs ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Knob:
    """A pre-training setting a sweep can vary: where it lives in the config and how its values read."""

    path: tuple[str, ...]  # keys into the pre-training config; ("token_sets", NAME, ...) picks a token set by name
    kind: type
    description: str


KNOBS: dict[str, Knob] = {
    "alpha": Knob(("loss", "alpha"), float, "Eq. 1 weight of the masked frames' loss (Fig. 3)"),
    "lambda": Knob(("loss", "audio_weight"), float, "audio-token loss weight (Table 24)"),
    "strategy": Knob(("loss", "strategy"), str, "dual-domain strategy: joint | disjoint | asymmetrical (Table 7)"),
    "codebooks": Knob(("token_sets", "speech", "mvq", "num_codebooks"), int, "speech MVQ codebooks (Table 22)"),
    "audio_codebooks": Knob(("token_sets", "audio", "mvq", "num_codebooks"), int, "audio MVQ codebooks (Table 23)"),
    "teacher_layer": Knob(("token_sets", "speech", "teacher", "layer"), int, "speech teacher layer (Table 19a)"),
    "audio_teacher_layer": Knob(("token_sets", "audio", "teacher", "layer"), int, "audio teacher layer (Table 19b)"),
    "token_mixing": Knob(("augment", "token_mixing", "prob"), float, "token-mixing probability (Table 6)"),
    "target": Knob(("token_sets", "speech", "target"), str, "speech targets: mvq | kmeans (Table 21)"),
}


def value_text(value) -> str:
    """A knob value as it appears in model names: 0.5, 1, 16, kmeans (floats without trailing zeros)."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def set_knob(config: dict, name: str, value, where: str) -> dict:
    """A copy of the pre-training config dict with knob ``name`` set to ``value``."""
    knob = KNOBS[name]
    out = copy.deepcopy(config)
    node = out
    keys = list(knob.path)
    while len(keys) > 1:
        key = keys.pop(0)
        if key == "token_sets":
            wanted = keys.pop(0)
            sets = node.get("token_sets") or []
            matches = [t for t in sets if t.get("name", "speech") == wanted]
            if not matches:
                raise ConfigError(f"{where}: knob {name!r} needs a token set named {wanted!r} in the base config")
            node = matches[0]
            continue
        if not isinstance(node.get(key), dict):
            node[key] = {}
        node = node[key]
    node[keys[0]] = value
    return out


# --- the sweep file -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScoreConfig:
    """Where each variant's encoder is scored (as ``spear-bench run`` would)."""

    suite: str = "demo"
    tasks: tuple[str, ...] = ()
    data_root: str | None = None  # demo: generated under work_dir/demo_data when absent
    layer: str = "last"
    device: str = "cpu"
    probe_seed: int = 42  # + the variant's seed


@dataclass(frozen=True)
class SweepConfig:
    name: str
    base: str  # the base pre-training YAML
    knobs: dict  # knob -> list of values (every combination is a variant)
    score: ScoreConfig = field(default_factory=ScoreConfig)
    model: str = "spear_tiny"  # registered model the encoders load as; the variants' base name in the store
    seeds: tuple[int, ...] = (0,)  # added to the base config's model.seed and train.seed
    overrides: dict = field(default_factory=dict)  # merged into every variant's pre-training config
    work_dir: str = ""  # default work_dir/ablate/<name>
    results: str = ""  # default: the results store (results/)
    plots: str = ""  # default: reports/plots
    scale: str = ""  # legend text for the measured series (default: derived from the runs)
    source: str = ""  # the sweep file (set when loaded)

    @property
    def work_path(self) -> Path:
        return Path(self.work_dir or f"work_dir/ablate/{self.name}")


def load_sweep(path: str | Path) -> SweepConfig:
    """Read and check a sweep YAML; errors are one line naming the file."""
    path = Path(path)
    values = read_yaml_mapping(path, "sweep file")
    for key in ("name", "base", "knobs"):
        if key not in values:
            raise ConfigError(f"{path}: missing {key!r}")
    try:
        sweep = build_dataclass(SweepConfig, {**values, "source": str(path)}, str(path))
    except ConfigError as error:
        message = str(error)
        raise ConfigError(message if message.startswith(str(path)) else f"{path}: {message}") from None
    if not isinstance(sweep.knobs, dict) or not sweep.knobs:
        raise ConfigError(f"{path}: knobs: give at least one knob with a list of values")
    for name, knob_values in sweep.knobs.items():
        if name not in KNOBS:
            raise ConfigError(f"{path}: unknown knob {name!r}; known: {', '.join(KNOBS)}")
        if not isinstance(knob_values, list) or not knob_values:
            raise ConfigError(f"{path}: knobs.{name}: expected a non-empty list of values")
    if not sweep.seeds:
        raise ConfigError(f"{path}: seeds: give at least one")
    base = Path(sweep.base)
    if not base.is_file():
        raise ConfigError(f"{path}: base pre-training config {base} does not exist")
    return sweep


# --- variants -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Variant:
    model: str  # the registered model name (base of the variant's name)
    knobs: tuple[tuple[str, object], ...]  # (knob, value) in the sweep file's order
    seed: int

    @property
    def name(self) -> str:
        """The variant's model name in the results store: ``spear_tiny@alpha=0.5`` (seeds share it)."""
        return f"{self.model}@" + ",".join(f"{k}={value_text(v)}" for k, v in self.knobs)

    @property
    def folder(self) -> str:
        return ",".join(f"{k}={value_text(v)}" for k, v in self.knobs)

    @property
    def label(self) -> str:
        return f"{self.name} seed {self.seed}"


def variants(sweep: SweepConfig) -> list[Variant]:
    names = list(sweep.knobs)
    out = []
    for combo in itertools.product(*(sweep.knobs[n] for n in names)):
        for seed in sweep.seeds:
            out.append(Variant(sweep.model, tuple(zip(names, combo)), int(seed)))
    return out


def _merge(base: dict, extra: dict) -> dict:
    out = dict(base)
    for key, value in extra.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def variant_dir(sweep: SweepConfig, variant: Variant) -> Path:
    return sweep.work_path / "variants" / variant.folder / f"seed{variant.seed}"


def derive_config(sweep: SweepConfig, variant: Variant) -> dict:
    """The variant's pre-training config: base YAML + sweep overrides + knobs + seed, in its own work_dir."""
    where = sweep.source or sweep.name
    values = yaml.safe_load(Path(sweep.base).read_text()) or {}
    values = _merge(values, copy.deepcopy(sweep.overrides))
    for name, value in variant.knobs:
        kind = KNOBS[name].kind
        values = set_knob(values, name, value if isinstance(value, kind) else kind(value), where)
    model, train = dict(values.get("model") or {}), dict(values.get("train") or {})
    model["seed"] = int(model.get("seed", 0)) + variant.seed
    train["seed"] = int(train.get("seed", 42)) + variant.seed
    values["model"], values["train"] = model, train
    values["work_dir"] = str(variant_dir(sweep, variant))
    return values


def targets_key(values: dict) -> str:
    """What the targets depend on: the data and the token sets (teacher, layer, quantiser)."""
    return config_hash({"data": values.get("data"), "token_sets": values.get("token_sets")})


def write_variant_config(sweep: SweepConfig, variant: Variant):
    """Write ``pretrain.yaml`` into the variant's folder (when changed) and load it as a PretrainConfig."""
    values = derive_config(sweep, variant)
    path = variant_dir(sweep, variant) / "pretrain.yaml"
    header = f"# derived by spear-bench ablate from {sweep.source or sweep.name}: {variant.label}\n"
    text = header + yaml.safe_dump(values, sort_keys=False)
    if not path.is_file() or path.read_text() != text:
        atomic_write_text(path, text)
    return load_pretrain_config(path), path, values


# --- stage units ----------------------------------------------------------------------------------


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


def format_stage(outcome: StageOutcome) -> str:
    seconds = f"{outcome.seconds:.1f}s" if outcome.status == "done" and outcome.unit.stage != "score" else ""
    parts = [f"[{outcome.status}]", outcome.unit.label, seconds, outcome.message]
    return "  ".join(p for p in parts if p)


def targets_dir(sweep: SweepConfig, key: str) -> Path:
    return sweep.work_path / "targets" / key


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


def encoder_dir(sweep: SweepConfig, variant: Variant) -> Path:
    return variant_dir(sweep, variant) / "exp" / "encoder"


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


# --- the sweep ------------------------------------------------------------------------------------


@dataclass
class SweepResult:
    outcomes: list[StageOutcome]
    figure: list[Path]
    variants: list[Variant]
    seconds: float


def _stage(unit: StageUnit, action: Callable[[], str]) -> StageOutcome:
    start = time.perf_counter()
    try:
        return StageOutcome(unit, action(), time.perf_counter() - start)
    except SpearBenchError as error:
        return StageOutcome(unit, "failed", time.perf_counter() - start, str(error))


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
        outcome = _stage(StageUnit("targets", variant, key), lambda v=variant: run_targets(sweep, v, not quiet))
        if key not in seen or outcome.status != "skipped":  # a shared key's later variants only link to it
            record(outcome)
        seen.add(key)
    if any(o.status == "failed" for o in outcomes):
        raise SpearBenchError(f"targets failed: {next(o.message for o in outcomes if o.status == 'failed')}")

    # 2. pre-training
    pretrained = _pretrain_all(sweep, all_variants, launcher, options, log, quiet, on_outcome=record)
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
            score_text = format_outcome(unit_outcome).split(unit_outcome.unit.label, 1)[-1].strip()
            message = score_text if unit_outcome.status != "failed" else unit_outcome.message
            record(
                StageOutcome(
                    StageUnit("score", variant, unit_outcome.unit.task),
                    unit_outcome.status,
                    unit_outcome.seconds,
                    message,
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
        record(_stage(StageUnit("store", variant), store))

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


def _pretrain_all(
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
        outcomes.append(_stage(unit, action))
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


# --- the figure -----------------------------------------------------------------------------------


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
