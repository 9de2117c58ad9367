"""benchmarks/embed_speed.py runs end to end (--quick: tiny models, short inputs; no timing asserted)."""

from __future__ import annotations

import pytest


@pytest.mark.slow
def test_embed_speed_benchmark_quick_run_reports_speed_and_memory(capsys, load_benchmark):
    results = load_benchmark("embed_speed").main(["--quick", "--threads", "1"])
    table = capsys.readouterr().out
    assert "audio s / s" in table and "peak RSS" in table
    assert results["spear_x_realtime"] > 0 and results["wavlm_x_realtime"] > 0
    assert results["rounds"] >= 7 and results["spear"]["min"] <= results["spear"]["median"]
    assert results["ratio"]["min"] <= results["ratio_spear_over_wavlm"] <= results["ratio"]["max"]
    assert results["frames"] == 2000  # 40 s read from a WAV file, through the long-audio path (threshold 30 s)
    assert [round(r["audio_s"]) for r in results["long_audio"]] == [40, 60]
    assert results["peak_rss_mib"] >= results["rss_model_mib"] > 0 and results["input_mib"] > 0
