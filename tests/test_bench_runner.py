"""The runner contract: one runner per task kind, one result type, models loaded once per owner."""

import pytest

from spear_bench.bench.orchestrate import RUNNERS, runner_for
from spear_bench.bench.runner import LoadedModels
from spear_bench.errors import ConfigError
from spear_bench.task_registry import finetune_task, load_suite


def test_one_runner_per_task_kind_the_orchestrator_runs():
    assert sorted(RUNNERS) == ["hear", "superb"]
    for spec in load_suite("demo").tasks:
        assert runner_for(spec).kind == spec.kind
    with pytest.raises(ConfigError, match="no runner for finetune tasks"):
        runner_for(finetune_task("audioset_20k"))


def test_loaded_models_load_once_per_key_and_belong_to_their_owner():
    loads = []
    models = LoadedModels()
    assert models.get("a", lambda: loads.append("a") or object()) is models.get("a", lambda: loads.append("a"))
    models.get("b", lambda: loads.append("b"))
    assert loads == ["a", "b"]
    LoadedModels().get("a", lambda: loads.append("a"))  # another owner loads its own
    assert loads == ["a", "b", "a"]
