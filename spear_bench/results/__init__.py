"""The results store: one row per (model, suite, task, metric) measurement."""

from spear_bench.results.store import (
    ResultRow,
    ResultsStore,
    atomic_write_bytes,
    atomic_write_text,
    config_hash,
    git_commit,
)

__all__ = ["ResultRow", "ResultsStore", "atomic_write_bytes", "atomic_write_text", "config_hash", "git_commit"]
