"""benchmarks/embed_speed.py runs end to end (--quick: tiny models, short inputs; no timing asserted)."""
from __future__ import annotations

import pytest


@pytest.mark.slow
def test_embed_speed_benchmark_quick_run_reports_speed_and_memory(capsys, load_benchmark):
    results = load_benchmark("embed_speed").main(["--quick", "--threads", "1"])
    table = capsys.readouterr().out
    assert "audio s / s" in table and "peak RSS" in table
    assert results["spear_x_realtime"] > 0 and results["wavlm_x_realtime"] > 0
    assert results["frames"] == 2000  # 40 s through the long-audio path (threshold 30 s)
    assert results["peak_rss_mib"] >= results["peak_rss_model_mib"] > 0
