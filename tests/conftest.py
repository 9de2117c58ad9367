import os

import pytest
import torch

import spear_bench  # noqa: F401  (installs the torchaudio compatibility hook first)

# Tests are CPU-only and sized for 2 cores.
torch.set_num_threads(min(2, os.cpu_count() or 1))


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


def pytest_collection_modifyitems(session, config, items):
    """The legacy SUPERB tests run last. They call s3prl's legacy runner in this process, which
    leaves process-wide state behind that slows every later test about five-fold (measured: a
    300,000-step isinstance loop 0.010 s before one QbE run, 0.052 s after). spear-bench itself
    runs each legacy unit in a process of its own (superb.legacy_tasks.run_legacy_unit)."""
    legacy = [item for item in items if item.nodeid.startswith("tests/test_superb_legacy_tasks.py")]
    items[:] = [item for item in items if item not in legacy] + legacy
