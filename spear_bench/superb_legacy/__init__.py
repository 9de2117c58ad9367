"""The generated demo corpora of the six legacy-runner SUPERB tasks (:mod:`.demo_corpora`).

The tasks themselves live in :mod:`spear_bench.superb`; these generators move to the one place for
demo corpora (``spear_bench/demo/``) when that package exists.
"""

from spear_bench.superb_legacy.demo_corpora import generate_legacy_demo

__all__ = ["generate_legacy_demo"]
