"""The results store: one row per (model, suite, task, metric) measurement."""

from spear_bench.results.store import ResultRow, ResultsStore, config_hash, git_commit

__all__ = ["ResultRow", "ResultsStore", "config_hash", "git_commit"]
