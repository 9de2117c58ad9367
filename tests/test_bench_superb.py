"""SUPERB through s3prl's S3PRLUpstream + Featurizer + heads on the demo corpora; readers; errors."""

import dataclasses

import numpy as np
import pytest
import soundfile as sf
from test_demo_data import demo_root  # tests/ is on sys.path (pytest rootdir-relative import)

from spear_bench.bench.scored_model import resolve_model
from spear_bench.bench.superb_data import read_dataset
from spear_bench.bench.superb_runner import Upstream, run_superb_task
from spear_bench.errors import ConfigError, DatasetError
from spear_bench.task_registry import load_suite


def _short(name, **protocol):
    spec = load_suite("demo").task(name)
    return dataclasses.replace(spec, protocol=dataclasses.replace(spec.protocol, **protocol))


@pytest.fixture(scope="module")
def tiny_upstream():
    return Upstream(resolve_model("spear_tiny[random-init]"))


def test_utterance_task_trains_weighted_sum_and_caches_hidden_states(tmp_path, tiny_upstream):
    spec = _short("demo_sid", total_steps=6, eval_step=3, batch_size=8)
    first = run_superb_task(spec, demo_root(), tiny_upstream, tmp_path / "cache")
    assert set(first.scores) == {"acc"} and 0 <= first.scores["acc"] <= 100
    details = first.details["folds"]["test"]
    assert len(details["layer_weights"]) == 10 and sum(details["layer_weights"]) == pytest.approx(1.0)
    assert [h["step"] for h in details["history"]] == [3, 6]
    assert (first.embed.hits, first.embed.misses) == (0, 36) and first.details["features"] == "cached"
    second = run_superb_task(spec, demo_root(), tiny_upstream, tmp_path / "cache")
    assert (second.embed.hits, second.embed.misses) == (36, 0)
    assert second.scores == first.scores


@pytest.mark.slow
def test_ctc_phone_task_reports_per(tmp_path, tiny_upstream):
    spec = _short("demo_pr", total_steps=4, eval_step=2)
    result = run_superb_task(spec, demo_root(), tiny_upstream, tmp_path / "cache")
    assert set(result.scores) == {"per"} and result.scores["per"] >= 0


@pytest.mark.slow
def test_hidden_states_are_computed_per_batch_above_the_cache_budget(tmp_path, tiny_upstream):
    spec = _short("demo_ic", total_steps=2, eval_step=2)
    result = run_superb_task(spec, demo_root(), tiny_upstream, tmp_path / "cache", cache_budget_bytes=1)
    assert result.details["features"] == "per batch" and not (tmp_path / "cache").exists()


def test_task_without_runner_points_at_s3prl(tmp_path, tiny_upstream):
    with pytest.raises(ConfigError, match="run_downstream.py -m train -u spear_tiny -d quesst14_dtw"):
        run_superb_task(load_suite("superb").task("qbe"), tmp_path, tiny_upstream, None)


def test_missing_corpus_names_the_expected_path(tmp_path, tiny_upstream):
    with pytest.raises(DatasetError, match=str(tmp_path / "VoxCeleb1")):
        run_superb_task(load_suite("superb").task("sid"), tmp_path, tiny_upstream, None)


def _write_iemocap(root):
    rng = np.random.default_rng(0)
    emotions = ["neu", "hap", "exc", "ang", "sad", "fru"]
    for n in range(1, 6):
        dialog = f"Ses0{n}F_impro01"
        lines = []
        for u, emo in enumerate(emotions):
            utt = f"{dialog}_F{u:03d}"
            wav = root / f"Session{n}" / "sentences" / "wav" / dialog / f"{utt}.wav"
            wav.parent.mkdir(parents=True, exist_ok=True)
            sf.write(str(wav), rng.normal(size=1600).astype(np.float32) * 0.1, 16000)
            lines.append(f"[{u}.0000 - {u + 1}.0000]\t{utt}\t{emo}\t[2.5000, 2.5000, 2.5000]")
        labels = root / f"Session{n}" / "dialog" / "EmoEvaluation" / f"{dialog}.txt"
        labels.parent.mkdir(parents=True, exist_ok=True)
        labels.write_text("% header\n\n" + "\n".join(lines) + "\n")


def test_iemocap_reader_merges_excited_into_happy_and_holds_out_sessions(tmp_path):
    _write_iemocap(tmp_path)
    folds = read_dataset("iemocap", tmp_path)
    assert [f.fold for f in folds] == [f"fold{n}" for n in range(1, 6)]
    assert folds[0].classes == [["ang", "hap", "neu", "sad"]]
    test_keys = {i.key for i in folds[2].splits["test"]}
    assert all(k.startswith("Ses03") for k in test_keys) and len(test_keys) == 5  # 'fru' is dropped
    assert [i.target[0] for i in folds[0].splits["test"]].count("hap") == 2
    train_dev = {i.key for i in folds[2].splits["train"]} | {i.key for i in folds[2].splits["dev"]}
    assert not train_dev & test_keys and len(train_dev) == 20


def test_voxceleb_listed_file_missing_names_it(tmp_path):
    (tmp_path / "wav" / "id10001" / "v").mkdir(parents=True)
    (tmp_path / "iden_split.txt").write_text("1 id10001/v/00001.wav\n")
    with pytest.raises(DatasetError, match="id10001/v/00001.wav"):
        read_dataset("voxceleb1_iden", tmp_path)
