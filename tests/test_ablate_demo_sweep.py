"""``spear-bench ablate`` on configs/ablate/demo_alpha.yaml as shipped: every variant pre-trained, scored and drawn.

A file of its own (not in test_ablate.py): at several minutes it is the longest test of the suite, and
pytest-xdist's --dist loadfile gives each file to one worker, so it runs beside the killed-sweep test
instead of after it.
"""

import os
import subprocess
import sys

import pytest

from spear_bench.paths import REPO_ROOT
from spear_bench.report.aggregate import measured_values
from spear_bench.report.plots import ABLATIONS, measured_series
from spear_bench.results.store import ResultsStore


@pytest.mark.slow
def test_the_demo_sweep_writes_three_variants_and_the_alpha_figure(tmp_path):
    """configs/ablate/demo_alpha.yaml as shipped (a few minutes on 2 cores), into temporary folders."""
    results, plots = tmp_path / "results", tmp_path / "plots"
    sweep = REPO_ROOT / "configs" / "ablate" / "demo_alpha.yaml"
    command = [sys.executable, "-m", "spear_bench", "ablate", "--config", str(sweep), "--quiet"]
    command += ["--work-dir", str(tmp_path / "work"), "--results", str(results), "--plots", str(plots)]
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "PYTHONPATH": str(REPO_ROOT),
        "SPEAR_BENCH_CACHE": str(tmp_path / "cache"),
        "SPEAR_BENCH_HOME": str(tmp_path),  # the demo data it generates goes here, not into the repository
    }
    run = subprocess.run(command, env=env, capture_output=True, text=True, timeout=1800, cwd=REPO_ROOT)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    series = measured_series(
        measured_values(ResultsStore(results).rows()), ABLATIONS["alpha"], ResultsStore(results).variant_scales()
    )
    tasks = {measure[0]: s for measure, s in series.items() if measure[1] in ("top1_acc", "pitch_acc")}
    assert {"demo_words", "demo_pitch"} <= set(tasks)
    for task in ("demo_words", "demo_pitch"):
        (line,) = tasks[task]
        assert set(line.points) == {"0", "0.5", "1"} and "20 steps" in line.label and "demo scale" in line.label
    assert (plots / "ablation_alpha.png").stat().st_size > 1000
