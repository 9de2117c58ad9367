"""`spear-bench run ... --plan`: units, hours, cached embeddings, cache disk and a measured time estimate."""

from __future__ import annotations

import time

import pytest

from spear_bench.bench.launchers import execute
from spear_bench.bench.orchestrate import RunConfig
from spear_bench.bench.plan import estimated_seconds, plan_run, render_plan
from spear_bench.cli import main as cli_main

MODEL = "spear_tiny[random-init]"


def _config(tmp_path, demo_root, tasks=()) -> RunConfig:
    return RunConfig(
        suite="demo",
        models=(MODEL,),
        tasks=tuple(tasks),
        data_root=str(demo_root),
        results=str(tmp_path / "results"),
        cache=str(tmp_path / "cache"),
        quiet=True,
        device="cpu",
    )


def test_plan_prints_every_unit_and_runs_nothing(tmp_path, demo_root, capsys):
    args = ["run", "--suite", "demo", "--tasks", "demo_pitch,demo_ks", "--model", MODEL, "--plan"]
    args += ["--data-root", str(demo_root), "--results", str(tmp_path / "r"), "--cache", str(tmp_path / "c")]
    assert cli_main(args) == 0
    out = capsys.readouterr().out
    assert f"{MODEL} / demo_pitch" in out and f"{MODEL} / demo_ks" in out
    assert "0/120" in out and "0/18" in out  # nothing cached yet; the task's file counts
    assert "units: 2 (0 finished); estimated" in out
    assert not (tmp_path / "r").exists() and not (tmp_path / "c" / "hear").exists()


def test_plan_hours_come_from_the_audio_headers(tmp_path, demo_root):
    units, speeds, volumes = plan_run(_config(tmp_path, demo_root, ["demo_pitch"]), "cpu")
    (unit,) = units
    assert volumes["demo_pitch"].files == 120 and volumes["demo_pitch"].audio_s == pytest.approx(60.0)
    assert unit.audio_h == pytest.approx(60.0 / 3600) and unit.cache_bytes > 120 * speeds[MODEL].scene_dim * 2
    assert set(unit.parts) == {"load", "embed", "probe"} and unit.estimate_s == pytest.approx(sum(unit.parts.values()))


@pytest.mark.slow
def test_plan_estimate_for_the_demo_suite_is_within_2x_of_the_measured_time(tmp_path, demo_root, capsys):
    config = _config(tmp_path, demo_root)
    units, speeds, _ = plan_run(config, "cpu")
    estimate = estimated_seconds(units)
    start = time.perf_counter()
    outcomes = execute(config, "local", log=lambda *_: None)
    measured = time.perf_counter() - start
    assert [o.status for o in outcomes] == ["done"] * 7
    with capsys.disabled():
        print(f"\ndemo suite, {MODEL}, cpu: plan estimate {estimate:.1f} s, measured {measured:.1f} s")
        for line in render_plan(units, speeds, "cpu"):
            print(line)
        for o in outcomes:
            print(f"  measured {o.unit.label}: {o.seconds:.1f} s")
    assert estimate / 2 <= measured <= estimate * 2
    # afterwards: every unit finished, every HEAR embedding cached
    after, _, _ = plan_run(config, "cpu")
    assert all(u.finished for u in after) and estimated_seconds(after) == 0
    assert all(u.cached == u.files for u in after if u.task in {"demo_words", "demo_env", "demo_events", "demo_pitch"})
    assert all(u.cached > 0 for u in after if u.task in {"demo_ks", "demo_ic", "demo_sid"})  # hidden states
