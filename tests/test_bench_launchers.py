"""Launchers: submitit (debug and local executors standing in for SLURM) and torchrun, same results store."""

import collections
import json
import os
import sys
import types

import pytest
import torch

from spear_bench.bench import launchers
from spear_bench.bench.launchers import LaunchOptions, collect_rank_outcomes, execute, resolve_device, worker_main
from spear_bench.bench.orchestrate import RunConfig, Unit, UnitOutcome
from spear_bench.cli import main as cli_main
from spear_bench.errors import SpearBenchError
from spear_bench.results.store import ResultsStore

MODEL = "hear:tiny_hear_module"


@pytest.fixture
def tiny_module_path(tmp_path, monkeypatch, tiny_hear_module_source):
    folder = tmp_path / "modules"
    folder.mkdir()
    (folder / "tiny_hear_module.py").write_text(tiny_hear_module_source)
    monkeypatch.syspath_prepend(str(folder))
    # Jobs and workers are fresh interpreters: they find the module through PYTHONPATH.
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(folder), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    return folder


def _config(demo_root, tmp_path, tasks):
    return RunConfig(
        suite="demo",
        models=(MODEL,),
        tasks=tasks,
        data_root=str(demo_root),
        results=str(tmp_path / "results"),
        cache=str(tmp_path / "cache"),
        quiet=True,
    )


def _stored(tmp_path):
    rows = ResultsStore(tmp_path / "results").rows()
    return collections.Counter((r.task, r.metric) for r in rows)


@pytest.mark.slow
def test_slurm_launcher_with_submitit_debug_executor(tmp_path, tiny_module_path, demo_root):
    outcomes = execute(
        _config(demo_root, tmp_path, ("demo_words",)),
        "slurm",
        LaunchOptions(slurm_cluster="debug"),
        log=lambda *_: None,
    )
    assert [o.status for o in outcomes] == ["done"]
    assert _stored(tmp_path)[("demo_words", "top1_acc")] == 1


@pytest.mark.slow
def test_slurm_launcher_one_job_per_unit_with_submitit_local_executor(tmp_path, tiny_module_path, demo_root):
    logs = []
    outcomes = execute(
        _config(demo_root, tmp_path, ("demo_words", "demo_pitch")),
        "slurm",
        LaunchOptions(slurm_cluster="local", slurm_timeout_min=10),
        log=logs.append,
    )
    assert sorted(o.status for o in outcomes) == ["done", "done"]
    assert sum("submitted" in line for line in logs) == 2
    counts = _stored(tmp_path)
    assert counts[("demo_words", "top1_acc")] == 1 and counts[("demo_pitch", "pitch_acc")] == 1
    # A second submission finds both units finished.
    again = execute(
        _config(demo_root, tmp_path, ("demo_words", "demo_pitch")),
        "slurm",
        LaunchOptions(slurm_cluster="local", slurm_timeout_min=10),
        log=logs.append,
    )
    assert [o.status for o in again] == ["skipped", "skipped"]


@pytest.mark.slow
def test_torchrun_launcher_splits_units_over_workers(tmp_path, tiny_module_path, demo_root):
    outcomes = execute(
        _config(demo_root, tmp_path, ("demo_words", "demo_pitch")),
        "torchrun",
        LaunchOptions(nproc=2),
        log=lambda *_: None,
    )
    assert sorted(o.status for o in outcomes) == ["done", "done"]
    counts = _stored(tmp_path)
    assert counts[("demo_words", "top1_acc")] == 1 and counts[("demo_pitch", "pitch_acc")] == 1


@pytest.mark.slow
def test_torchrun_rank_killed_fails_the_run_naming_its_units(
    tmp_path, tiny_module_path, capsys, demo_root, tiny_hear_module_source
):
    # A HEAR module whose torchrun rank 1 dies (SIGKILL) while loading: that rank's units are never reported.
    rank1_dies = tiny_hear_module_source.replace(
        'def load_model(model_file_path="", **kwargs):',
        """def load_model(model_file_path="", **kwargs):
    import os, signal
    if os.environ.get("RANK") == "1":
        os.kill(os.getpid(), signal.SIGKILL)""",
    )
    assert "SIGKILL" in rank1_dies
    (tiny_module_path / "rank1_dies.py").write_text(rank1_dies)
    code = cli_main(
        [
            "run",
            "--suite",
            "demo",
            "--model",
            "hear:rank1_dies",
            "--tasks",
            "demo_words,demo_pitch",
            "--data-root",
            str(demo_root),
            "--results",
            str(tmp_path / "results"),
            "--cache",
            str(tmp_path / "cache"),
            "--launcher",
            "torchrun",
            "--nproc",
            "2",
            "--quiet",
        ]
    )
    captured = capsys.readouterr()
    assert code != 0
    # Rank 1 (killed) had demo_pitch. torchrun then stops rank 0 too, maybe before it reports demo_words,
    # so demo_pitch is named as failed for certain and demo_words may be.
    assert "unit(s) failed: " in captured.err and "hear:rank1_dies / demo_pitch" in captured.err
    pitch = [line for line in captured.out.splitlines() if line.startswith("[failed]  hear:rank1_dies / demo_pitch")]
    assert len(pitch) == 1 and "torchrun rank 1 ended without reporting this unit" in pitch[0]
    assert {r.task for r in ResultsStore(tmp_path / "results").rows()} <= {"demo_words"}


def test_missing_rank_outcomes_become_failed_units_in_plan_order(tmp_path):
    units = [Unit("m", "a"), Unit("m", "b"), Unit("m", "c")]
    plan = str(tmp_path / "plan.json")
    (tmp_path / "plan.json.rank0.json").write_text(
        json.dumps([UnitOutcome(units[0], "done").to_dict()])
    )  # rank 0: a, died before c
    logs = []
    outcomes = collect_rank_outcomes(units, plan, nproc=2, returncode=1, log=logs.append)  # rank 1 (b) never wrote
    assert [(o.unit.task, o.status) for o in outcomes] == [("a", "done"), ("b", "failed"), ("c", "failed")]
    assert "torchrun rank 1 " in outcomes[1].message and "torchrun rank 0 " in outcomes[2].message
    assert "exit status 1" in outcomes[1].message and len(logs) == 2 and "m / b" in logs[0]


def test_torchrun_non_zero_exit_fails_even_when_every_unit_reported(tmp_path):
    units = [Unit("m", "a")]
    (tmp_path / "plan.json.rank0.json").write_text(json.dumps([UnitOutcome(units[0], "done").to_dict()]))
    assert collect_rank_outcomes(units, str(tmp_path / "plan.json"), 1, 0, print)[0].status == "done"
    with pytest.raises(SpearBenchError, match="torchrun exited with status 3"):
        collect_rank_outcomes(units, str(tmp_path / "plan.json"), 1, 3, print)


@pytest.mark.parametrize(
    "requested, gpus, local_rank, expected",
    [
        (None, False, None, "cpu"),
        (None, True, None, "cuda"),  # --slurm-gpus N without --device
        (None, True, 1, "cuda:1"),  # torchrun with CUDA: each worker its own GPU
        ("cpu", True, 1, "cpu"),  # an explicit --device cpu stays cpu under torchrun
        ("cpu", True, None, "cpu"),
        ("cuda", True, 2, "cuda:2"),
        ("cuda:0", True, 3, "cuda:0"),
        (None, False, 1, "cpu"),  # torchrun without CUDA
    ],
)
def test_resolve_device(requested, gpus, local_rank, expected):
    assert resolve_device(requested, gpus=gpus, local_rank=local_rank) == expected


def _worker_device(tmp_path, monkeypatch, device, cuda: bool, local_rank: int = 1) -> list[str]:
    """The devices a torchrun worker (rank ``local_rank``) runs its units on, with a fake run_unit and CUDA."""
    config = RunConfig(suite="demo", models=("m",), device=device, results=str(tmp_path))
    plan = tmp_path / "plan.json"
    plan.write_text(
        json.dumps({"config": config.to_json(), "units": [{"model": "m", "task": "a"}, {"model": "m", "task": "b"}]})
    )
    seen = []
    monkeypatch.setattr(
        launchers, "run_unit", lambda unit, cfg, models=None: seen.append(cfg.device) or UnitOutcome(unit, "done")
    )
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    for name, value in (("RANK", local_rank), ("LOCAL_RANK", local_rank), ("WORLD_SIZE", 2)):
        monkeypatch.setenv(name, str(value))
    assert worker_main(str(plan)) == 0
    reported = json.loads((tmp_path / f"plan.json.rank{local_rank}.json").read_text())
    assert [r["unit"]["task"] for r in reported] == ["b"]  # rank 1 of 2 takes units 1::2
    return seen


def test_torchrun_worker_uses_its_gpu_by_default_and_keeps_an_explicit_cpu(tmp_path, monkeypatch):
    assert _worker_device(tmp_path, monkeypatch, None, cuda=True) == ["cuda:1"]
    assert _worker_device(tmp_path, monkeypatch, "cpu", cuda=True) == ["cpu"]
    assert _worker_device(tmp_path, monkeypatch, None, cuda=False) == ["cpu"]


class _FakeJob:
    def __init__(self, job_id, function, args):
        self.job_id, self.function, self.args = job_id, function, args

    def result(self):
        unit, config = self.args
        if unit.task == "dies":
            raise RuntimeError("Job 1002 (task: 0) with path ... has not produced any output (state: NODE_FAIL)")
        return UnitOutcome(unit, "done", message=f"device={config.device}").to_dict()


class _FakeExecutor:
    """submitit.AutoExecutor on a SLURM cluster, without one: records parameters and submissions."""

    instances: list = []

    def __init__(self, folder, cluster=None):
        self.cluster, self.parameters, self.jobs = "slurm", {}, []
        _FakeExecutor.instances.append(self)

    def update_parameters(self, **params):
        self.parameters.update(params)

    def submit(self, function, *args):
        self.jobs.append(_FakeJob(str(1001 + len(self.jobs)), function, args))
        return self.jobs[-1]

    def batch(self):
        import contextlib

        return contextlib.nullcontext()


@pytest.fixture
def fake_submitit(monkeypatch):
    _FakeExecutor.instances.clear()
    monkeypatch.setitem(sys.modules, "submitit", types.SimpleNamespace(AutoExecutor=_FakeExecutor))
    return _FakeExecutor.instances


@pytest.mark.parametrize(
    "device, gpus, expected", [(None, 1, "cuda"), (None, 0, "cpu"), ("cpu", 2, "cpu"), ("cuda:1", 1, "cuda:1")]
)
def test_slurm_jobs_run_on_the_allocated_gpu_unless_told_otherwise(tmp_path, fake_submitit, device, gpus, expected):
    config = RunConfig(suite="demo", models=("m",), device=device, results=str(tmp_path))
    outcomes = launchers.launch_slurm(
        [Unit("m", "a")], config, LaunchOptions(slurm_gpus_per_node=gpus), lambda *_: None
    )
    assert fake_submitit[0].parameters["gpus_per_node"] == gpus
    assert [o.message for o in outcomes] == [f"device={expected}"]


def test_a_dead_slurm_job_is_a_failed_unit_named_with_its_job(tmp_path, fake_submitit, capsys):
    config = RunConfig(suite="demo", models=("m",), results=str(tmp_path))
    outcomes = launchers.launch_slurm([Unit("m", "a"), Unit("m", "dies")], config, LaunchOptions(), lambda *_: None)
    assert [o.status for o in outcomes] == ["done", "failed"]
    assert outcomes[1].message.startswith("job 1002: ") and "NODE_FAIL" in outcomes[1].message
