"""The SUPERB oracle: spear-bench against s3prl's own entry points, task by task, on the demo corpora.

For each of the 15 tasks, spear-bench runs it (``spear_tiny[random-init]``, seed 42, CPU, one
thread, the demo schedule), then s3prl's own entry point runs in a process of its own on the
config spear-bench dumped (tests/_superb_oracle.py says exactly what that process does first).
Compared: every result file, every saved head (max |diff|), the optimiser state (Adam's moments,
step counts), the training statistics. Equal means max |diff| 0; a task where exact equality is
impossible names its tolerance and the reason here and in docs/superb.md.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from _superb_oracle import load, max_abs_diff

from spear_bench.bench.scored_model import resolve_model
from spear_bench.bench.superb_runner import Upstream, run_superb_task
from spear_bench.paths import REPO_ROOT
from spear_bench.task_registry import load_suite

ORACLE = REPO_ROOT / "tests" / "_superb_oracle.py"
SUITE = "demo_superb"
MODEL = "spear_tiny[random-init]"
SEED = 42
PROBLEM_TASKS = ("demo_ks", "demo_ic", "demo_sid", "demo_sv", "demo_sd", "demo_er", "demo_asr", "demo_sf", "demo_pr")
# task -> (max |diff| allowed, why exact equality is impossible); absent: exactly equal.
TOLERANCES: dict[str, tuple[float, str]] = {}


def _s3prl(mode: str, *args: str) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, str(ORACLE), mode, *args], capture_output=True, text=True, env=env, timeout=1800
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-5000:]


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
    for fold, details in result.details["folds"].items():
        ours = Path(details["target_dir"])
        (config,) = sorted((ours / "configs").glob("*.yaml"))  # s3prl's own dump of the run's config
        theirs = tmp_path / "s3prl" / fold
        arguments = {"suite": SUITE, "task": task, "fold": fold, "data_root": str(demo_root)}
        _s3prl("problem", json.dumps({**arguments, "config": str(config), "target_dir": str(theirs)}))
        _compare_problem_runs(ours, theirs, tolerance)
