"""`spear-bench data check`: the demo data root passes; each removed piece is named, with its source, and fails."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from spear_bench.cli import main as cli_main
from spear_bench.datasets.check import check_suite, render
from spear_bench.superb.downloads import URL_BASE_ENV
from spear_bench.superb.recipe_files import check_task_files
from spear_bench.task_registry import load_suite


@pytest.fixture
def demo_copy(tmp_path, demo_root) -> Path:
    """A copy of the generated demo data root (the shared one stays whole for the other tests)."""
    root = tmp_path / "demo"
    shutil.copytree(demo_root, root)
    return root


def test_the_demo_data_root_passes(demo_root, capsys):
    assert cli_main(["data", "check", "--suite", "demo", "--data-root", str(demo_root)]) == 0
    out = capsys.readouterr().out
    assert "7 task(s): 7 complete, 0 with missing pieces" in out
    for spec in load_suite("demo").tasks:
        assert f"{spec.name:<24} ok" in out


def test_a_removed_split_file_is_named_with_its_source_and_fails(demo_copy, capsys):
    folder = demo_copy / load_suite("demo").task("demo_words").folder
    (folder / "valid.json").unlink()
    assert cli_main(["data", "check", "--suite", "demo", "--data-root", str(demo_copy)]) == 2
    captured = capsys.readouterr()
    out = captured.out
    assert "error: 1 task(s) with missing pieces (listed above): demo_words" in captured.err
    assert f"missing split file: {folder / 'valid.json'}" in out
    assert "demo_words               MISSING 1" in out and "demo_pitch               ok" in out
    assert "from: generated on this machine" in out


def test_missing_audio_labels_and_vocabulary_are_each_reported(demo_copy):
    spec = load_suite("demo").task("demo_pitch")
    folder = demo_copy / spec.folder
    first = sorted((folder / "16000" / "test").iterdir())[0]
    first.unlink()
    (folder / "train.json").write_text((folder / "train.json").read_text().replace('"60"', '"not-a-pitch"', 1))
    (check,) = check_suite("demo", demo_copy, ["demo_pitch"])
    missing = {(p.what, p.path.name): p.detail for p in check.missing}
    assert missing[("audio files", "test")].startswith(f"1 of 24 listed in test.json, e.g. {first.name}")
    assert "not-a-pitch" in missing[("labels", "train.json")]
    (folder / "labelvocabulary.csv").unlink()
    (check,) = check_suite("demo", demo_copy, ["demo_pitch"])
    assert ("label vocabulary", "labelvocabulary.csv") in {(p.what, p.path.name) for p in check.missing}


def test_a_superb_recipe_file_missing_is_named_by_the_superb_runners_own_check(demo_copy, tmp_path, monkeypatch):
    # s3prl's copy cannot be fetched: nothing cached, and its URL points at a closed local port
    monkeypatch.setenv("SPEAR_BENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv(URL_BASE_ENV, "http://127.0.0.1:9")
    (demo_copy / "VoxCeleb1" / "iden_split.txt").unlink()
    (check,) = check_suite("demo", demo_copy, ["demo_sid"], recipe_check=check_task_files)
    (piece,) = check.missing
    assert (
        piece.what == "recipe files"
        and f"place the file at {demo_copy / 'VoxCeleb1' / 'iden_split.txt'}" in piece.detail
    )
    assert "voxceleb/meta/iden_split.txt" in piece.detail  # the URL s3prl's recipe downloads it from
    assert "robots.ox.ac.uk" not in check.source  # the demo corpora are generated, not downloaded


def test_a_published_hear_task_only_at_48000_counts_its_audio_there(demo_copy):
    spec = load_suite("demo").task("demo_env")
    folder = demo_copy / spec.folder
    (folder / "16000").rename(folder / "48000")  # the file names are what is checked, not the audio
    (check,) = check_suite("demo", demo_copy, ["demo_env"])
    assert not check.missing
    assert check.notes == ["16000/ is made from 48000/ on the first run (or: spear-bench data resample)"]


def test_an_empty_root_lists_every_task_and_where_it_is_published(tmp_path):
    hear = check_suite("hear", tmp_path)
    assert len(hear) == 18 and all(c.missing for c in hear)
    text = "\n".join(render(hear))
    assert (
        "spear-bench data fetch hear --tasks esc50 (Zenodo record 5887964: hear2021-esc50-v2.0.0-full-48000.tar.gz"
        in text
    )
    superb = check_suite("superb", tmp_path, recipe_check=check_task_files)
    assert len(superb) == 15 and all(c.missing for c in superb)
    assert "https://www.openslr.org/12" in next(c.source for c in superb if c.task == "asr")
