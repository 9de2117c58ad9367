"""kill -9 in the middle of a run, then rerun: nothing lost, nothing duplicated, cached embeddings reused."""

import collections
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from spear_bench.results.store import ResultsStore

TASKS = ("demo_ks", "demo_ic", "demo_sid")  # suite order: units run in this order


def _command(demo_root, results: Path, cache: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "spear_bench",
        "run",
        "--suite",
        "demo",
        "--model",
        "spear_tiny[random-init]",
        "--tasks",
        ",".join(TASKS),
        "--data-root",
        str(demo_root),
        "--results",
        str(results),
        "--cache",
        str(cache),
        "--quiet",
    ]


@pytest.mark.slow
def test_kill_mid_run_then_rerun_loses_and_duplicates_nothing(tmp_path, demo_root):
    results, cache = tmp_path / "results", tmp_path / "cache"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen(
        _command(demo_root, results, cache),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    units = results / "demo" / "spear_tiny_random-init_"
    second_corpus = cache / "superb"
    deadline = time.time() + 1200  # s3prl recipes on a busy 2-core machine: minutes per task
    # Kill once the first unit is stored and the second unit has cached some hidden states.
    while time.time() < deadline and process.poll() is None:
        done = list(units.glob("demo_ks__*.json")) if units.exists() else []
        partial = list(second_corpus.rglob("fluent_speech_commands_dataset/**/*.npz")) if second_corpus.exists() else []
        if done and partial:
            break
        time.sleep(0.05)
    assert process.poll() is None, (
        "the run finished before it could be killed: " + process.stdout.read().decode()[-2000:]
    )
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    first_unit = next(units.glob("demo_ks__*.json"))
    first_bytes, first_mtime = first_unit.read_bytes(), first_unit.stat().st_mtime_ns
    assert {r.task for r in ResultsStore(results).rows()} == {"demo_ks"}  # the interrupted unit left no rows

    rerun = subprocess.run(_command(demo_root, results, cache), env=env, capture_output=True, text=True, timeout=1800)
    assert rerun.returncode == 0, rerun.stdout[-2000:] + rerun.stderr[-2000:]
    assert "[skipped]  spear_tiny[random-init] / demo_ks" in rerun.stdout
    hits = int(rerun.stdout.split("embedding cache: ")[1].split(" hits")[0])
    assert hits > 0  # the killed unit's cached hidden states were reused
    assert first_unit.read_bytes() == first_bytes and first_unit.stat().st_mtime_ns == first_mtime

    rows = ResultsStore(results).rows()
    counts = collections.Counter((r.model, r.task, r.metric) for r in rows)
    assert set(counts) == {("spear_tiny[random-init]", t, "acc") for t in TASKS}
    assert set(counts.values()) == {1}
    assert len(list(units.glob("*.json"))) == len(TASKS)
    for path in units.glob("*.json"):
        json.loads(path.read_text())  # every unit file is whole
