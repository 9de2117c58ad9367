"""Baseline encoders (WavLM, Dasheng, USAD) and HuBERT Large (a pre-training teacher).

Every builder is ``build_<name>(path=None, seed=0, **overrides)``: random init (seeded)
without a path, the released weights from a local path otherwise; ``overrides`` change
the size for tests. Their bundles (names, frame rates, teacher layers) are registered in
spear_bench/models/registry.py; the facts behind each model are in its module's
docstring and in docs/upstreams.md.
"""
