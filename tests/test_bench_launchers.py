"""Launchers: submitit (debug and local executors standing in for SLURM) and torchrun, same results store."""
import collections
import os

import pytest

from spear_bench.bench.launchers import LaunchOptions
from spear_bench.bench.orchestrate import RunConfig, execute
from spear_bench.results.store import ResultsStore
from test_bench_hear_runner import TINY_HEAR_MODULE
from test_demo_data import demo_root

MODEL = "hear:tiny_hear_module"


@pytest.fixture
def tiny_module_path(tmp_path, monkeypatch):
    folder = tmp_path / "modules"
    folder.mkdir()
    (folder / "tiny_hear_module.py").write_text(TINY_HEAR_MODULE)
    monkeypatch.syspath_prepend(str(folder))
    # Jobs and workers are fresh interpreters: they find the module through PYTHONPATH.
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(folder), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    return folder


def _config(tmp_path, tasks):
    return RunConfig(suite="demo", models=(MODEL,), tasks=tasks, data_root=str(demo_root()), results=str(tmp_path / "results"),
                     cache=str(tmp_path / "cache"), quiet=True)


def _stored(tmp_path):
    rows = ResultsStore(tmp_path / "results").rows()
    return collections.Counter((r.task, r.metric) for r in rows)


@pytest.mark.slow
def test_slurm_launcher_with_submitit_debug_executor(tmp_path, tiny_module_path):
    outcomes = execute(_config(tmp_path, ("demo_words",)), "slurm", LaunchOptions(slurm_cluster="debug"), log=lambda *_: None)
    assert [o.status for o in outcomes] == ["done"]
    assert _stored(tmp_path)[("demo_words", "top1_acc")] == 1


@pytest.mark.slow
def test_slurm_launcher_one_job_per_unit_with_submitit_local_executor(tmp_path, tiny_module_path):
    logs = []
    outcomes = execute(_config(tmp_path, ("demo_words", "demo_pitch")), "slurm", LaunchOptions(slurm_cluster="local", slurm_timeout_min=10), log=logs.append)
    assert sorted(o.status for o in outcomes) == ["done", "done"]
    assert sum("submitted" in line for line in logs) == 2
    counts = _stored(tmp_path)
    assert counts[("demo_words", "top1_acc")] == 1 and counts[("demo_pitch", "pitch_acc")] == 1
    # A second submission finds both units finished.
    again = execute(_config(tmp_path, ("demo_words", "demo_pitch")), "slurm", LaunchOptions(slurm_cluster="local", slurm_timeout_min=10), log=logs.append)
    assert [o.status for o in again] == ["skipped", "skipped"]


@pytest.mark.slow
def test_torchrun_launcher_splits_units_over_workers(tmp_path, tiny_module_path):
    outcomes = execute(_config(tmp_path, ("demo_words", "demo_pitch")), "torchrun", LaunchOptions(nproc=2), log=lambda *_: None)
    assert sorted(o.status for o in outcomes) == ["done", "done"]
    counts = _stored(tmp_path)
    assert counts[("demo_words", "top1_acc")] == 1 and counts[("demo_pitch", "pitch_acc")] == 1
