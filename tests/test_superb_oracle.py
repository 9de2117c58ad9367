"""The SUPERB oracle: spear-bench against s3prl's own entry points, task by task, on the demo corpora.

For each of the 15 tasks, spear-bench runs it (``spear_tiny[random-init]``, seed 42, CPU, one
thread, the demo schedule), then s3prl's own entry point runs in a process of its own on the
config spear-bench dumped: ``python -m s3prl.main <Problem>`` and ``run_downstream.py`` as installed
(spear-bench's start-up file registers its hub entries and applies the patches there), or, for the
recipes that download files at run time, the same entry point from tests/_superb_oracle.py, which
supplies those files offline first.
Compared: every result file, every saved head (max |diff|), the optimiser state (Adam's moments,
step counts), the training statistics. Equal means max |diff| 0; a task where exact equality is
impossible names its tolerance and the reason here and in docs/superb.md.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import h5py
import pytest
from _superb_oracle import load, max_abs_diff
from threadpoolctl import threadpool_limits

from spear_bench.bench.scored_model import resolve_model
from spear_bench.bench.superb_runner import Upstream, run_superb_task
from spear_bench.demo.generate import generate_demo_data
from spear_bench.paths import REPO_ROOT
from spear_bench.superb.legacy_tasks import run_legacy_unit
from spear_bench.superb.problem import dumped_config
from spear_bench.superb.recipes import legacy_recipe, recipe_for
from spear_bench.task_registry import load_suite

ORACLE = REPO_ROOT / "tests" / "_superb_oracle.py"
SUITE = "demo_superb"
MODEL = "spear_tiny[random-init]"
SEED = 42
PROBLEM_TASKS = ("demo_ks", "demo_ic", "demo_sid", "demo_sv", "demo_sd", "demo_er", "demo_asr", "demo_sf", "demo_pr")
LEGACY_TASKS = ("ood_asr", "qbe", "st", "se", "ss", "vc")
# task -> (max |diff| allowed, why exact equality is impossible); absent: exactly equal.
TOLERANCES: dict[str, tuple[float, str]] = {}


def _run(command: list[str]) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=1800)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-5000:]


def _s3prl_problem(spec, fold, config: Path, theirs: Path, data_root: Path) -> None:
    """s3prl's own command line, as installed (the start-up file registers the hub entries and applies
    the patches): ``python -m s3prl.main <Problem> --config ...``; for a recipe that downloads files at
    run time, the same entry point from tests/_superb_oracle.py, which supplies them offline first."""
    overrides = ["--target_dir", str(theirs), "--cache_dir", str(theirs / "s3prl_cache")]
    if not (fold.local_files or fold.cache_files or fold.kaldi_data_dir):
        _run([sys.executable, "-m", "s3prl.main", recipe_for(spec).problem, "--config", str(config), *overrides])
        return
    arguments = {"suite": SUITE, "task": spec.name, "fold": fold.name, "data_root": str(data_root)}
    _run(
        [
            sys.executable,
            str(ORACLE),
            "problem",
            json.dumps({**arguments, "config": str(config), "target_dir": str(theirs)}),
        ]
    )


def _s3prl_legacy(*argv: str) -> None:
    """s3prl's ``run_downstream.py``, run as a script, as installed."""
    import s3prl

    _run([sys.executable, str(Path(s3prl.__file__).parent / "run_downstream.py"), *argv])


def _compare_problem_runs(ours: Path, theirs: Path, tolerance: float) -> dict[str, float]:
    """Every result and checkpoint file of our run folder against s3prl's; the max |diff| of each."""
    diffs = {}
    results = sorted(p.relative_to(ours) for p in (ours / "evaluate").rglob("*.yaml"))
    assert results, f"no results under {ours / 'evaluate'}"
    assert results == sorted(p.relative_to(theirs) for p in (theirs / "evaluate").rglob("*.yaml"))
    checkpoints = sorted(p.relative_to(ours) for p in (ours / "train").rglob("*.pt"))
    assert checkpoints == sorted(p.relative_to(theirs) for p in (theirs / "train").rglob("*.pt"))
    stats = sorted(p.relative_to(ours) for p in (ours / "train").rglob("training_stats.yaml"))
    for relative in [*results, *checkpoints, *stats]:
        mine, other = load(ours / relative), load(theirs / relative)
        if relative.name == "state_dict.pt":  # s3prl's own checkpoints also hold the frozen upstream
            assert all(key.startswith("upstream.") for key in set(other) - set(mine)), relative
            other = {key: value for key, value in other.items() if key in mine}
        diffs[str(relative)] = max_abs_diff(mine, other, str(relative))
    worst = {name: diff for name, diff in diffs.items() if diff > tolerance}
    assert not worst, f"spear-bench differs from s3prl's own run (allowed {tolerance}): {worst}"
    return diffs


@pytest.fixture(scope="module")
def tiny_upstream():
    return Upstream(resolve_model(MODEL))


@pytest.mark.slow
@pytest.mark.parametrize("task", PROBLEM_TASKS)
def test_problem_task_equals_s3prls_own_entry_point(task, tmp_path, demo_root, tiny_upstream, one_thread):
    spec = load_suite(SUITE).task(task)
    result = run_superb_task(
        spec, demo_root, tiny_upstream, tmp_path / "cache", seed=SEED, runs_root=tmp_path / "spear_bench"
    )
    tolerance = TOLERANCES.get(task, (0.0, ""))[0]
    folds = {fold.name: fold for fold in recipe_for(spec).folds(spec.check_data(demo_root))}
    for fold, details in result.details["folds"].items():
        ours = Path(details["target_dir"])
        config = dumped_config(ours)
        theirs = tmp_path / "s3prl" / fold
        _s3prl_problem(spec, folds[fold], config, theirs, demo_root)
        _compare_problem_runs(ours, theirs, tolerance)


# --- the six legacy-runner tasks: s3prl's run_downstream.py, run as a script -----------------------------

OUTPUTS = ("*.ark", "*.tsv", "*_metrics.txt", "*.stdlist.xml")  # what the experts write, compared byte for byte
BEST = ("dev-best.ckpt", "best-states-dev.ckpt")  # the experts' dev-selected checkpoints (run_task's choice)


def _recipe(unit: str) -> str:
    """The recipe of a unit folder of run_task (ood_asr_es, qbe_dev_layer-1, st, se, ss, vc_TEF1)."""
    return unit if unit.startswith("ood_asr") else unit.split("_")[0]


def _s3prl_legacy_unit(ours: Path, theirs: Path, ours_root: Path, theirs_root: Path) -> None:
    """s3prl's own command lines for one unit, on spear-bench's config (its run folder's paths replaced)."""
    recipe = _recipe(ours.name)
    config = theirs.parent / f"{theirs.name}.config.yaml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text((ours.parent / f"{ours.name}.config.yaml").read_text().replace(str(ours_root), str(theirs_root)))
    common = ["-u", "spear_tiny", "-d", legacy_recipe(recipe).downstream, "-c", str(config), "-p", str(theirs)]
    common += ["--device", "cpu", "--seed", str(SEED)]
    if recipe == "qbe":  # nothing trains: DTW on the upstream's last layer, per split
        _s3prl_legacy("-m", "evaluate", "-t", ours.name.split("_")[1], "-l", "-1", *common)
        return
    _s3prl_legacy("-m", "train", "-a", *common)
    best = [theirs / name for name in BEST if (theirs / name).is_file()]
    newest = max(theirs.glob("states-*.ckpt"), key=lambda p: int(p.stem.split("-")[1]))
    _s3prl_legacy("-m", "evaluate", "-e", str((best or [newest])[0]), "-t", "test", "--device", "cpu")


def _compare_legacy_units(ours: Path, theirs: Path, tolerance: float) -> dict[str, float]:
    diffs = {}
    checkpoints = sorted(p.name for p in ours.glob("*.ckpt"))
    assert checkpoints == sorted(p.name for p in theirs.glob("*.ckpt"))
    for name in checkpoints:
        mine, other = load(ours / name), load(theirs / name)
        assert mine["Args"].seed == other["Args"].seed == SEED
        states = {key: value for key, value in mine.items() if key not in ("Args", "Config")}
        diffs[name] = max_abs_diff(states, {key: other[key] for key in states}, name)
    outputs = sorted(p.relative_to(ours) for pattern in OUTPUTS for p in ours.rglob(pattern))
    assert outputs == sorted(p.relative_to(theirs) for pattern in OUTPUTS for p in theirs.rglob(pattern))
    for relative in outputs:
        diffs[str(relative)] = 0.0 if (ours / relative).read_bytes() == (theirs / relative).read_bytes() else math.inf
    for relative in sorted(p.relative_to(ours) for p in ours.rglob("*.h5")):  # VC's features and statistics
        with h5py.File(ours / relative) as mine, h5py.File(theirs / relative) as other:
            assert sorted(mine) == sorted(other), relative
            diffs[str(relative)] = max_abs_diff({k: mine[k][()] for k in mine}, {k: other[k][()] for k in other})
    worst = {name: diff for name, diff in diffs.items() if diff > tolerance}
    assert not worst, f"spear-bench differs from s3prl's own run (allowed {tolerance}): {worst}"
    return diffs


@pytest.fixture(scope="module")
def legacy_root(demo_root):
    return generate_demo_data(demo_root, legacy_superb=True, log=lambda *_: None) / "superb_legacy"


@pytest.mark.slow
@pytest.mark.parametrize("task", LEGACY_TASKS)
def test_legacy_task_equals_s3prls_own_command_line(task, tmp_path, legacy_root, one_thread):
    ours_root, theirs_root = tmp_path / "spear_bench", tmp_path / "s3prl"
    arguments = {"task": task, "upstream": "spear_tiny", "data_root": str(legacy_root), "device": "cpu"}
    # One thread for numpy's BLAS too, as OMP_NUM_THREADS=1 gives s3prl's process: VC's features go through
    # numpy, whose BLAS torch.set_num_threads does not reach; with two threads they differ by ~3e-8.
    with threadpool_limits(limits=1):
        run_legacy_unit({**arguments, "demo": True, "seed": SEED, "run_dir": str(ours_root)})
    units = sorted({p.parent for p in ours_root.rglob("args_*.yaml")})
    assert units, f"no s3prl experiment folder under {ours_root}"
    tolerance = TOLERANCES.get(task, (0.0, ""))[0]
    for ours in units:
        theirs = theirs_root / ours.relative_to(ours_root)
        _s3prl_legacy_unit(ours, theirs, ours_root, theirs_root)
        _compare_legacy_units(ours, theirs, tolerance)
