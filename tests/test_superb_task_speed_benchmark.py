"""benchmarks/superb_task_speed.py runs end to end (--quick: demo_superb's 2-step KS, SPEAR tiny; no speed asserted)."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from spear_bench.superb.problem import dumped_config
from spear_bench.task_registry import load_suite


@pytest.mark.slow
def test_superb_task_speed_quick_run_times_both_sides_and_compares_their_numbers(
    tmp_path, capsys, load_benchmark, demo_root
):
    benchmark = load_benchmark("superb_task_speed")
    work = tmp_path / "work"
    argv = ["--quick", "--threads", "1", "--data-root", str(demo_root), "--work-dir", str(work)]
    results = benchmark.main(argv)
    table = capsys.readouterr().out
    assert "ratio s3prl / spear-bench" in table and "numbers identical" in table
    assert results["problem"] == "SuperbKS" and results["total_steps"] == 2
    assert results["spear_bench_s"] > 0 and results["s3prl_s"] > 0 and results["ratio_s3prl_over_spear_bench"] > 0
    for side in ("spear_bench_result", "s3prl_result"):
        assert 0.0 <= results[side]["accuracy"] <= 1.0
    assert results["last_step"] == "step_2"
    # s3prl's own entry point ran on the config spear-bench dumped, in its own folder
    (ours,) = (work / "cache" / "superb_runs").glob("*/demo_ks-*")
    assert dumped_config(ours).is_file() and dumped_config(work / "s3prl_run").is_file()
    assert results["identical"] == (
        results["spear_bench_result"] == results["s3prl_result"]
        and results["head_max_abs_diff"] == 0.0
        and results["optimizer_max_abs_diff"] == 0.0
    )


def test_max_abs_diff_sees_a_changed_tensor_and_a_missing_one(load_benchmark):
    benchmark = load_benchmark("superb_task_speed")
    a = benchmark._tensors({"state": {0: {"exp_avg": torch.ones(3), "step": 2}}, "param_groups": [{"lr": 1e-4}]})
    b = benchmark._tensors({"state": {0: {"exp_avg": torch.ones(3), "step": 2}}, "param_groups": [{"lr": 1e-4}]})
    assert benchmark.max_abs_diff(a, b) == 0.0
    b["/state/0/exp_avg"] = torch.tensor([1.0, 1.5, 1.0])
    assert benchmark.max_abs_diff(a, b) == 0.5
    del b["/state/0/step"]
    assert benchmark.max_abs_diff(a, b) == float("inf")


def test_benchmark_task_is_ks_with_at_least_200_steps_and_only_its_schedule_changed():
    bench, real = load_suite("bench_superb").task("bench_ks"), load_suite("superb").task("ks")
    assert bench.base_name == "ks" and bench.layout.root == load_suite("demo_superb").task("demo_ks").layout.root
    ours, theirs = dataclasses.asdict(bench.protocol), dataclasses.asdict(real.protocol)
    assert {k for k in ours if ours[k] != theirs[k]} <= {
        "batch_size",
        "gradient_accumulate",
        "total_steps",
        "eval_step",
        "save_step",
    }
    assert bench.protocol.total_steps >= 200
