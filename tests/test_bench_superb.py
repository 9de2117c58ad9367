"""SUPERB through s3prl's own recipes (s3prl.problem classes) on the demo corpora; settings, device, errors, resume."""

import dataclasses
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import soundfile as sf
import torch
import yaml

from spear_bench.bench.scored_model import resolve_model
from spear_bench.bench.superb_runner import Upstream, run_superb_task
from spear_bench.demo.generate import generate_demo_data
from spear_bench.errors import ConfigError, DatasetError
from spear_bench.results.store import ResultsStore
from spear_bench.superb.problem import prepare_data
from spear_bench.superb.recipes import RECIPES, default_config, problem_class, protocol_of, run_config
from spear_bench.task_registry import load_suite

PROBLEM_TASKS = {
    "asr": "SuperbASR",
    "pr": "SuperbPR",
    "sf": "SuperbSF",
    "sv": "SuperbASV",
    "sd": "SuperbSD",
    "er": "SuperbER",
    "ic": "SuperbIC",
    "ks": "SuperbKS",
    "sid": "SuperbSID",
}


def _short(name, **protocol):
    spec = load_suite("demo_superb").task(name)
    return dataclasses.replace(spec, protocol=dataclasses.replace(spec.protocol, **protocol))


@pytest.fixture(scope="module")
def tiny_upstream():
    return Upstream(resolve_model("spear_tiny[random-init]"))


def test_the_nine_problem_tasks_declare_the_classes_own_settings():
    suite = load_suite("superb")
    for name, problem in PROBLEM_TASKS.items():
        spec = suite.task(name)
        assert spec.s3prl_problem == problem
        assert dataclasses.asdict(spec.protocol) == protocol_of(default_config(problem)), name


@pytest.mark.parametrize("name", sorted(PROBLEM_TASKS))
def test_run_config_is_the_class_default_plus_paths_upstream_and_device(tmp_path, name):
    spec = load_suite("superb").task(name)
    fold = RECIPES[name].folds(tmp_path)[0]
    config = run_config(spec, fold, tmp_path / "run", {"name": "spear_tiny"}, "cuda:1", 7, 0)
    default = default_config(PROBLEM_TASKS[name])
    filled = {"target_dir", "cache_dir", "prepare_data", "build_upstream", "device", "num_workers", "train"}
    assert {k: v for k, v in config.items() if k not in filled} == {k: v for k, v in default.items() if k not in filled}
    assert config["train"] == {**default["train"], "seed": 7}
    # only the corpus paths are filled in, and the parsing jobs (a run option, like num_workers) where taken
    assert set(config["prepare_data"]) - set(default["prepare_data"]) == (
        {"n_jobs"} if RECIPES[name].parsing_jobs else set()
    )
    assert config["prepare_data"].get("n_jobs", 1) == 1
    assert config["build_upstream"] == {"name": "spear_tiny"} and config["device"] == "cuda:1"
    if name == "ks":
        assert config["build_dataset"]["train"]["sox_effects"][-1] == ["gain", "-3.0"]  # s3prl's augmentation kept


def test_demo_tasks_change_only_the_schedule():
    for spec in [*load_suite("demo").tasks, *load_suite("demo_superb").tasks]:
        if spec.kind != "superb":
            continue
        real = load_suite("superb").task(spec.base_name)
        changed = {k for k, v in dataclasses.asdict(spec.protocol).items() if dataclasses.asdict(real.protocol)[k] != v}
        assert changed <= {"batch_size", "gradient_accumulate", "total_steps", "eval_step", "save_step"}, spec.name


def test_demo_corpora_are_read_by_s3prls_own_preparation(tmp_path, demo_root):
    suite = load_suite("demo_superb")
    for name in ("demo_ks", "demo_ic", "demo_sid", "demo_sv", "demo_er", "demo_sf", "demo_sd", "demo_asr", "demo_pr"):
        prepared = prepare_data(suite.task(name), demo_root, tmp_path / name)
        for fold, paths in prepared.items():  # (train, valid, [tests]); SuperbASV: (train, [trials])
            for csv in [p for entry in paths for p in (entry if isinstance(entry, list) else [entry])]:
                assert len(pd.read_csv(csv)) > 0, (name, fold, csv)
    ks = pd.read_csv(prepare_data(suite.task("demo_ks"), demo_root, tmp_path / "ks2")["test"][0])
    assert {"yes", "_unknown_", "_silence_"} <= set(ks["label"])
    pr = pd.read_csv(prepare_data(suite.task("demo_pr"), demo_root, tmp_path / "pr2")["test"][0])
    assert "AH0" in " ".join(pr["transcription"])  # s3prl's stressed phone set
    # SuperbASV: train, [trials]
    train, trials = prepare_data(suite.task("demo_sv"), demo_root, tmp_path / "sv2")["test"]
    sv_trials = pd.read_csv(trials[0])
    assert set(sv_trials["label"]) == {0, 1}
    train_secs = [sf.info(path).duration for path in pd.read_csv(train)["wav_path"]]
    assert min(train_secs) > 2.0  # SuperbASV drops training audio of 2 s or less


def test_task_without_recipe_names_the_s3prl_runner(tmp_path, tiny_upstream):
    with pytest.raises(ConfigError, match="run_downstream.py -m train -u spear_tiny -d quesst14_dtw"):
        run_superb_task(load_suite("superb").task("qbe"), tmp_path, tiny_upstream, None)


def test_missing_corpus_names_the_expected_path(tmp_path, tiny_upstream):
    with pytest.raises(DatasetError, match=str(tmp_path / "VoxCeleb1")):
        run_superb_task(load_suite("superb").task("sid"), tmp_path, tiny_upstream, None)


def test_missing_recipe_file_is_one_line_naming_path_and_task(tmp_path, tiny_upstream, monkeypatch):
    monkeypatch.setenv("SPEAR_BENCH_S3PRL_URL_BASE", "http://127.0.0.1:0")  # offline: s3prl's hosts refuse
    monkeypatch.setenv("SPEAR_BENCH_CACHE", str(tmp_path / "cache"))
    root = tmp_path / "IEMOCAP_full_release"
    for folder in [f"Session{n}" for n in range(1, 6)] + ["s3prl_iemocap_split"]:
        (root / folder).mkdir(parents=True)
    with pytest.raises(DatasetError) as error:
        run_superb_task(load_suite("superb").task("er"), tmp_path, tiny_upstream, None)
    message = str(error.value)
    assert "\n" not in message and "SUPERB task er" in message
    assert str(root / "s3prl_iemocap_split" / "Session1" / "train_meta_data.json") in message


def _fake_run(calls):
    def run(self, **config):
        calls.append(config)
        out = Path(config["target_dir"]) / "evaluate" / "valid_best" / "test"
        out.mkdir(parents=True)
        (out / "result.yaml").write_text(yaml.safe_dump({"accuracy": 0.5}))

    return run


def test_requested_device_reaches_s3prl(tmp_path, monkeypatch, demo_root):
    calls = []
    monkeypatch.setattr(problem_class("SuperbIC"), "run", _fake_run(calls))
    upstream = Upstream(resolve_model("spear_tiny[random-init]"), device="cuda:1")
    result = run_superb_task(load_suite("demo_superb").task("demo_ic"), demo_root, upstream, None)
    assert [c["device"] for c in calls] == ["cuda:1"] and result.scores == {"acc": 50.0}


@pytest.mark.slow
def test_everything_that_trains_lives_on_the_requested_device(tmp_path, tiny_upstream, monkeypatch, demo_root):
    base = problem_class("SuperbIC").__mro__[2]  # s3prl.problem.base.Problem
    evaluate, devices = base.evaluate, set()

    def recording(self, evaluate_conf, mode, task, *args, **kwargs):
        logs = evaluate(self, evaluate_conf, mode, task, *args, **kwargs)
        devices.update(t.device.type for t in [*task.parameters(), *task.buffers()])
        assert task.model.upstream.__class__.__name__ in ("S3PRLUpstream", "CachedUpstream")
        return logs

    monkeypatch.setattr(base, "evaluate", recording)
    spec = _short("demo_ic", total_steps=2, eval_step=2, save_step=2)
    result = run_superb_task(spec, demo_root, tiny_upstream, tmp_path / "cache")
    assert devices == {"cpu"} and 0 <= result.scores["acc"] <= 100


@pytest.mark.slow
def test_cache_gives_the_same_numbers_as_no_cache(tmp_path, tiny_upstream, demo_root):
    spec = _short("demo_sid", total_steps=2, eval_step=2, save_step=2)
    first = run_superb_task(spec, demo_root, tiny_upstream, tmp_path / "cache", runs_root=tmp_path / "a")
    assert first.details["features"] == "cached" and first.embed.misses > 0
    assert first.details["s3prl_problem"] == "SuperbSID"
    second = run_superb_task(spec, demo_root, tiny_upstream, tmp_path / "cache", runs_root=tmp_path / "b")
    assert second.embed.hits > 0
    uncached = run_superb_task(
        spec, demo_root, tiny_upstream, tmp_path / "cache", cache_budget_bytes=1, runs_root=tmp_path / "c"
    )
    assert uncached.details["features"] == "per batch"
    assert first.scores == second.scores == uncached.scores


@pytest.mark.slow
def test_a_half_finished_task_resumes_from_s3prls_checkpoint(tmp_path, tiny_upstream, monkeypatch, demo_root):
    spec = _short("demo_ic", total_steps=4, eval_step=2, save_step=2)
    problem = problem_class("SuperbIC")
    evaluate, calls = problem.evaluate, []

    def killed_at_second_validation(self, *args, **kwargs):
        calls.append(args[1])
        if calls.count("valid") == 2:
            raise KeyboardInterrupt  # the run dies after the step-2 checkpoint
        return evaluate(self, *args, **kwargs)

    monkeypatch.setattr(problem, "evaluate", killed_at_second_validation)
    with pytest.raises(KeyboardInterrupt):
        run_superb_task(spec, demo_root, tiny_upstream, None, runs_root=tmp_path / "runs")
    monkeypatch.setattr(problem, "evaluate", evaluate)
    load, loaded = problem.load_model_and_task, []
    monkeypatch.setattr(
        problem, "load_model_and_task", lambda self, d, **kw: loaded.append(str(d)) or load(self, d, **kw)
    )
    result = run_superb_task(spec, demo_root, tiny_upstream, None, runs_root=tmp_path / "runs")
    assert loaded[0].endswith("step_2") and 0 <= result.scores["acc"] <= 100
    checkpoint = next((tmp_path / "runs").rglob("train/step_2/model/state_dict.pt"))
    saved = torch.load(checkpoint, map_location="cpu")  # the frozen upstream's tensors are left out
    assert saved and not any(key.startswith("upstream.") for key in saved)
    monkeypatch.setattr(problem, "run", lambda self, **kw: pytest.fail("a finished fold ran again"))
    assert run_superb_task(spec, demo_root, tiny_upstream, None, runs_root=tmp_path / "runs").scores == result.scores


DEMO_MODELS = ("spear_base[random-init]", "wavlm_base_plus[random-init]")


@pytest.mark.slow
def test_demo_superb_suite_runs_every_task_for_both_demo_models(tmp_path, demo_root):
    """CI's SUPERB check: all 15 tasks through s3prl (9 s3prl.problem classes, 6 legacy-runner experts) for
    SPEAR Base and WavLM Base+ (random init), 0 failed."""
    results = tmp_path / "results"
    data_root = generate_demo_data(demo_root, legacy_superb=True, log=lambda *_: None)
    command = [
        sys.executable,
        "-m",
        "spear_bench",
        "run",
        "--suite",
        "demo_superb",
        "--model",
        ",".join(DEMO_MODELS),
        "--data-root",
        str(data_root),
        "--results",
        str(results),
        "--cache",
        str(tmp_path / "cache"),
        "--keep-checkpoints",
        "none",  # full-size heads of two Base models: 10 GB of checkpoints if every one stayed
        "--quiet",
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=3600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    tasks = [spec.name for spec in load_suite("demo_superb").tasks]
    assert f"units: {len(tasks) * len(DEMO_MODELS)} run, 0 already finished, 0 failed" in done.stdout
    rows = ResultsStore(results).rows()
    assert {(row.model, row.task) for row in rows if row.metric == load_suite("demo_superb").task(row.task).metric} == {
        (model, task) for model in DEMO_MODELS for task in tasks
    }
    runs = tmp_path / "cache" / "superb_runs"  # scored: no weights left, every score file kept
    assert not [p for p in runs.rglob("*") if p.suffix in (".pt", ".ckpt")]
    assert len(list(runs.rglob("result.yaml"))) >= 9 and len(list(runs.rglob("metrics.json"))) >= 6


@pytest.mark.slow
def test_a_scored_unit_keeps_only_its_tested_checkpoint_and_is_not_run_again(tmp_path, monkeypatch, demo_root):
    """--keep-checkpoints best (the default): once a unit is scored its resume points go, the checkpoint
    the scores came from stays, and a rerun reads the fold's result.yaml instead of training."""
    from spear_bench.bench.runner import RunContext
    from spear_bench.bench.superb_runner import SuperbRunner

    spec = _short("demo_ic", total_steps=4, eval_step=4, save_step=2)
    model = resolve_model("spear_tiny[random-init]")
    context = RunContext(data_root=demo_root, cache_dir=tmp_path / "cache", out_dir=tmp_path / "out")
    result = SuperbRunner().run(spec, model, context)
    (fold,) = result.details["folds"].values()
    train = Path(fold["target_dir"]) / "train"
    assert sorted(p.name for p in train.iterdir()) == ["tb", "valid_best"]  # step_2, step_4 pruned; tensorboard stays
    assert result.details["checkpoints"]["kept"] == "best" and result.details["checkpoints"]["freed_bytes"] > 0
    assert result.details["layer_weights"]  # read before the pruning
    problem = problem_class("SuperbIC")
    monkeypatch.setattr(problem, "run", lambda self, **kw: pytest.fail("a scored fold ran again"))
    assert SuperbRunner().run(spec, model, context).scores == result.scores
