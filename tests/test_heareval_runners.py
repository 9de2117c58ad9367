"""heareval's own runners, as a user runs them, in this environment (spear_bench.compat.heareval).

``python -m heareval.embeddings.runner MODULE`` and ``python -m heareval.predictions.runner
DIR`` run in a fresh interpreter with no PYTHONPATH set for heareval or for the shims: the
startup .pth the package installs (setup.py) applies them. (The subprocesses get the repo on
PYTHONPATH only so that they import this checkout rather than the installed one.)
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from oracles.heareval_oracle import OracleTask, make_task

from spear_bench.bench.cache import EmbeddingCache
from spear_bench.bench.hear_data import read_task
from spear_bench.bench.hear_runner import compute_embeddings
from spear_bench.bench.scored_model import HearModelHandle, resolve_model
from spear_bench.hashing import file_hash
from spear_bench.paths import REPO_ROOT

PTH = "spear_bench_heareval_compat.pth"


def _site_packages_have_pth() -> bool:
    import site

    return any((Path(p) / PTH).is_file() for p in site.getsitepackages())


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD",)}
    # this checkout, not the installed one
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), str(REPO_ROOT / "upstreams")])
    # the runners use this process's torch thread count: summation order, and so the last bits of an
    # embedding, depend on it (under pytest-xdist this process has 1 thread, a new one would take all cores)
    env["OMP_NUM_THREADS"] = str(torch.get_num_threads())
    result = subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, f"{' '.join(args)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-6000:]}"
    return result


def test_the_package_installs_the_startup_pth():
    assert _site_packages_have_pth(), f"{PTH} is not in site-packages: re-install the project (scripts/bootstrap.sh)"
    text = (REPO_ROOT / PTH).read_text()
    assert text.startswith("import ") and text.count("\n") == 1  # one line, run by site at start-up


@pytest.mark.slow
def test_built_wheels_carry_the_startup_pth(tmp_path):
    """Regular and editable wheels both put the .pth at the top of site-packages."""
    source = tmp_path / "src"  # a copy: building writes build/ and egg-info folders next to the sources
    for name in ("pyproject.toml", "setup.py", "README.md", PTH):
        source.mkdir(exist_ok=True)
        shutil.copy(REPO_ROOT / name, source / name)
    for name in ("spear_bench", "upstreams"):
        shutil.copytree(REPO_ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
    for hook in ("build_wheel", "build_editable"):
        code = f"import sys; from setuptools import build_meta as b; b.{hook}(sys.argv[1])"
        build = subprocess.run(
            [sys.executable, "-c", code, str(tmp_path / hook)], cwd=source, capture_output=True, text=True, timeout=600
        )
        assert build.returncode == 0, build.stderr[-4000:]
        (wheel,) = (tmp_path / hook).glob("*.whl")
        assert PTH in zipfile.ZipFile(wheel).namelist(), wheel.name


def test_tensorflow_standin_is_scoped_to_heareval(tmp_path):
    """In a fresh interpreter (the .pth's hook), heareval imports; nobody else sees a fake TensorFlow."""
    code = (
        "import sys, heareval.embeddings.task_embeddings as t; "
        "print(type(t.tf).__name__, 'tensorflow' in sys.modules, t.tf.test.is_gpu_available()); "
        "t.tf.convert_to_tensor"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.stdout.split() == ["_TensorflowStandIn", "False", "True"], result.stderr[-3000:]
    # a TensorFlow model's path fails loudly, in one line naming the missing name
    assert "AttributeError: tensorflow is not installed" in result.stderr and "'convert_to_tensor'" in result.stderr


@pytest.mark.slow
def test_both_heareval_runners_run_and_embeddings_equal_spear_bench_cache(tmp_path):
    # 0.5 s clips of noise around two class means
    task = OracleTask("tiny_runner_task", "scene", {"train": 16, "valid": 8, "test": 8}, classes=2, dim=8000)
    tasks_dir = tmp_path / "tasks"
    make_task(tasks_dir, task)  # writes the task folder the runners read
    # The embeddings runner, as the HEAR docs give it, with hear_spear's tiny model.
    _run(
        [
            "-m",
            "heareval.embeddings.runner",
            "hear_spear",
            "--model-options",
            '{"model": "tiny"}',
            "--tasks-dir",
            str(tasks_dir),
            "--embeddings-dir",
            str(tmp_path / "embeddings"),
        ],
        cwd=tmp_path,
    )
    embed_dir = tmp_path / "embeddings" / "hear_spear-model=tiny" / task.name
    assert (embed_dir / ".done.embeddings").is_file()
    # A baseline module runs in it unchanged (a tiny size through its own load_model options).
    tiny_wavlm = {
        "hidden_size": 32,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "intermediate_size": 64,
        "conv_dim": 16,
    }
    wavlm_options = {"model": "base_plus", "overrides": tiny_wavlm}
    _run(
        [
            "-m",
            "heareval.embeddings.runner",
            "hear_spear.wavlm",
            "--model-options",
            json.dumps(wavlm_options),
            "--tasks-dir",
            str(tasks_dir),
            "--embeddings-dir",
            str(tmp_path / "embeddings"),
        ],
        cwd=tmp_path,
    )
    assert len(list((tmp_path / "embeddings").glob(f"hear_spear.wavlm-*/{task.name}/.done.embeddings"))) == 1

    # The same model and layer through spear-bench's cache
    # (what `spear-bench run --model spear_tiny[random-init]` stores).
    spec = task.spec()
    handle = HearModelHandle(resolve_model("spear_tiny[random-init]", "last"))
    cache = EmbeddingCache(tmp_path / "cache", handle.spec.name, handle.weights_hash, "last")
    data = read_task(spec, tasks_dir)
    compute_embeddings(data, spec.name, handle, cache)
    compared = 0
    for split, items in data.split_items.items():
        for file in items:
            ours = cache.get(spec.name, split, file, file_hash(data.audio_path(split, file)))["embedding"]
            theirs = np.load(embed_dir / split / f"{file}.embedding.npy")
            np.testing.assert_array_equal(ours, theirs)
            compared += 1
    assert compared == 32

    # The predictions runner on heareval's embeddings: its quick grid (incl. a 0-hidden-layer
    # probe, whose checkpoint pickles torch.nn.Identity), CPU.
    _run(["-m", "heareval.predictions.runner", str(embed_dir), "--grid", "faster", "--grid-points", "2"], cwd=tmp_path)
    scores = json.loads((embed_dir / "test.predicted-scores.json").read_text())
    assert 0.0 <= scores["test"]["test_top1_acc"] <= 1.0
    assert (embed_dir / "prediction-done.json").is_file()
