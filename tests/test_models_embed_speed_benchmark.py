"""benchmarks/embed_speed.py runs end to end (--quick: tiny models, short inputs; no timing asserted)."""
from __future__ import annotations

import importlib.util

import pytest

from spear_bench.paths import REPO_ROOT


@pytest.mark.slow
def test_embed_speed_benchmark_quick_run_reports_speed_and_memory(capsys):
    spec = importlib.util.spec_from_file_location("embed_speed", REPO_ROOT / "benchmarks" / "embed_speed.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    results = module.main(["--quick", "--threads", "1"])
    table = capsys.readouterr().out
    assert "audio s / s" in table and "peak RSS" in table
    assert results["spear_x_realtime"] > 0 and results["wavlm_x_realtime"] > 0
    assert results["frames"] == 2000  # 40 s through the long-audio path (threshold 30 s)
    assert results["peak_rss_mib"] >= results["peak_rss_model_mib"] > 0
