"""One torchrun worker of ``spear-bench run --launcher torchrun`` (see spear_bench.bench.launchers)."""

import sys

import spear_bench  # noqa: F401  (torchaudio hook first)
from spear_bench.bench.launchers import worker_main

if __name__ == "__main__":
    sys.exit(worker_main(sys.argv[1]))
