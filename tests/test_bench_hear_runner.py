"""The HEAR protocol end to end on generated task folders: any HEAR module, k-fold, events, cache, predictions."""

import json
import sys

import numpy as np
import pytest

from spear_bench.bench.cache import EmbeddingCache
from spear_bench.bench.hear_runner import run_hear_task
from spear_bench.bench.probe import ProbeConfig
from spear_bench.bench.scored_model import HearModelHandle, resolve_model
from spear_bench.errors import ConfigError, DatasetError
from spear_bench.task_registry import load_suite

SMALL_PROBE = ProbeConfig(hidden_dim=32, max_epochs=12, check_val_every_n_epoch=3, patience=2)


@pytest.fixture
def tiny_hear(tmp_path, monkeypatch, tiny_hear_module_source):
    (tmp_path / "tiny_hear_module.py").write_text(tiny_hear_module_source)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield HearModelHandle(resolve_model("hear:tiny_hear_module"))
    sys.modules.pop("tiny_hear_module", None)


def _cache(tmp_path, handle):
    return EmbeddingCache(tmp_path / "cache", handle.spec.name, handle.weights_hash, "last")


def test_kfold_multilabel_task_scores_every_metric_and_saves_predictions(tmp_path, tiny_hear, demo_root):
    spec = load_suite("demo").task("demo_env")
    result = run_hear_task(spec, demo_root, tiny_hear, _cache(tmp_path, tiny_hear), SMALL_PROBE, tmp_path / "pred")
    assert set(result.scores) == set(spec.metrics)
    assert list(result.fold_scores) == ["fold00", "fold01", "fold02"]
    assert result.scores["mAP"] == pytest.approx(np.mean([s["mAP"] for s in result.fold_scores.values()]))
    assert 0 < result.scores["mAP"] <= 1
    saved = np.load(tmp_path / "pred" / "fold01.predictions.npz")
    assert saved["prediction"].shape == saved["target"].shape == (16, 4) and len(saved["files"]) == 16
    assert len(result.details["grid"]) == 8 and result.details["best_point"] in [
        {k: g[k] for k in ("hidden_layers", "initialization", "lr")} for g in result.details["grid"]
    ]


def test_rerun_computes_no_embeddings(tmp_path, tiny_hear, demo_root):
    spec = load_suite("demo").task("demo_words")
    first = run_hear_task(spec, demo_root, tiny_hear, _cache(tmp_path, tiny_hear), SMALL_PROBE)
    second = run_hear_task(spec, demo_root, tiny_hear, _cache(tmp_path, tiny_hear), SMALL_PROBE)
    assert (first.embed.misses, first.embed.hits) == (60, 0)
    assert (second.embed.misses, second.embed.hits) == (0, 60)
    assert second.scores == first.scores  # same embeddings, same seeded probe


@pytest.mark.slow
def test_event_task_scores_with_sed_eval_and_saves_events(tmp_path, tiny_hear, demo_root):
    spec = load_suite("demo").task("demo_events")
    result = run_hear_task(spec, demo_root, tiny_hear, _cache(tmp_path, tiny_hear), SMALL_PROBE, tmp_path / "pred")
    assert set(result.scores) == {"event_onset_200ms_fms", "segment_1s_er"}
    assert 0 <= result.scores["event_onset_200ms_fms"] <= 1 and result.scores["segment_1s_er"] >= 0
    events = json.loads((tmp_path / "pred" / "test.events.json").read_text())
    assert len(events) == 6  # every test file, with or without predicted events
    assert result.details["folds"]["test"]["postprocessing"]["median_filter_ms"] == 250


@pytest.mark.slow
def test_spear_tiny_through_hear_spear(tmp_path, demo_root):
    handle = HearModelHandle(resolve_model("spear_tiny[random-init]"))
    spec = load_suite("demo").task("demo_pitch")
    result = run_hear_task(spec, demo_root, handle, _cache(tmp_path, handle), SMALL_PROBE)
    assert (
        set(result.scores) == {"pitch_acc", "chroma_acc"} and result.scores["chroma_acc"] >= result.scores["pitch_acc"]
    )


def test_missing_audio_file_names_the_expected_path(tmp_path, tiny_hear, demo_root):
    import shutil

    spec = load_suite("demo").task("demo_words")
    root = tmp_path / "data"
    shutil.copytree(demo_root / spec.folder, root / spec.folder)
    victim = next((root / spec.folder / "16000" / "valid").iterdir())
    victim.unlink()
    with pytest.raises(DatasetError, match=str(victim)):
        run_hear_task(spec, root, tiny_hear, _cache(tmp_path, tiny_hear), SMALL_PROBE)


def test_malformed_label_file_is_a_one_line_error(tmp_path, tiny_hear, demo_root):
    import shutil

    spec = load_suite("demo").task("demo_words")
    root = tmp_path / "data"
    shutil.copytree(demo_root / spec.folder, root / spec.folder)
    (root / spec.folder / "test.json").write_text("{not json")
    with pytest.raises(DatasetError) as error:
        run_hear_task(spec, root, tiny_hear, _cache(tmp_path, tiny_hear), SMALL_PROBE)
    assert str(root / spec.folder / "test.json") in str(error.value) and "\n" not in str(error.value)


def test_not_a_hear_module_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="json"):
        HearModelHandle(resolve_model("hear:json")).load()
