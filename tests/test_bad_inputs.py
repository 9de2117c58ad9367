"""Bad input, one table: each case is built in a fresh folder and must give exactly its one-line error.

The cases cover the CLI's usage, ``spear-bench embed``, the HEAR task readers, the SUPERB
corpora (and the files s3prl's recipes would download), checkpoints and task files. Every
message names the file or setting at fault and the problem, and fits on one line. ``{tmp}``
in an expected message stands for the case's folder. CLI cases run ``spear_bench.cli.main``
(the console script's function): a usage error prints the usage line and ends with
``Error: ...`` (exit 2); a user error is the single line ``error: ...`` (exit 2), never a
traceback.

Below the table: a bad clip in the middle of a HEAR task keeps what was already computed.
"""

from __future__ import annotations

import json
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import soundfile as sf
import torch

from spear_bench.bench.cache import EmbeddingCache
from spear_bench.bench.hear_data import read_task
from spear_bench.bench.hear_runner import compute_embeddings
from spear_bench.bench.scored_model import HearModelHandle, resolve_model
from spear_bench.cli import main
from spear_bench.errors import AudioError, CheckpointError, ConfigError, DatasetError, SpearBenchError
from spear_bench.models.checkpoint import load_spear_checkpoint
from spear_bench.superb.recipe_files import check_task_files
from spear_bench.superb.recipes import recipe_for
from spear_bench.task_registry import load_suite, load_suite_file

# --- builders of bad input (each writes into the case's folder) ----------------------------------


def _wav(path: Path, samples: int = 16000, value: float | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if value is None:
        wave = 0.1 * np.sin(np.arange(samples, dtype=np.float32) / 7)
    else:
        wave = np.full(samples, value, dtype=np.float32)
    sf.write(str(path), wave, 16000, subtype="FLOAT")
    return path


def _hear_task(root: Path, **changes) -> Path:
    """A valid trainvaltest HEAR task folder (2 clips per split); ``changes`` overwrite files (None deletes)."""
    metadata = {
        "task_name": "bad",
        "embedding_type": "scene",
        "prediction_type": "multiclass",
        "split_mode": "trainvaltest",
        "evaluation": ["top1_acc"],
        "sample_duration": 1.0,
    }
    files = {
        "task_metadata.json": json.dumps(metadata),
        "labelvocabulary.csv": "idx,label\n0,dog\n1,cat\n",
        **{f"{split}.json": json.dumps({"a.wav": ["dog"], "b.wav": ["cat"]}) for split in ("train", "valid", "test")},
    }
    files.update(changes)
    for name, text in files.items():
        if text is not None:
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_text(text)
    for split in ("train", "valid", "test"):
        for clip in ("a.wav", "b.wav"):
            _wav(root / "16000" / split / clip)
    return root


def _suite_file(root: Path, text: str) -> Path:
    path = root / "suite.yaml"
    path.write_text(textwrap.dedent(text))
    return path


HEAR_ENTRY = """\
    suite: hear
    tasks:
      - name: bad_task
        short: BT
        title: Bad task
        group: speech
        folder: bad_task
        level: {level}
        prediction_type: multiclass
        metric: top1_acc
        metrics: [top1_acc]
        split_mode: trainvaltest
        folds: null
        sample_duration: 1.0
"""


def _checkpoint(root: Path) -> Path:
    from spear_bench.models.checkpoint import build_spear, save_spear_checkpoint
    from spear_bench.models.spear import spear_config

    return save_spear_checkpoint(build_spear(spear_config("tiny"), seed=0), root / "ckpt")


def _superb_task(name: str):
    return load_suite("superb").task(name)


def _voxceleb(root: Path) -> Path:
    """VoxCeleb1 with its audio folders and split list, but no verification trial list."""
    _wav(root / "VoxCeleb1" / "dev" / "wav" / "id10001" / "v1" / "00001.wav")
    _wav(root / "VoxCeleb1" / "test" / "wav" / "id10270" / "v1" / "00001.wav")
    (root / "VoxCeleb1" / "iden_split.txt").write_text("1 id10001/v1/00001.wav\n3 id10270/v1/00001.wav\n")
    return root


def _iemocap(root: Path) -> Path:
    """IEMOCAP's sessions and the split folder, without s3prl's per-fold split lists."""
    for folder in [f"Session{n}" for n in range(1, 6)] + ["s3prl_iemocap_split"]:
        (root / "IEMOCAP_full_release" / folder).mkdir(parents=True)
    return root


def _librimix(root: Path) -> Path:
    """Kaldi data dirs with wav.scp only (no segments, utt2spk, reco2dur)."""
    for split in ("train", "dev", "test"):
        (root / "LibriMix" / "data" / split).mkdir(parents=True)
        (root / "LibriMix" / "data" / split / "wav.scp").write_text("mix1 wav/mix1.wav\n")
    return root


# --- the table -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    id: str
    run: Callable[[Path], object]  # raises, or returns CLI argv (a list) to run through main()
    expected: str  # the exact error line; {tmp} = the case's folder
    error: type = SpearBenchError  # the class raised (function cases)


def _cli(*argv):
    return lambda tmp: [a.format(tmp=tmp) for a in argv]


def _cli_after(prepare, *argv):
    def run(tmp):
        prepare(tmp)
        return [a.format(tmp=tmp) for a in argv]

    return run


KEPT = " (embeddings already written in {tmp}/out are kept)"
JSON_PROBLEM = "Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"


def _embed(prepare, path: str, *options: str):
    """``spear-bench embed spear_tiny {tmp}/<path> --out {tmp}/out [options]`` after ``prepare(tmp)``."""
    return _cli_after(prepare, "embed", "spear_tiny[random-init]", "{tmp}/" + path, "--out", "{tmp}/out", *options)


def _bad_checkpoint(tmp: Path, name: str, content: bytes):
    _checkpoint(tmp)
    (tmp / "ckpt" / name).write_bytes(content)
    return load_spear_checkpoint(tmp / "ckpt")


def _hear(**changes):
    return lambda tmp: read_task(_hear_task(tmp / "task", **changes))


CASES = [
    # CLI usage (exit 2, usage line + error)
    Case("cli-unknown-command", _cli("xyzzy"), "Error: No such command 'xyzzy'."),
    Case("cli-option-without-value", _cli("run", "--suite"), "Error: Option '--suite' requires an argument."),
    Case("cli-unknown-option", _cli("run", "--bogus"), "Error: No such option: --bogus"),
    Case(
        "cli-missing-required-option",
        _cli("embed", "spear_tiny[random-init]", "{tmp}/a.wav"),
        "Error: Missing option '--out'.",
    ),
    Case(
        "cli-option-wrong-type",
        _cli("run", "--nproc", "abc"),
        "Error: Invalid value for '--nproc': Input should be a valid integer, unable to parse string as an integer",
    ),
    # spear-bench embed
    Case(
        "embed-100-sample-wav",
        _embed(lambda t: _wav(t / "short.wav", 100), "short.wav"),
        "error: {tmp}/short.wav: audio of 100 samples (6.25 ms) is too short for spear_tiny: "
        "it needs at least 240 samples (15.00 ms at 16000 Hz)" + KEPT,
    ),
    Case(
        "embed-empty-file",
        _embed(lambda t: (t / "empty.wav").write_bytes(b""), "empty.wav"),
        "error: {tmp}/empty.wav: empty file (0 bytes)" + KEPT,
    ),
    Case(
        "embed-corrupt-file",
        _embed(lambda t: (t / "noise.wav").write_bytes(b"RIFF, no wave" * 10), "noise.wav"),
        "error: {tmp}/noise.wav: unreadable or corrupt audio "
        "(Error opening '{tmp}/noise.wav': Format not recognised.)" + KEPT,
    ),
    Case(
        "embed-nan-samples",
        _embed(lambda t: _wav(t / "nan.wav", 800, float("nan")), "nan.wav"),
        "error: {tmp}/nan.wav: 800 non-finite samples (NaN) in audio" + KEPT,
    ),
    Case(
        "embed-missing-file", _embed(lambda t: None, "nowhere.wav"), "error: {tmp}/nowhere.wav: no such file or folder"
    ),
    Case(
        "embed-empty-folder",
        _embed(lambda t: (t / "clips").mkdir(), "clips"),
        "error: {tmp}/clips: no audio files in folder",
    ),
    Case(
        "embed-layer-out-of-range",
        _embed(lambda t: _wav(t / "a.wav"), "a.wav", "--layer", "99"),
        "error: --layer 99: this model has 10 hidden states (0..9)",
    ),
    Case(
        "embed-unknown-format",
        _embed(lambda t: _wav(t / "a.wav"), "a.wav", "--format", "mat"),
        "error: --format 'mat': expected npy or safetensors",
    ),
    # HEAR task readers
    Case(
        "hear-no-metadata",
        lambda t: read_task(t / "task"),
        "expected {tmp}/task/task_metadata.json (a HEAR task folder)",
        DatasetError,
    ),
    Case(
        "hear-metadata-not-json",
        _hear(**{"task_metadata.json": "{oops"}),
        "{tmp}/task/task_metadata.json: unreadable HEAR task metadata (" + JSON_PROBLEM + ")",
        DatasetError,
    ),
    Case(
        "hear-metadata-missing-field",
        _hear(
            **{
                "task_metadata.json": json.dumps(
                    {"embedding_type": "scene", "prediction_type": "multiclass", "split_mode": "trainvaltest"}
                )
            }
        ),
        "{tmp}/task/task_metadata.json: missing field 'evaluation'",
        DatasetError,
    ),
    Case(
        "hear-vocabulary-bad-index",
        _hear(**{"labelvocabulary.csv": "idx,label\n0,dog\nx,cat\n"}),
        "{tmp}/task/labelvocabulary.csv: idx must be integers (invalid literal for int() with base 10: 'x')",
        DatasetError,
    ),
    Case(
        "hear-unknown-label",
        _hear(**{"valid.json": json.dumps({"a.wav": ["cow"]})}),
        "{tmp}/task/valid.json: a.wav has labels ['cow'] not in labelvocabulary.csv",
        DatasetError,
    ),
    Case(
        "hear-split-missing",
        _hear(**{"test.json": None}),
        "{tmp}/task/test.json: missing (split 'test' labels)",
        DatasetError,
    ),
    # SUPERB corpora and the files s3prl's recipes would download
    Case(
        "superb-corpus-missing",
        lambda t: check_task_files(_superb_task("sid"), t),
        "SUPERB task sid: expected the corpus folder {tmp}/VoxCeleb1 (VoxCeleb1 (dev/wav + test/wav: "
        "id1xxxx/<video>/<n>.wav) and iden_split.txt (1 train, 2 dev, 3 test))",
        DatasetError,
    ),
    Case(
        "superb-trial-list-missing",
        lambda t: check_task_files(_superb_task("sv"), _voxceleb(t)),
        "SUPERB task sv: {tmp}/VoxCeleb1/voxceleb1_test_v2.txt is missing and s3prl's copy could not be fetched "
        "from http://127.0.0.1:0/openslr.magicdatatech.com/resources/49/voxceleb1_test_v2.txt "
        "(<urlopen error [Errno 111] Connection refused>); place the file at {tmp}/VoxCeleb1/voxceleb1_test_v2.txt",
        DatasetError,
    ),
    Case(
        "superb-split-list-missing",
        lambda t: check_task_files(_superb_task("er"), _iemocap(t)),
        "SUPERB task er: {tmp}/IEMOCAP_full_release/s3prl_iemocap_split/Session1/train_meta_data.json is missing "
        "and s3prl's copy could not be fetched from http://127.0.0.1:0/huggingface.co/datasets/s3prl/iemocap_split/"
        "raw/4097f2b496c41eed016d4e5eb0ada4cccd46d1f3/Session1/train_meta_data.json "
        "(<urlopen error [Errno 111] Connection refused>); "
        "place the file at {tmp}/IEMOCAP_full_release/s3prl_iemocap_split/Session1/train_meta_data.json",
        DatasetError,
    ),
    Case(
        "superb-kaldi-file-missing",
        lambda t: check_task_files(_superb_task("sd"), _librimix(t)),
        "SUPERB task sd: expected {tmp}/LibriMix/data/train/segments "
        "(s3prl's recipe downloads it; the corpus folder must supply it offline)",
        DatasetError,
    ),
    Case(
        "superb-not-run-yet",
        lambda t: recipe_for(_superb_task("qbe"), "spear_tiny"),
        "SUPERB task qbe (QbE) is defined but not run by spear-bench yet; run it with s3prl: "
        "run_downstream.py -m train -u spear_tiny -d quesst14_dtw (after spear_bench.upstreams.register())",
        ConfigError,
    ),
    # checkpoints
    Case(
        "ckpt-missing",
        lambda t: load_spear_checkpoint(t / "nowhere"),
        "{tmp}/nowhere: no such checkpoint (expected a folder with config.json + model.safetensors, or a weights file)",
        CheckpointError,
    ),
    Case(
        "ckpt-corrupt-weights",
        lambda t: _bad_checkpoint(t, "model.safetensors", b"\x00" * 64),
        "{tmp}/ckpt/model.safetensors: unreadable weights (Error while deserializing header: invalid JSON in header: "
        "EOF while parsing a value at line 1 column 0)",
        CheckpointError,
    ),
    Case(
        "ckpt-config-not-json",
        lambda t: _bad_checkpoint(t, "config.json", b"{"),
        "{tmp}/ckpt/config.json: unreadable config (" + JSON_PROBLEM + ")",
        CheckpointError,
    ),
    Case(
        "ckpt-cli-embed-with-bad-weights",
        _cli_after(
            lambda t: (_wav(t / "a.wav"), (t / "w.pt").write_bytes(b"junk")),
            "embed",
            "{tmp}/w.pt",
            "{tmp}/a.wav",
            "--out",
            "{tmp}/out",
        ),
        "error: {tmp}/w.pt: unreadable weights (unpack requires a buffer of 4 bytes)",
    ),
    # task files
    Case(
        "tasks-not-yaml",
        lambda t: load_suite_file(_suite_file(t, "suite: [unclosed\n")),
        "{tmp}/suite.yaml:2:1: not valid YAML (expected ',' or ']', but got '<stream end>')",
        ConfigError,
    ),
    Case(
        "tasks-bad-level",
        lambda t: load_suite_file(_suite_file(t, HEAR_ENTRY.format(level="clip"))),
        "{tmp}/suite.yaml: task #1 (bad_task): level must be one of ('scene', 'timestamp'), got 'clip'",
        ConfigError,
    ),
    Case(
        "tasks-unknown-field",
        lambda t: load_suite_file(_suite_file(t, HEAR_ENTRY.format(level="scene") + "        colour: red\n")),
        "{tmp}/suite.yaml: task #1 (bad_task): unknown fields ['colour']",
        ConfigError,
    ),
    Case(
        "tasks-unknown-suite-cli",
        _cli("run", "--suite", "nosuch", "--model", "spear_tiny[random-init]"),
        "error: unknown suite 'nosuch': no {repo}/tasks/nosuch.yaml "
        "(known: bench_superb, demo, demo_superb, finetune, hear, superb)",
    ),
]


def _run_cli(argv: list[str], capsys) -> tuple[int, list[str]]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.err.strip().splitlines()


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_gives_its_one_line_error(case, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SPEAR_BENCH_S3PRL_URL_BASE", "http://127.0.0.1:0")  # offline: s3prl's hosts refuse
    monkeypatch.setenv("SPEAR_BENCH_CACHE", str(tmp_path / ".cache"))
    from spear_bench.paths import REPO_ROOT

    expected = case.expected.format(tmp=tmp_path, repo=REPO_ROOT)
    assert "\n" not in expected
    result = None
    try:
        result = case.run(tmp_path)
    except SpearBenchError as error:
        assert isinstance(error, case.error), type(error)
        assert str(error) == expected
        return
    assert isinstance(result, list), "the case raised nothing"
    code, lines = _run_cli(result, capsys)
    assert code == 2
    assert lines, "no error printed"
    assert not any("Traceback" in line for line in lines)
    if expected.startswith("Error: "):  # a usage error: the usage line first, the error last
        assert lines[0].startswith("Usage: spear-bench")
        assert lines[-1] == expected
    else:
        assert lines == [expected]


def test_the_table_covers_every_area_with_at_least_20_cases():
    areas = {case.id.split("-")[0] for case in CASES}
    assert areas == {"cli", "embed", "hear", "superb", "ckpt", "tasks"}
    assert len(CASES) >= 20


# --- nothing already computed is lost ------------------------------------------------------------

ONE_FEATURE_MODULE = textwrap.dedent('''
    """A HEAR 2021 module for tests: the clip's RMS, and a count of calls."""
    import torch

    class Model(torch.nn.Module):
        sample_rate = 16000
        scene_embedding_size = timestamp_embedding_size = 1

        def __init__(self):
            super().__init__()
            self.scale = torch.nn.Parameter(torch.ones(1))

    def load_model(model_file_path="", **kwargs):
        return Model()

    def get_scene_embeddings(audio, model):
        return audio.pow(2).mean(1, keepdim=True).sqrt() * model.scale

    def get_timestamp_embeddings(audio, model):
        raise NotImplementedError
''')


@pytest.fixture
def rms_module(tmp_path, monkeypatch):
    (tmp_path / "rms_hear_module.py").write_text(ONE_FEATURE_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield HearModelHandle(resolve_model("hear:rms_hear_module"))
    sys.modules.pop("rms_hear_module", None)


def test_a_bad_clip_in_the_middle_of_a_hear_task_keeps_every_readable_clips_embedding(tmp_path, rms_module):
    train = {"a.wav": ["dog"], "b.wav": ["cat"], "c.wav": ["dog"], "d.wav": ["cat"]}
    root = _hear_task(tmp_path / "task", **{"train.json": json.dumps(train)})
    _wav(root / "16000" / "train" / "d.wav")
    (root / "16000" / "train" / "c.wav").write_bytes(b"RIFF broken")
    task = read_task(root)
    cache = EmbeddingCache(tmp_path / "cache", "rms", rms_module.weights_hash, "last")
    with pytest.raises(DatasetError) as raised:
        compute_embeddings(task, "bad", rms_module, cache)
    message = str(raised.value)
    assert "\n" not in message and message.startswith(f"{root}/16000/train/c.wav: unreadable or corrupt audio")
    assert message.endswith(f"(listed in {root}/train.json; embeddings done so far are cached)")
    # every readable clip is embedded before the error is raised, the ones after the bad clip too
    assert sorted(p.name.split(".")[0] for p in (cache.model_dir / "bad" / "train").iterdir()) == ["a", "b", "d"]

    _wav(root / "16000" / "train" / "c.wav")  # the user fixes the clip and runs again
    rerun = EmbeddingCache(tmp_path / "cache", "rms", rms_module.weights_hash, "last")
    _, stats = compute_embeddings(task, "bad", rms_module, rerun)
    assert (stats.hits, stats.misses) == (7, 1)  # a, b, d and the 4 valid/test clips reused; only c computed


def test_short_audio_errors_are_audio_errors_at_the_api_too():
    from spear_bench.audio import compute_fbank

    message = r"^audio of 100 samples \(6.25 ms\) is too short for the fbank: it needs at least 140 samples \(8.75 ms"
    with pytest.raises(AudioError, match=message):
        compute_fbank(torch.zeros(100))
