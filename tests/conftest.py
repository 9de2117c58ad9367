import os

# Bit-exact reproducibility (the pre-training resume test): MKL's kernels may pick code
# paths by memory alignment, so results could differ in the last bit between two runs in
# one process; strict conditional numerical reproducibility makes them depend on the
# data only. Must be set before MKL initialises (docs/pretraining.md).
os.environ.setdefault("MKL_CBWR", "AUTO,STRICT")

import pytest  # noqa: E402
import torch  # noqa: E402

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
def seeded():
    torch.manual_seed(0)
    return 0
