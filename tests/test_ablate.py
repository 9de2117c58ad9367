"""``spear-bench ablate``: sweep files, derived configs, shared targets, and a killed sweep that resumes."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from spear_bench.ablate import stages
from spear_bench.ablate.config import load_sweep
from spear_bench.ablate.execute import check_scored_model
from spear_bench.ablate.knobs import value_text
from spear_bench.ablate.variants import derive_config, targets_key, variant_dir, variants
from spear_bench.bench.launchers import LaunchOptions
from spear_bench.bench.orchestrate import Unit, UnitOutcome, format_outcome
from spear_bench.errors import ConfigError
from spear_bench.paths import REPO_ROOT
from spear_bench.pretrain.config import PretrainConfig, build_dataclass
from spear_bench.results.store import ResultsStore


def _base(tmp_path: Path, tiny_wavlm: dict) -> Path:
    values = {
        "work_dir": "ignored",
        "data": {"demo": {"num_speech": 4, "num_audio": 2, "num_noises": 1, "seed": 1}},
        "token_sets": [
            {
                "name": "speech",
                "teacher": {"name": "wavlm_large", "layer": 1, "random_init": True, "overrides": tiny_wavlm},
                "mvq": {"num_codebooks": 2, "phase_one_iters": 20, "phase_two_iters": 20, "batch_frames": 256},
                "kmeans": {"num_clusters": 16, "batch_size": 256, "n_init": 2},
            },
            {
                "name": "audio",
                "teacher": {
                    "name": "dasheng_1_2b",
                    "random_init": True,
                    "overrides": {"embed_dim": 32, "depth": 1, "num_heads": 2},
                },
                "mvq": {"num_codebooks": 2, "phase_one_iters": 20, "phase_two_iters": 20, "batch_frames": 256},
            },
        ],
        "model": {"size": "tiny", "seed": 0},  # scored as the registered spear_tiny: no architecture overrides
        "schedule": {"lr_steps": 50, "lr_epochs": 5, "warmup_steps": 2},
        "optim": {"clipping_update_period": 2},
        "train": {
            "max_steps": 6,
            "batch_duration": 8.0,
            "save_every": 2,
            "log_every": 1,
            "tensorboard": False,
            "seed": 3,
        },
    }
    path = tmp_path / "base.yaml"
    path.write_text(yaml.safe_dump(values))
    return path


def _sweep(tmp_path: Path, tiny_wavlm: dict, **extra) -> Path:
    values = {
        "name": "t",
        "base": str(_base(tmp_path, tiny_wavlm)),
        "knobs": {"alpha": [0.0, 1.0]},
        "seeds": [0],
        "score": {"suite": "demo", "tasks": ["demo_pitch"]},
        "work_dir": str(tmp_path / "work"),
        "results": str(tmp_path / "results"),
        "plots": str(tmp_path / "plots"),
        **extra,
    }
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(values))
    return path


def test_variants_are_named_by_their_knobs_and_derive_their_configs(tmp_path, tiny_wavlm):
    sweep = load_sweep(
        _sweep(
            tmp_path,
            tiny_wavlm,
            knobs={"alpha": [0.0, 0.5], "codebooks": [4]},
            seeds=[0, 1],
            overrides={"train": {"max_steps": 3}},
        )
    )
    found = variants(sweep)
    assert [v.name for v in found] == ["spear_tiny@alpha=0,codebooks=4"] * 2 + ["spear_tiny@alpha=0.5,codebooks=4"] * 2
    values = derive_config(sweep, found[3])
    config = build_dataclass(PretrainConfig, values, "derived")
    assert config.loss.alpha == 0.5 and config.token_set("speech").mvq.num_codebooks == 4
    assert config.token_set("audio").mvq.num_codebooks == 2  # only the speech token set is the `codebooks` knob
    assert config.train.max_steps == 3 and config.model.seed == 1 and config.train.seed == 4  # base seeds + 1
    assert Path(config.work_dir) == variant_dir(sweep, found[3]) and "alpha=0.5,codebooks=4" in config.work_dir


def test_targets_are_shared_unless_a_knob_changes_them(tmp_path, tiny_wavlm):
    sweep = load_sweep(_sweep(tmp_path, tiny_wavlm, knobs={"alpha": [0.0, 1.0], "target": ["mvq", "kmeans"]}))
    keys = {
        (dict(v.knobs)["alpha"], dict(v.knobs)["target"]): targets_key(derive_config(sweep, v)) for v in variants(sweep)
    }
    assert keys[(0.0, "mvq")] == keys[(1.0, "mvq")] != keys[(0.0, "kmeans")] == keys[(1.0, "kmeans")]


def test_value_text_matches_the_plot_convention():
    assert [value_text(v) for v in (0.0, 0.5, 1.0, 16, "kmeans")] == ["0", "0.5", "1", "16", "kmeans"]


@pytest.mark.parametrize(
    "change,message",
    [
        ({"knobs": {"beta": [1]}}, "unknown knob 'beta'"),
        ({"knobs": {"alpha": 0.5}}, "knobs.alpha: expected a non-empty list"),
        ({"base": "nope.yaml"}, "base pre-training config nope.yaml does not exist"),
        ({"colour": "red"}, "unknown key"),
    ],
)
def test_bad_sweep_files_are_one_line_errors_naming_the_file(tmp_path, change, message, tiny_wavlm):
    path = _sweep(tmp_path, tiny_wavlm, **change)
    with pytest.raises(ConfigError, match=message) as error:
        load_sweep(path)
    assert str(path) in str(error.value) and "\n" not in str(error.value)


def test_scoring_needs_the_registered_model_of_the_pretrained_architecture(tmp_path, tiny_wavlm):
    check_scored_model(load_sweep(_sweep(tmp_path, tiny_wavlm)))
    with pytest.raises(ConfigError, match="pre-train a tiny SPEAR, but are scored as 'spear_base'"):
        check_scored_model(load_sweep(_sweep(tmp_path, tiny_wavlm, model="spear_base")))
    with pytest.raises(ConfigError, match="with model.overrides"):
        check_scored_model(
            load_sweep(_sweep(tmp_path, tiny_wavlm, overrides={"model": {"overrides": {"encoder_dim": 48}}}))
        )


def test_a_knob_on_a_missing_token_set_is_a_config_error(tmp_path, tiny_wavlm):
    sweep = load_sweep(_sweep(tmp_path, tiny_wavlm, knobs={"audio_codebooks": [4]}))
    base = yaml.safe_load(Path(sweep.base).read_text())
    base["token_sets"] = base["token_sets"][:1]
    Path(sweep.base).write_text(yaml.safe_dump(base))
    with pytest.raises(ConfigError, match="token set named 'audio'"):
        derive_config(sweep, variants(sweep)[0])


def test_the_demo_sweep_file_loads_with_three_alpha_variants():
    sweep = load_sweep(REPO_ROOT / "configs" / "ablate" / "demo_alpha.yaml")
    assert [v.name for v in variants(sweep)] == ["spear_tiny@alpha=0", "spear_tiny@alpha=0.5", "spear_tiny@alpha=1"]
    assert len(sweep.score.tasks) == 2 and sweep.score.suite == "demo"
    assert len({targets_key(derive_config(sweep, v)) for v in variants(sweep)}) == 1


def _command(sweep: Path) -> list[str]:
    return [sys.executable, "-m", "spear_bench", "ablate", "--config", str(sweep), "--quiet"]


@pytest.mark.slow
def test_a_killed_sweep_resumes_without_redoing_finished_variants(tmp_path, demo_root, tiny_wavlm):
    sweep_file = _sweep(
        tmp_path, tiny_wavlm, score={"suite": "demo", "tasks": ["demo_pitch"], "data_root": str(demo_root)}
    )
    sweep = load_sweep(sweep_file)
    first, second = variants(sweep)
    first_done = variant_dir(sweep, first) / "done.json"
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "PYTHONPATH": str(REPO_ROOT),
        "SPEAR_BENCH_CACHE": str(tmp_path / "cache"),
    }
    process = subprocess.Popen(
        _command(sweep_file),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        cwd=tmp_path,
    )
    deadline = time.time() + 600
    while time.time() < deadline and process.poll() is None and not first_done.is_file():
        time.sleep(0.05)
    assert process.poll() is None, "finished before it could be killed: " + process.stdout.read().decode()[-2000:]
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert not (variant_dir(sweep, second) / "done.json").is_file()
    first_log = variant_dir(sweep, first) / "exp" / "log.jsonl"
    stamps = {p: p.stat().st_mtime_ns for p in (first_done, first_log)}

    rerun = subprocess.run(_command(sweep_file), env=env, capture_output=True, text=True, timeout=900, cwd=tmp_path)
    assert rerun.returncode == 0, rerun.stdout[-3000:] + rerun.stderr[-3000:]
    assert "[skipped]  targets spear_tiny@alpha=0 seed 0" in rerun.stdout
    assert "[skipped]  pretrain spear_tiny@alpha=0 seed 0" in rerun.stdout
    assert "[done]  pretrain spear_tiny@alpha=1 seed 0" in rerun.stdout
    assert all(p.stat().st_mtime_ns == stamp for p, stamp in stamps.items())  # the finished variant was not retrained
    steps = [json.loads(line)["step"] for line in first_log.read_text().splitlines()]
    assert steps == list(range(1, 7))

    rows = ResultsStore(sweep.results).rows()
    assert {(r.model, r.task) for r in rows if r.metric == "pitch_acc"} == {
        ("spear_tiny@alpha=0", "demo_pitch"),
        ("spear_tiny@alpha=1", "demo_pitch"),
    }
    scales = ResultsStore(sweep.results).variant_scales()
    assert set(scales) == {"spear_tiny@alpha=0", "spear_tiny@alpha=1"} and "6 steps" in scales["spear_tiny@alpha=0"]
    assert "demo scale" in scales["spear_tiny@alpha=0"]
    assert (Path(sweep.plots) / "ablation_alpha.png").stat().st_size > 1000

    again = subprocess.run(_command(sweep_file), env=env, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert again.returncode == 0 and "units: 0 run" in again.stdout, again.stdout[-2000:]


def test_pretraining_units_go_to_slurm_jobs_and_torchrun(tmp_path, monkeypatch, tiny_wavlm):
    """The launchers' plumbing (the training itself is the slow test's): one submitit job per unfinished
    variant (submitit's debug cluster runs them here), and one torchrun pre-training per variant."""
    sweep = load_sweep(_sweep(tmp_path, tiny_wavlm))
    trained = []
    monkeypatch.setattr(stages, "run_pretrain", lambda s, v, nproc=1, progress=True: trained.append(v.name) or "done")
    options = LaunchOptions(slurm_cluster="debug", slurm_folder=str(tmp_path / "slurm"))
    outcomes = stages.pretrain_all(sweep, variants(sweep), "slurm", options, log=lambda _: None, quiet=True)
    assert [o.status for o in outcomes] == ["done", "done"] and trained == ["spear_tiny@alpha=0", "spear_tiny@alpha=1"]

    commands = []
    monkeypatch.setattr(
        stages.subprocess, "run", lambda command: commands.append(command) or subprocess.CompletedProcess(command, 0)
    )
    monkeypatch.setattr(stages, "_mark_pretrained", lambda config, values, step: None)
    outcomes = stages.pretrain_all(
        sweep, variants(sweep), "torchrun", LaunchOptions(nproc=2), log=lambda _: None, quiet=True
    )
    assert [o.status for o in outcomes] == ["done", "done"]
    assert all("--nproc_per_node=2" in c and c[-4:-2] == ["pretrain", "--config"] for c in commands)
    assert commands[1][-2].endswith(str(Path("alpha=1") / "seed0" / "pretrain.yaml"))


def test_a_score_stage_shows_the_orchestrators_outcome_from_its_data(tmp_path, tiny_wavlm):
    """The score stage carries the orchestrator's outcome as data (scores, cache use) and shows what
    ``spear-bench run`` shows after the unit's label."""
    variant = variants(load_sweep(_sweep(tmp_path, tiny_wavlm)))[0]
    scored = UnitOutcome(Unit("m", "demo_words"), "done", 2.5, {"top1_acc": 0.5}, "top1_acc", 1, 3)
    outcome = stages.StageOutcome(stages.StageUnit("score", variant, "demo_words"), "done", 2.5, scored=scored)
    details = "top1_acc=0.5  2.5s  embeddings 3 computed, 1 cached"
    assert format_outcome(scored) == f"[done]  m / demo_words  {details}"
    assert stages.format_stage(outcome) == f"[done]  score {variant.label} [demo_words]  {details}"
    failed = stages.StageOutcome(stages.StageUnit("score", variant, "demo_words"), "failed", 1.0, "bad audio")
    assert stages.format_stage(failed) == f"[failed]  score {variant.label} [demo_words]  bad audio"
