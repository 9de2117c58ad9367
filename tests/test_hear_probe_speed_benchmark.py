"""benchmarks/hear_probe_speed.py runs end to end (--quick: tiny task, 2 grid points, 6 epochs; no speed asserted)."""

from __future__ import annotations

import pytest


@pytest.mark.slow
def test_hear_probe_speed_benchmark_quick_run_times_both_probes(capsys, load_benchmark):
    results = load_benchmark("hear_probe_speed").main(["--quick", "--threads", "1"])
    table = capsys.readouterr().out
    assert "ratio heareval / spear-bench" in table
    assert results["heareval_s"] > 0 and results["spear_bench_s"] > 0
    assert results["ratio"] > 0
    assert 0.0 <= results["heareval_test_score"] <= 1.0
    assert 0.0 <= results["spear_bench_test_score"] <= 1.0
