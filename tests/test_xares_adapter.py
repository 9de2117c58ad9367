"""The X-ARES adapter (spear_bench/xares_adapter.py) against xares 0.1.3's own loader and encoder check."""

import json
import os
import subprocess
import sys
import textwrap

import pytest
import torch
from _upstreams_tiny import TINY_OVERRIDES

from spear_bench.xares_adapter import SpearBenchXaresEncoder


def test_adapter_exposes_the_xares_contract():
    encoder = SpearBenchXaresEncoder(model="dasheng_base", overrides=TINY_OVERRIDES["dasheng_base"])
    assert (encoder.sampling_rate, encoder.hop_size_in_ms, encoder.output_dim) == (16000, 40.0, 32)
    with torch.no_grad():
        out = encoder(torch.randn(2, 50000))
    assert out.shape == (2, 78, 32) and out.dtype == torch.float32  # 3125 ms / 40 ms


def test_adapter_reads_its_model_and_layer_from_the_environment(monkeypatch):
    monkeypatch.setenv("SPEAR_BENCH_XARES_MODEL", "usad_large")
    monkeypatch.setenv("SPEAR_BENCH_XARES_LAYER", "all")
    encoder = SpearBenchXaresEncoder(overrides=TINY_OVERRIDES["usad_large"])
    assert encoder.model_name == "usad_large" and encoder.output_dim == 4 * 32 and encoder.hop_size_in_ms == 20.0


@pytest.mark.slow
@pytest.mark.parametrize("model", ["spear_base", "usad_base"])
def test_xares_loads_and_accepts_the_adapter_outside_the_repository(model, tmp_path):
    # As `python -m xares.run spear_bench/xares_adapter.py ...` does: load the one *Encoder
    # attribute of the file, build it with no arguments, run xares' check_audio_encoder.
    # Run from outside the checkout: xares' top-level `tasks` package and our tasks/ folder
    # would otherwise share a namespace.
    script = textwrap.dedent("""
        import json, tasks
        from xares.utils import attr_from_py_path
        from xares.audio_encoder_checker import check_audio_encoder
        encoder_class = attr_from_py_path("spear_bench/xares_adapter.py", endswith="Encoder")
        encoder = encoder_class()
        print(json.dumps({"class": encoder_class.__name__, "ok": check_audio_encoder(encoder),
                          "model": encoder.model_name, "tasks": list(tasks.__path__)}))
    """)
    env = {**os.environ, "SPEAR_BENCH_XARES_MODEL": model, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["class"] == "SpearBenchXaresEncoder" and result["ok"] is True and result["model"] == model
    assert all("site-packages" in path for path in result["tasks"])  # only xares' tasks package is seen
