"""A bad day loses nothing (issue 25): interrupts, changed data, damaged files, full disks, wrong options.

Each case asserts the exact one-line message, the exit code, and that nothing finished was
lost. The model is ``spear_tiny[random-init]``; the data are the demo suite's smallest HEAR
tasks (``demo_pitch``: 120 tones, ``demo_env``: 48 sounds), copied from the session's
generated demo tree (``demo_root``). One finished run (``finished``, module-scoped) is copied by
every case that starts from a finished store, so most cases rerun through the store and the
embedding cache instead of computing. Interrupts are real signals sent to a real ``python -m spear_bench`` process.
``{tmp}`` in an expected message stands for the case's folder.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from spear_bench import interrupts
from spear_bench.atomic_io import atomic_write_with
from spear_bench.bench import cache as cache_module
from spear_bench.bench import hear_runner, launchers, preflight
from spear_bench.cli import main
from spear_bench.demo import generate as demo_generate
from spear_bench.results.store import ResultsStore
from spear_bench.train.checkpoint import save_checkpoint

MODEL = "spear_tiny[random-init]"
MODEL_DIR = "spear_tiny_random-init_"  # the model's folder in the store
PITCH, ENV = "demo_pitch-v1-full", "demo_env-v1-full"
RERUN = "what finished is kept, and rerunning the same command resumes from there"


# --- shared set-up -------------------------------------------------------------------------------


def _copy_task(demo_root: Path, folder: str, data: Path) -> Path:
    shutil.copytree(demo_root / folder, data / folder)
    return data / folder


def _cli(capsys, *argv) -> tuple[int, list[str], list[str]]:
    """``spear-bench ARGV`` in this process: exit code, stdout lines, stderr lines."""
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out.splitlines(), captured.err.splitlines()


def _run_args(root: Path, *extra, tasks: str = "demo_pitch") -> list:
    return [
        "run",
        "--suite",
        "demo",
        "--model",
        MODEL,
        "--tasks",
        tasks,
        "--data-root",
        root / "data",
        "--results",
        root / "results",
        "--cache",
        root / "cache",
        "--quiet",
        *extra,
    ]


def _unit_files(root: Path) -> list[Path]:
    return sorted((root / "results" / "demo" / MODEL_DIR).glob("*.json"))


def _unit_line(lines: list[str], task: str) -> str:
    return next(line for line in lines if f"/ {task}" in line)


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    """Torch on one thread for this module: the tiny model only pays synchronisation for more (on a loaded
    2-core machine, 100 clips took 109 s on 2 threads and 5 s on one)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def finished(tmp_path_factory, demo_root) -> Path:
    """A finished run of demo_pitch and demo_env: data/, results/ (two units), cache/ (168 embeddings)."""
    root = tmp_path_factory.mktemp("finished")
    _copy_task(demo_root, PITCH, root / "data")
    _copy_task(demo_root, ENV, root / "data")
    assert main([str(a) for a in _run_args(root, tasks="demo_pitch,demo_env")]) == 0
    assert len(_unit_files(root)) == 2
    return root


@pytest.fixture
def day(finished, tmp_path) -> Path:
    """A copy of the finished run for one case to damage."""
    for name in ("data", "results", "cache"):
        shutil.copytree(finished / name, tmp_path / name)
    return tmp_path


def _pitch_unit(root: Path) -> Path:
    return next(p for p in _unit_files(root) if p.name.startswith("demo_pitch__"))


# --- the unit key: changed data reruns, unchanged data is skipped without reading the audio ---------


def test_relabelled_test_split_and_new_audio_rerun_the_unit(day, capsys):
    task = day / "data" / PITCH
    labels = json.loads((task / "test.json").read_text())
    (task / "test.json").write_text(json.dumps({file: ["48"] for file in labels}))  # every test clip relabelled
    replaced = sorted(labels)[:3]
    for file in replaced:  # and three clips' audio replaced
        sf.write(task / "16000" / "test" / file, 0.05 * np.ones(8000, dtype=np.float32), 16000, subtype="FLOAT")
    old_unit = _pitch_unit(day)
    before = old_unit.read_text()
    code, out, _ = _cli(capsys, *_run_args(day))
    assert code == 0
    assert _unit_line(out, "demo_pitch").startswith("[done]")
    assert "embeddings 3 computed, 117 cached" in _unit_line(out, "demo_pitch")
    assert len(_unit_files(day)) == 3 and old_unit.read_text() == before  # the old unit is kept beside the new


def test_a_changed_label_vocabulary_reruns_the_unit(day, capsys):
    vocabulary = day / "data" / PITCH / "labelvocabulary.csv"
    lines = vocabulary.read_text().splitlines()
    vocabulary.write_text("\n".join(lines[:1] + lines[2:] + lines[1:2]) + "\n")  # the same labels, new indices
    code, out, _ = _cli(capsys, *_run_args(day))
    assert code == 0 and _unit_line(out, "demo_pitch").startswith("[done]")


def test_unchanged_data_is_skipped_without_hashing_a_file_again(day, capsys, monkeypatch):
    assert _cli(capsys, *_run_args(day))[0] == 0  # the copy's files are new to the memo (other paths and inodes)
    hashed = []
    monkeypatch.setattr(cache_module, "file_hash", lambda path: hashed.append(path) or "x")
    code, out, _ = _cli(capsys, *_run_args(day))
    assert code == 0
    assert _unit_line(out, "demo_pitch").startswith("[skipped]") and hashed == []  # size, mtime, inode: remembered


def test_a_touched_clip_is_hashed_again_and_the_same_content_still_skips(day, capsys, monkeypatch):
    assert _cli(capsys, *_run_args(day))[0] == 0  # the memo learns the copy's files
    clip = next((day / "data" / PITCH / "16000" / "train").iterdir())
    os.utime(clip, ns=(time.time_ns(), time.time_ns() + 10**9))
    hashed = []
    original = cache_module.file_hash
    monkeypatch.setattr(cache_module, "file_hash", lambda path: hashed.append(Path(path).name) or original(path))
    code, out, _ = _cli(capsys, *_run_args(day))
    assert code == 0 and _unit_line(out, "demo_pitch").startswith("[skipped]") and hashed == [clip.name]


def test_a_damaged_file_hash_memo_is_moved_aside_and_rebuilt(day, capsys):
    memo = day / "cache" / "hear" / "file_hashes.sqlite"
    memo.write_bytes(b"not a database" * 100)
    code, out, err = _cli(capsys, *_run_args(day))
    assert code == 0 and _unit_line(out, "demo_pitch").startswith("[skipped]")
    [kept] = memo.parent.glob("file_hashes.sqlite.damaged-*")
    assert err == [
        f"warning: {memo}: unreadable file-hash memo (file is not a database); "
        f"moved aside to {kept.name}, hashing the audio again"
    ]
    assert (
        sqlite3.connect(memo).execute("SELECT count(*) FROM hashes").fetchone()[0] == 124
    )  # 120 clips, the vocabulary, 3 split files


# --- damaged files heal ----------------------------------------------------------------------------


def test_a_results_file_cut_short_is_moved_aside_and_the_unit_recomputed(day, capsys):
    unit = _pitch_unit(day)
    text = unit.read_text()
    unit.write_text(text[: len(text) // 2])
    code, out, err = _cli(capsys, *_run_args(day))
    [kept] = unit.parent.glob(unit.name + ".damaged-*")
    assert code == 0
    assert len(err) == 1 and err[0].startswith(f"warning: {unit}: unreadable results file (")
    assert err[0].endswith(f"); moved aside to {kept.name}, the unit is computed again")
    assert _unit_line(out, "demo_pitch").startswith("[done]")
    assert "embeddings 0 computed, 120 cached" in _unit_line(out, "demo_pitch")  # nothing else was lost
    assert json.loads(unit.read_text())[0]["value"] == json.loads(text)[0]["value"]
    assert kept.read_text() == text[: len(text) // 2]  # kept for inspection


def test_a_results_file_with_missing_fields_is_skipped_by_report(day, capsys):
    unit = _pitch_unit(day)
    unit.write_text(json.dumps([{"model": MODEL, "task": "demo_pitch"}]))
    code, out, err = _cli(capsys, "report", "--results", day / "results", "--out", day / "reports", "--no-plots")
    assert code == 0
    assert err == [f"warning: {unit}: malformed results file (row 1 lacks suite, metric, value); skipped"]
    assert out[0] == f"measured: 3 numbers from 1 model(s) in {day / 'results'}"  # demo_env's 3 scores are reported


@pytest.mark.parametrize(
    "content, problem",
    [
        ("[]", "malformed results file (expected a non-empty list of rows)"),
        ('{"model": "m"}', "malformed results file (expected a non-empty list of rows)"),
        (None, "unreadable results file ('utf-8' codec can't decode byte 0xff in position 0: invalid start byte)"),
    ],
    ids=["empty-list", "not-a-list", "binary"],
)
def test_report_skips_a_malformed_results_file(day, capsys, content, problem):
    unit = _pitch_unit(day)
    if content is None:
        unit.write_bytes(b"\xff\xfe\x00garbage")
    else:
        unit.write_text(content)
    code, out, err = _cli(capsys, "report", "--results", day / "results", "--out", day / "reports", "--no-plots")
    assert code == 0 and err == [f"warning: {unit}: {problem}; skipped"]


def test_a_results_value_that_is_not_a_number_is_reported_and_recomputed(day, capsys):
    unit = _pitch_unit(day)
    rows = json.loads(unit.read_text())
    rows[0]["value"] = "0.3"
    unit.write_text(json.dumps(rows))
    assert ResultsStore(day / "results").rows() != []
    err = capsys.readouterr().err.splitlines()
    assert err == [f"warning: {unit}: malformed results file (row 1: value '0.3' is not a number); skipped"]


def test_a_cache_entry_cut_short_is_moved_aside_and_recomputed(day, capsys):
    entry = next((day / "cache" / "hear").glob("*/demo_pitch/train/*.npz"))
    entry.write_bytes(entry.read_bytes()[:40])
    _pitch_unit(day).unlink()  # the unit reruns and reads the cache
    code, out, err = _cli(capsys, *_run_args(day))
    [kept] = entry.parent.glob(entry.name + ".damaged-*")
    assert code == 0
    assert err == [
        f"warning: {entry}: unreadable cache entry (File is not a zip file); moved aside to {kept.name}, "
        "computing it again"
    ]
    assert "embeddings 1 computed, 119 cached" in _unit_line(out, "demo_pitch") and entry.is_file()


def test_an_empty_cache_entry_is_a_miss_and_kept_aside(tmp_path, capsys):
    cache = cache_module.EmbeddingCache(tmp_path, "m", "0" * 16, "last")
    entry = cache.put("task", "train", "a.wav", "abc", {"embedding": np.ones(3, dtype=np.float32)})
    entry.write_bytes(b"")
    assert cache.get("task", "train", "a.wav", "abc") is None and (cache.hits, cache.misses) == (0, 1)
    [kept] = entry.parent.glob(entry.name + ".damaged-*")
    assert capsys.readouterr().err.splitlines() == [
        f"warning: {entry}: unreadable cache entry (No data left in file); moved aside to {kept.name}, "
        "computing it again"
    ]


# --- bad task data: one line, before any embedding -------------------------------------------------


@pytest.mark.parametrize(
    "file, content, message",
    [
        ("valid.json", {"pitch_48_2.wav": 3}, "{task}/valid.json: pitch_48_2.wav has 3, expected a list of labels"),
        (
            "labelvocabulary.csv",
            "idx,label\n0,48\n1,48\n",
            "{task}/labelvocabulary.csv: label '48' is listed more than once",
        ),
        ("labelvocabulary.csv", "idx,label\n0,48\n0,49\n", "{task}/labelvocabulary.csv: idx must be 0..1, each once"),
    ],
    ids=["label-not-a-list", "label-twice", "index-twice"],
)
def test_bad_labels_are_one_line_errors_before_any_embedding(tmp_path, capsys, file, content, message, demo_root):
    task = _copy_task(demo_root, PITCH, tmp_path / "data")
    if isinstance(content, dict):
        labels = json.loads((task / file).read_text())
        labels.update(content)
        (task / file).write_text(json.dumps(labels))
    else:
        (task / file).write_text(content)
    code, out, err = _cli(capsys, *_run_args(tmp_path))
    assert code == 2 and err == ["error: " + message.format(task=task)]
    assert not (tmp_path / "cache").exists() and not (tmp_path / "results").exists()  # nothing computed


def test_a_missing_clip_is_one_line_error_before_any_embedding(tmp_path, capsys, demo_root):
    task = _copy_task(demo_root, PITCH, tmp_path / "data")
    (task / "16000" / "test" / "pitch_60_4.wav").unlink()
    code, _, err = _cli(capsys, *_run_args(tmp_path))
    assert code == 2
    assert err == [f"error: expected audio file {task}/16000/test/pitch_60_4.wav (listed in {task}/test.json)"]
    assert not list((tmp_path / "cache").glob("hear/*/demo_pitch"))


# --- checks before compute -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "options, message",
    [
        (["--seed", "99999999999999999999"], "--seed 99999999999999999999: must be between 0 and 4294967295"),
        (["--seed", "-1"], "--seed -1: must be between 0 and 4294967295"),
        (["--device", "cuda"], "--device cuda: no CUDA GPU on this machine (torch.cuda.is_available() is False)"),
        (["--device", "cuda:1"], "--device cuda:1: no CUDA GPU on this machine (torch.cuda.is_available() is False)"),
        (["--device", "mps"], "--device mps: no Apple MPS device on this machine"),
        (["--device", "gpu"], "--device 'gpu': not a device (expected cpu, cuda or cuda:N)"),
        (["--device", "meta"], "--device meta: not supported (expected cpu, cuda or cuda:N)"),
        (
            ["--launcher", "local", "--nproc", "4", "--slurm-gpus", "2", "--no-wait"],
            "--nproc 4, --slurm-gpus 2, --no-wait: not used by --launcher local (only by --launcher slurm / torchrun); "
            "drop it or choose that launcher",
        ),
        (
            ["--launcher", "torchrun", "--nproc", "2", "--slurm-partition", "gpu"],
            "--slurm-partition gpu: not used by --launcher torchrun (only by --launcher slurm); "
            "drop it or choose that launcher",
        ),
        (
            ["--launcher", "slurm", "--nproc", "2"],
            "--nproc 2: not used by --launcher slurm (only by --launcher torchrun); drop it or choose that launcher",
        ),
    ],
    ids=[
        "seed-too-big",
        "seed-negative",
        "device-cuda-without-gpu",
        "device-cuda-1-without-gpu",
        "device-mps",
        "device-gpu-typo",
        "device-meta",
        "options-the-local-launcher-ignores",
        "options-torchrun-ignores",
        "options-slurm-ignores",
    ],
)
def test_bad_options_fail_in_one_line_before_any_work(tmp_path, capsys, monkeypatch, options, message, demo_root):
    if "cuda" in " ".join(options):
        monkeypatch.setattr(preflight.torch.cuda, "is_available", lambda: False)  # also where a GPU exists
    _copy_task(demo_root, PITCH, tmp_path / "data")
    code, out, err = _cli(capsys, *_run_args(tmp_path, *options))
    assert code == 2 and err == [f"error: {message}"] and out == []
    assert not (tmp_path / "cache").exists() and not (tmp_path / "results").exists()


def _results_is_a_file(tmp: Path) -> Path:
    (tmp / "results").write_text("a file")
    return tmp / "results"


@pytest.mark.parametrize(
    "option, prepare, message",
    [
        ("--results", _results_is_a_file, "--results {tmp}/results: not a folder (a file of that name exists)"),
        (
            "--results",
            lambda t: (t / "a-file").write_text("x") and t / "a-file" / "results",
            "--results {tmp}/a-file/results: cannot be created ({tmp}/a-file is a file)",
        ),
        (
            "--results",
            lambda t: Path("/sys/kernel/spear-bench-results"),  # read-only for every user, root included
            "--results /sys/kernel/spear-bench-results: not writable (/sys/kernel: Permission denied)",
        ),
        (
            "--cache",
            lambda t: (t / "cache").write_text("x") and t / "cache",
            "--cache {tmp}/cache: not a folder (a file of that name exists)",
        ),
    ],
    ids=["results-is-a-file", "results-under-a-file", "results-read-only", "cache-is-a-file"],
)
def test_unusable_folders_fail_before_any_work(tmp_path, capsys, option, prepare, message, demo_root):
    _copy_task(demo_root, PITCH, tmp_path / "data")
    folder = prepare(tmp_path)
    argv = _run_args(tmp_path)
    argv[argv.index(option) + 1] = folder
    code, out, err = _cli(capsys, *argv)
    assert code == 2 and err == ["error: " + message.format(tmp=tmp_path)] and out == []


def test_a_full_disk_fails_before_any_work_naming_the_folder(tmp_path, capsys, monkeypatch, demo_root):
    _copy_task(demo_root, PITCH, tmp_path / "data")
    monkeypatch.setattr(preflight.shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(10**9, 10**9, 5 * 2**20))
    code, _, err = _cli(capsys, *_run_args(tmp_path))
    assert code == 2
    assert err == [f"error: --results {tmp_path}/results: only 5 MB free on its disk (at least 256 MB needed)"]


def test_no_space_left_while_writing_names_the_file(tmp_path):
    def full(handle):
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OSError) as raised:
        atomic_write_with(tmp_path / "unit.json", full)
    assert str(raised.value) == f"[Errno 28] No space left on device: '{tmp_path}/unit.json'"
    assert list(tmp_path.iterdir()) == []  # no temporary file left behind


def test_embed_checks_its_device_and_out_folder_first(tmp_path, capsys):
    sf.write(tmp_path / "a.wav", np.zeros(16000, dtype=np.float32), 16000)
    code, _, err = _cli(capsys, "embed", MODEL, tmp_path / "a.wav", "--out", tmp_path / "out", "--device", "gpu")
    assert code == 2 and err == ["error: --device 'gpu': not a device (expected cpu, cuda or cuda:N)"]
    (tmp_path / "out").write_text("x")
    code, _, err = _cli(capsys, "embed", MODEL, tmp_path / "a.wav", "--out", tmp_path / "out")
    assert code == 2 and err == [f"error: --out {tmp_path}/out: not a folder (a file of that name exists)"]


# --- a failing unit: one line, its true cache counts -----------------------------------------------


def test_a_unit_failing_after_its_embeddings_reports_them_and_an_error_in_one_line(day, capsys, monkeypatch):
    def broken_probe(*args, **kwargs):
        raise ValueError("probe exploded\nsecond line")

    monkeypatch.setattr(hear_runner, "train_grid", broken_probe)
    _pitch_unit(day).unlink()
    code, out, err = _cli(capsys, *_run_args(day))
    line = broken_probe.__code__.co_firstlineno + 1
    message = f"ValueError: probe exploded second line (at test_bad_day.py:{line})"
    assert code == 2
    assert _unit_line(out, "demo_pitch").endswith(f"embeddings 0 computed, 120 cached  {message}")
    assert "embedding cache: 120 hits, 0 misses (computed), hit rate 100%" in out
    assert err == [f"error: 1 unit(s) failed: {MODEL} / demo_pitch; first: {MODEL} / demo_pitch: {message}"]
    assert len(_unit_files(day)) == 1  # demo_env's finished unit is untouched


# --- interrupts ------------------------------------------------------------------------------------


def _interrupt_after(argv: list, sig: signal.Signals, started) -> tuple[int, str, str]:
    """Start ``python -m spear_bench ARGV``, send ``sig`` once ``started(stdout lines so far)`` is true."""
    process = subprocess.Popen(
        [sys.executable, "-m", "spear_bench", *map(str, argv)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines = []
    for line in process.stdout:
        lines.append(line)
        if started(lines):
            break
    process.send_signal(sig)
    out, err = process.communicate(timeout=300)
    return process.returncode, "".join(lines) + out, err


@pytest.mark.slow
@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["ctrl-c", "sigterm"])
def test_an_interrupted_run_keeps_its_finished_unit_says_so_and_resumes(day, capsys, sig, code):
    for unit in _unit_files(day):
        unit.unlink()  # both units to run again (from the cache), demo_env first
    argv = _run_args(day, tasks="demo_pitch,demo_env")
    returncode, out, err = _interrupt_after(argv, sig, lambda lines: lines[-1].startswith("[done]"))
    assert returncode == code
    assert err.splitlines() == [
        f"interrupted ({sig.name}) during run: 1 of 2 units finished (stored in {day}/results); "
        f"embeddings computed so far are cached in {day}/cache; {RERUN}"
    ]
    [kept] = _unit_files(day)
    assert kept.name.startswith("demo_env__")
    code, out, _ = _cli(capsys, *argv)  # the rerun resumes: the finished unit is skipped
    assert code == 0 and _unit_line(out, "demo_env").startswith("[skipped]")
    assert _unit_line(out, "demo_pitch").startswith("[done]") and len(_unit_files(day)) == 2


@pytest.mark.slow
def test_an_interrupted_embed_keeps_the_files_written_and_resumes(tmp_path, capsys):
    clips = tmp_path / "clips"
    clips.mkdir()
    for i in range(200):  # one a batch: about 10 s of work, so the signal lands mid-way
        sf.write(clips / f"c{i:04d}.wav", np.full(4000, i / 400, dtype=np.float32), 16000, subtype="FLOAT")
    out_dir = tmp_path / "out"
    argv = ["embed", MODEL, clips, "--out", out_dir, "--batch-s", "0.25", "--workers", "0"]
    process = subprocess.Popen(
        [sys.executable, "-m", "spear_bench", *map(str, argv)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    while not (out_dir.is_dir() and any(out_dir.glob("*.npy"))):
        assert process.poll() is None, process.communicate()
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=300)
    written = len(list(out_dir.glob("*.npy")))
    assert process.returncode == 143 and 0 < written < 200
    assert err.splitlines() == [
        f"interrupted (SIGTERM) during embed: {written} of 200 files' embeddings written in {out_dir}; {RERUN}"
    ]
    assert not list(out_dir.glob(".*"))  # no temporary file left
    code, out, _ = _cli(capsys, *argv)
    assert code == 0 and out[-1] == f"wrote {200 - written} embedding file(s) to {out_dir}, {written} already there"


def test_sigterm_in_process_before_the_first_unit_finishes_exits_143(day, capsys, monkeypatch):
    def terminated(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGTERM)  # a real signal, to this process: the handler raises
        time.sleep(5)
        raise AssertionError("SIGTERM did not interrupt")

    monkeypatch.setattr(launchers, "run_unit", terminated)
    handler = signal.getsignal(signal.SIGTERM)
    code, _, err = _cli(capsys, *_run_args(day))
    assert code == 143
    assert err == [
        f"interrupted (SIGTERM) during run: 0 of 1 units finished (stored in {day}/results); "
        f"embeddings computed so far are cached in {day}/cache; {RERUN}"
    ]
    assert len(_unit_files(day)) == 2  # what was there is still there
    assert signal.getsignal(signal.SIGTERM) is handler  # the CLI's handler only while it runs


def test_ctrl_c_during_demo_data_generation_exits_130(tmp_path, capsys, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(demo_generate, "generate_demo_data", interrupted)
    code, _, err = _cli(capsys, "demo", "--models", MODEL, "--results", tmp_path / "results", "--no-report")
    assert code == 130 and err == [f"interrupted (SIGINT) during demo: nothing had finished yet; {RERUN}"]


def test_an_interrupted_training_names_its_last_checkpoint(tmp_path):
    with interrupts.signals_raise():
        folder = save_checkpoint(tmp_path, 40, {"model": {}}, {})
        line = interrupts.interrupted_line(signal.SIGTERM, "pretrain")
    assert line == f"interrupted (SIGTERM) during pretrain: the checkpoint of step 40 is saved in {folder}; {RERUN}"
    assert interrupts.exit_code(signal.SIGTERM) == 143 and interrupts.exit_code(None) == 130
