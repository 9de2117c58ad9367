"""What the tests share: generated data (session scope), tiny model configs, and the test order.

Test modules import nothing from each other: what two files need lives here (or, for code that runs
outside pytest too, in a support module: tests/oracles/, tests/_upstreams_tiny.py).
"""

import os
import shutil
import tempfile
import textwrap
from pathlib import Path

import pytest
import torch
from filelock import FileLock

import spear_bench  # noqa: F401  (installs the torchaudio compatibility hook first)
from spear_bench.demo.generate import GENERATOR_VERSION, generate_demo_data
from spear_bench.results.store import ResultRow, ResultsStore

# Tests are CPU-only and sized for 2 cores, shared by the pytest-xdist workers (make test: one per core).
torch.set_num_threads(max(1, min(2, os.cpu_count() or 1) // int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))))


# The whole suite's disk use under the temporary folder at its peak, with room to spare: 3.8 GB measured
# (2026-12-07, make test's two workers), with pyproject's tmp_path_retention_policy deleting a passed
# test's folder as it ends and SUPERB runs keeping no resume points once scored; 22 GB before both.
# With less free, the whole suite stops before it starts, in one line, rather than erroring test after
# test on "No space left on device" (CI's run of 2026-12-07 did, on a disk left nearly full).
SUITE_PEAK_DISK_GB = 5.0


def _temporary_root(config) -> Path:
    return Path(config.option.basetemp or tempfile.gettempdir())


def _free_gb(path: Path) -> float:
    while not path.exists():
        path = path.parent
    return shutil.disk_usage(path).free / 1024**3


def pytest_report_header(config):
    root = _temporary_root(config)
    return f"disk: {_free_gb(root):.1f} GB free under {root} (the whole suite needs about {SUITE_PEAK_DISK_GB} GB)"


def pytest_sessionstart(session):
    config = session.config
    whole_suite = config.args_source == pytest.Config.ArgsSource.TESTPATHS
    if os.environ.get("PYTEST_XDIST_WORKER") or not whole_suite:
        return
    root = _temporary_root(config)
    free = _free_gb(root)
    if free < SUITE_PEAK_DISK_GB:
        pytest.exit(
            f"{root}: only {free:.1f} GB free; the whole test suite needs about {SUITE_PEAK_DISK_GB} GB "
            "(free some, or point --basetemp at a disk with room)",
            returncode=3,
        )


@pytest.fixture
def one_thread():
    """Torch on one thread for the test: tiny models only pay synchronisation for more."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def load_benchmark():
    """``load_benchmark("embed_speed")``: the script benchmarks/embed_speed.py as a module."""
    import importlib.util

    from spear_bench.paths import REPO_ROOT

    def load(name: str):
        spec = importlib.util.spec_from_file_location(name, REPO_ROOT / "benchmarks" / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load


@pytest.fixture
def seeded():
    torch.manual_seed(0)
    return 0


@pytest.fixture(scope="session")
def demo_root(tmp_path_factory) -> Path:
    """The demo suites' generated corpora (spear_bench.demo), built once per test run in pytest's temporary
    folder. Under pytest-xdist the workers share it: the first to take the lock generates, the others reuse."""
    run_folder = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        run_folder = run_folder.parent  # above each worker's own folder: the whole run's
    root = run_folder / f"demo-data-{GENERATOR_VERSION}"
    with FileLock(f"{root}.lock"):
        return generate_demo_data(root, log=lambda *_: None)


@pytest.fixture(scope="session")
def tiny_wavlm() -> dict:
    """A WavLM small enough for CPU tests (2 layers of 32 dims), as ``overrides`` of a registered WavLM.
    Shared by the whole run: read it, copy it to change it."""
    return {
        "hidden_size": 32,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "intermediate_size": 64,
        "conv_dim": 32,
        "num_conv_pos_embeddings": 16,
        "num_conv_pos_embedding_groups": 2,
    }


TINY_HEAR_MODULE = textwrap.dedent('''
    """A HEAR 2021 module for tests: log spectra of 20 ms frames, randomly projected."""
    import torch

    class Model(torch.nn.Module):
        sample_rate = 16000
        scene_embedding_size = timestamp_embedding_size = 16

        def __init__(self):
            super().__init__()
            self.proj = torch.nn.Parameter(torch.randn(161, 16, generator=torch.Generator().manual_seed(0)))

    def load_model(model_file_path="", **kwargs):
        return Model()

    def get_timestamp_embeddings(audio, model):
        frames = audio.unfold(1, 320, 320)
        embeddings = torch.log1p(torch.fft.rfft(frames).abs()) @ model.proj
        timestamps = (torch.arange(embeddings.shape[1]) * 20.0 + 10.0).expand(audio.shape[0], -1)
        return embeddings, timestamps

    def get_scene_embeddings(audio, model):
        return get_timestamp_embeddings(audio, model)[0].mean(1)
''')


@pytest.fixture(scope="session")
def tiny_hear_module_source() -> str:
    """The source of a tiny HEAR 2021 module (write it into a folder on sys.path to import it)."""
    return TINY_HEAR_MODULE


def _write_demo_store(root: Path) -> ResultsStore:
    """A few rows as the runners write them: suites demo, hear, superb, finetune and an ablation run."""
    store = ResultsStore(root)

    def unit(model, suite, task, metrics, seed=0, split="test", config="cfg1", short="", value_unit=""):
        store.write_unit(
            [
                ResultRow(
                    model,
                    suite,
                    task,
                    metric,
                    value,
                    seed,
                    config,
                    split=split,
                    higher_is_better=up,
                    task_short=short,
                    unit=value_unit,
                )
                for metric, value, up in metrics
            ]
        )

    unit("spear_tiny", "demo", "tone_pitch", [("accuracy", 0.75, True)])
    unit("spear_tiny", "demo", "noise_vs_speech", [("accuracy", 0.9, True), ("loss", 0.31, False)])
    unit("wavlm_tiny", "demo", "tone_pitch", [("accuracy", 0.5, True)])
    unit("spear_tiny", "hear", "esc50", [("top1_acc", 0.40, True)], seed=0, short="ESC", value_unit="fraction")
    unit("spear_tiny", "hear", "esc50", [("top1_acc", 0.42, True)], seed=1, short="ESC", value_unit="fraction")
    unit("spear_tiny", "hear", "speech_commands_5h", [("top1_acc", 0.30, True)], short="SC-5", value_unit="fraction")
    unit("spear_tiny", "superb", "ks", [("acc", 52.0, True)], short="KS", value_unit="percent")
    unit(
        "spear_tiny",
        "finetune",
        "librispeech_100h",
        [("wer_test_clean", 80.5, False)],
        split="test-clean",
        short="LS-100",
        value_unit="percent",
    )
    for n, value in ((4, 0.20), (8, 0.26)):
        unit(f"spear_tiny@codebooks={n}", "pretrain", "mvq_prediction", [("accuracy", value, True)])
    return store


@pytest.fixture(scope="session")
def write_demo_store():
    """``write_demo_store(folder)``: a demo-like results store (rows of every suite and an ablation) in ``folder``."""
    return _write_demo_store
