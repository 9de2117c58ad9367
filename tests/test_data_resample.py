"""HEAR tasks at the rate they are published (48000 Hz): 16000/ made once with hear-preprocess's resampler.

The slow tests are the acceptance: a task folder with only 48000/ runs with ``spear-bench run``,
and with heareval's own runners after ``spear-bench data resample``, which read the very files
spear-bench embedded (heareval's embeddings equal spear-bench's cached ones up to float32 rounding).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr
from test_heareval_runners import _run

from spear_bench.bench.hear_data import read_task
from spear_bench.bench.scored_model import HearModelHandle, resolve_model
from spear_bench.cli import main as cli_main
from spear_bench.datasets import hear_resample
from spear_bench.datasets.hear_resample import make_rate, resample_wave
from spear_bench.errors import DatasetError
from spear_bench.hashing import file_hash
from spear_bench.task_registry import load_suite


def published_copy(demo: Path, spec_name: str, root: Path) -> Path:
    """The demo task as the HEAR download holds a task: its files and 48000/ audio only (made with libsoxr HQ)."""
    spec = load_suite("demo").task(spec_name)
    source = demo / spec.folder
    folder = root / spec.folder
    folder.mkdir(parents=True)
    for path in source.iterdir():
        if path.is_file():
            shutil.copy(path, folder / path.name)
    for wav in sorted((source / "16000").rglob("*.wav")):
        wave, rate = sf.read(str(wav), dtype="float32")
        target = folder / "48000" / wav.relative_to(source / "16000")
        target.parent.mkdir(parents=True, exist_ok=True)
        up = np.clip(np.rint(soxr.resample(wave, rate, 48000, quality="HQ") * 32768), -32768, 32767).astype(np.int16)
        sf.write(str(target), up, 48000, subtype="PCM_16")
    return folder


def test_resample_wave_is_libsoxr_hq_and_keeps_a_tone():
    t = np.arange(48000) / 48000
    tone = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    out = resample_wave(tone, 48000, 16000)
    assert out.dtype == np.float32 and out.shape == (16000,)
    np.testing.assert_array_equal(out, soxr.resample(tone, 48000, 16000, quality="HQ"))
    expected = 0.5 * np.sin(2 * np.pi * 440 * np.arange(16000) / 16000)
    assert np.abs(out[200:-200] - expected[200:-200]).max() < 1e-3  # HQ: pass band flat, no delay


def test_pcm16_is_written_as_ffmpeg_converts_floats(tmp_path):
    source = tmp_path / "in.wav"
    sf.write(str(source), np.array([0.0, 0.25, -0.5, 0.99997, -1.0] * 9600, dtype=np.float32), 48000, subtype="PCM_16")
    hear_resample.resample_file(source, tmp_path / "out.wav", 16000)
    info = sf.info(str(tmp_path / "out.wav"))
    assert (info.samplerate, info.subtype, info.frames) == (16000, "PCM_16", 16000)
    wave, _ = sf.read(str(source), dtype="float32")
    ours, _ = sf.read(str(tmp_path / "out.wav"), dtype="int16")
    expected = np.clip(np.rint(resample_wave(wave, 48000, 16000).astype(np.float64) * 32768), -32768, 32767)
    np.testing.assert_array_equal(ours, expected.astype(np.int16))


def test_a_task_with_only_48000_gets_16000_beside_it_once(tmp_path, demo_root):
    folder = published_copy(demo_root, "demo_words", tmp_path)
    spec = load_suite("demo").task("demo_words")
    task = read_task(spec, tmp_path)
    assert task.audio_root == folder / "16000"
    files = sorted((folder / "16000").rglob("*.wav"))
    assert len(files) == 60 and not (folder / "16000.partial").exists()
    info = sf.info(str(files[0]))
    assert (info.samplerate, info.subtype, info.duration) == (16000, "PCM_16", 1.0)
    provenance = json.loads((folder / "16000.resampled.json").read_text())
    assert provenance["source_rate"] == 48000 and "libsoxr HQ" in provenance["resampler"]
    stamps = [f.stat().st_mtime_ns for f in files]
    read_task(spec, tmp_path)  # made once: the second read writes nothing
    assert [f.stat().st_mtime_ns for f in files] == stamps


def test_a_killed_resampling_resumes_and_keeps_the_files_written(tmp_path, demo_root):
    folder = published_copy(demo_root, "demo_pitch", tmp_path)
    partial = folder / "16000.partial" / "train"
    partial.mkdir(parents=True)
    done = partial / "pitch_48_0.wav"
    hear_resample.resample_file(folder / "48000" / "train" / done.name, done, 16000)
    stamp = done.stat().st_mtime_ns
    result = make_rate(folder, 16000)
    assert result.files == 119 and result.source_rate == 48000
    assert (folder / "16000" / "train" / done.name).stat().st_mtime_ns == stamp


def test_a_read_only_task_folder_is_resampled_under_the_cache(tmp_path, monkeypatch, demo_root):
    folder = published_copy(demo_root, "demo_words", tmp_path / "data")
    monkeypatch.setattr(hear_resample, "_writable", lambda path: False)  # root ignores permission bits
    task = read_task(load_suite("demo").task("demo_words"), tmp_path / "data", resample_cache=tmp_path / "cache")
    assert not (folder / "16000").exists()
    assert task.audio_root.parent.parent == tmp_path / "cache" and task.audio_root.name == "16000"
    assert task.audio_path("test", next(iter(task.split_items["test"]))).is_file()
    with pytest.raises(DatasetError, match="read-only; spear-bench data resample --to DIR"):
        read_task(load_suite("demo").task("demo_words"), tmp_path / "data")


def test_a_task_without_any_rate_folder_names_what_is_expected(tmp_path, demo_root):
    folder = published_copy(demo_root, "demo_words", tmp_path)
    shutil.rmtree(folder / "48000")
    with pytest.raises(DatasetError, match=r"expected audio folder .*/16000 or a HEAR rate folder to make it from"):
        read_task(load_suite("demo").task("demo_words"), tmp_path)


def test_data_resample_to_another_folder_copies_the_task_files(tmp_path, demo_root):
    folder = published_copy(demo_root, "demo_words", tmp_path / "ro")
    out = tmp_path / "rw"
    args = ["data", "resample", "--suite", "demo", "--tasks", "demo_words", "--data-root", str(tmp_path / "ro")]
    assert cli_main([*args, "--to", str(out)]) == 0
    assert not (folder / "16000").exists()
    assert read_task(load_suite("demo").task("demo_words"), out).audio_root == out / folder.name / "16000"


@pytest.mark.slow
def test_a_48000_only_task_runs_with_spear_bench_and_with_heareval_after_data_resample(tmp_path, demo_root):
    spec = load_suite("demo").task("demo_pitch")
    # 1. spear-bench run on the task as published: 16000/ is made on the way, the unit finishes
    published_copy(demo_root, "demo_pitch", tmp_path / "run")
    run = ["run", "--suite", "demo", "--tasks", "demo_pitch", "--model", "spear_tiny[random-init]", "--quiet"]
    common = ["--results", str(tmp_path / "results"), "--cache", str(tmp_path / "cache")]
    assert cli_main([*run, "--data-root", str(tmp_path / "run"), *common]) == 0
    rows = list((tmp_path / "results" / "demo").rglob("demo_pitch__*.json"))
    assert len(rows) == 1 and any(r["metric"] == "pitch_acc" for r in json.loads(rows[0].read_text()))
    # 2. data resample on a second copy writes the same bytes; heareval's runners read them unpatched
    folder = published_copy(demo_root, "demo_pitch", tmp_path / "tasks")
    args = ["data", "resample", "--suite", "demo", "--tasks", "demo_pitch", "--data-root", str(tmp_path / "tasks")]
    assert cli_main(args) == 0
    ran = sorted((tmp_path / "run" / spec.folder / "16000").rglob("*.wav"))
    assert [p.read_bytes() for p in ran] == [
        (folder / "16000" / p.relative_to(tmp_path / "run" / spec.folder / "16000")).read_bytes() for p in ran
    ]
    embeddings = tmp_path / "embeddings"
    _run(
        [
            "-m", "heareval.embeddings.runner", "hear_spear", "--model-options", '{"model": "tiny"}',
            "--tasks-dir", str(tmp_path / "tasks"), "--embeddings-dir", str(embeddings),
        ],
        cwd=tmp_path,
    )  # fmt: skip
    embed_dir = embeddings / "hear_spear-model=tiny" / spec.folder  # heareval names it by the folder
    handle = HearModelHandle(resolve_model("spear_tiny[random-init]", "last"))
    (model_dir,) = (tmp_path / "cache" / "hear").glob(f"spear_tiny*__{handle.weights_hash[:16]}__last__*")
    task = read_task(spec, tmp_path / "tasks")
    compared = 0
    for split, items in task.split_items.items():
        for file in items:
            (entry,) = (model_dir / spec.name / split).glob(f"{file}.{file_hash(task.audio_path(split, file))}.npz")
            ours = np.load(entry)["embedding"]
            theirs = np.load(embed_dir / split / f"{file}.embedding.npy")
            # the same files: equal up to float32 rounding of differently sized batches (heareval's vs
            # spear-bench's); audio made another way moves embeddings by ~1e-2 (docs/data.md)
            np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-5)
            compared += 1
    assert compared == 120
    _run(["-m", "heareval.predictions.runner", str(embed_dir), "--grid", "faster", "--grid-points", "2"], cwd=tmp_path)
    scores = json.loads((embed_dir / "test.predicted-scores.json").read_text())
    assert 0.0 <= scores["test"]["test_pitch_acc"] <= 1.0
    assert os.path.isfile(embed_dir / "prediction-done.json")
