"""`spear-bench finetune`: one-line errors for missing data, and the CPU demos end to end (slow)."""

import json
import subprocess
import sys

import pytest

import spear_bench  # noqa: F401
from spear_bench.cli import main
from spear_bench.results import ResultsStore


def _cli(args, tmp_path):
    env = {"SPEAR_BENCH_HOME": str(tmp_path), "OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"}
    return subprocess.run(
        [sys.executable, "-m", "spear_bench", *args], capture_output=True, text=True, env=env, timeout=300
    )


@pytest.mark.parametrize(
    "kind,expected",
    [("asr", "LibriSpeech folder not found"), ("audioset", "AudioSet folder not found")],
)
def test_missing_dataset_folder_is_one_line_naming_the_path(kind, expected, tmp_path):
    missing = tmp_path / "no_such_data"
    result = _cli(["finetune", kind, "--model", "spear_tiny[random-init]", "--data", str(missing), "--quiet"], tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and expected in lines[0] and str(missing) in lines[0]


def test_missing_librispeech_split_names_the_expected_folder(tmp_path):
    (tmp_path / "data" / "dev-clean").mkdir(parents=True)
    code = main(
        [
            "finetune",
            "asr",
            "--model",
            "spear_tiny[random-init]",
            "--data",
            str(tmp_path / "data"),
            "--out",
            str(tmp_path / "o"),
            "--quiet",
        ]
    )
    assert code == 2


def test_asr_without_data_or_demo_says_what_is_missing(capsys, tmp_path):
    assert main(["finetune", "asr", "--model", "spear_tiny[random-init]", "--out", str(tmp_path)]) == 2
    assert "--data is required" in capsys.readouterr().err


def test_demo_data_command_writes_librispeech_layout(tmp_path):
    assert main(["finetune", "demo-data", "asr", "--out", str(tmp_path / "ls")]) == 0
    assert (tmp_path / "ls" / "train-clean-100" / "100" / "1000" / "100-1000.trans.txt").exists()


@pytest.mark.slow
def test_demo_asr_finetune_overfits_the_generated_utterances(tmp_path, one_thread, monkeypatch):
    """Acceptance: spear_tiny + CTC on 6 espeak-ng utterances; train WER must fall far below 100 %."""
    monkeypatch.setenv("SPEAR_BENCH_HOME", str(tmp_path))
    code = main(["finetune", "asr", "--demo", "--out", str(tmp_path / "run"), "--quiet"])
    assert code == 0
    summary = json.loads((tmp_path / "run" / "results.json").read_text())
    before, after = summary["metrics_before"]["wer_train_clean_100"], summary["metrics"]["wer_train_clean_100"]
    print(f"demo ASR train WER: before {before:.1f} %, after {after:.1f} % ({summary['steps']} steps)")
    assert before >= 90.0
    assert after <= 30.0
    rows = ResultsStore(tmp_path / "results").table()
    assert set(rows["metric"]) == {"wer_train_clean_100", "wer_train_clean_100_step0"}


@pytest.mark.slow
def test_demo_tagging_finetune_beats_chance_map(tmp_path, one_thread, monkeypatch):
    """Acceptance: spear_tiny tagging of generated multi-label clips; mAP above random scores' mAP."""
    monkeypatch.setenv("SPEAR_BENCH_HOME", str(tmp_path))
    code = main(["finetune", "audioset", "--demo", "--out", str(tmp_path / "run"), "--quiet"])
    assert code == 0
    summary = json.loads((tmp_path / "run" / "results.json").read_text())
    model_map, chance = summary["metrics"]["mAP"], summary["metrics"]["chance_mAP"]
    print(
        f"demo tagging mAP {model_map:.1f} vs chance {chance:.1f} "
        f"(before fine-tuning {summary['metrics_before']['mAP']:.1f})"
    )
    assert model_map > chance + 15.0
    rows = ResultsStore(tmp_path / "results").table()
    assert set(rows["suite"]) == {"finetune"} and "mAP" in set(rows["metric"])


@pytest.mark.slow
def test_rnnt_finetune_runs_resumes_and_reuses_stored_results(tmp_path, one_thread, monkeypatch, capsys):
    """The RNN-T path end to end on a few steps: checkpoint, resume with more steps, store, skip when done."""
    monkeypatch.setenv("SPEAR_BENCH_HOME", str(tmp_path))
    run = [
        "finetune",
        "asr",
        "--demo",
        "--config",
        "demo_asr_rnnt",
        "--out",
        str(tmp_path / "run"),
        "--quiet",
        "--set",
        "eval_before=false",
    ]
    assert main(run + ["--steps", "2"]) == 0
    assert main(run + ["--steps", "4"]) == 0  # continues from step 2
    summary = json.loads((tmp_path / "run" / "results.json").read_text())
    assert summary["resumed_from_step"] == 2 and summary["steps"] == 4
    assert "wer_train_clean_100" in summary["metrics"]
    capsys.readouterr()
    assert main(run + ["--steps", "4"]) == 0
    assert "already in the results store" in capsys.readouterr().out
