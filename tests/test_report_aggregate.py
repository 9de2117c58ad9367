"""Aggregation: HEAR group averages, the SUPERB score, measured values from store rows."""

from __future__ import annotations

import pytest

from spear_bench.report.aggregate import hear_averages, measured_values, superb_normalisers, superb_score
from spear_bench.results.store import ResultRow

GROUPS = {"A1": "Environment", "A2": "Environment", "B1": "Speech", "C1": "Music", "C2": "Music"}


def test_hear_group_average_is_the_mean_of_its_tasks():
    averages = hear_averages({"A1": 10.0, "A2": 20.0, "B1": 30.0, "C1": 40.0, "C2": 60.0}, GROUPS)
    assert averages["Environment"].value == 15.0 and averages["Music"].value == 50.0
    assert averages["all"].value == pytest.approx(32.0) and averages["all"].complete


def test_hear_average_over_missing_tasks_is_marked_partial():
    averages = hear_averages({"A1": 10.0, "C1": 40.0}, GROUPS)
    assert not averages["Environment"].complete and averages["Environment"].count == 1
    assert "Speech" not in averages


def test_superb_score_is_zero_for_fbank_and_1000_for_the_best_model():
    reference = [
        ("fbank", "PR", "PER", 80.0, False),
        ("a", "PR", "PER", 5.0, False),
        ("b", "PR", "PER", 3.0, False),
        ("fbank", "KS", "Acc", 10.0, True),
        ("a", "KS", "Acc", 98.0, True),
        ("b", "KS", "Acc", 96.0, True),
    ]
    normalisers = superb_normalisers(reference)
    assert superb_score({("PR", "PER"): 80.0, ("KS", "Acc"): 10.0}, normalisers).value == pytest.approx(0.0)
    best = superb_score({("PR", "PER"): 3.0, ("KS", "Acc"): 98.0}, normalisers)
    assert best.value == pytest.approx(1000.0) and (best.tasks, best.total) == (2, 2)
    # Lower PER is better: halfway between FBANK and the best PER scores 500 for that task.
    assert superb_score({("PR", "PER"): 41.5}, normalisers).value == pytest.approx(500.0)


def test_superb_score_covers_only_the_tasks_a_model_has():
    normalisers = superb_normalisers(
        [
            ("fbank", "PR", "PER", 80.0, False),
            ("a", "PR", "PER", 3.0, False),
            ("fbank", "KS", "Acc", 10.0, True),
            ("a", "KS", "Acc", 98.0, True),
        ]
    )
    score = superb_score({("KS", "Acc"): 98.0}, normalisers)
    assert (score.tasks, score.total) == (1, 2)
    assert superb_score({}, normalisers) is None


def _row(value, seed=0, config="c1", time="2025-01-01T00:00:00+00:00"):
    return ResultRow("m", "hear", "esc50", "top1_acc", value, seed, config, "abc", time, "test", True)


def test_measured_value_is_the_mean_over_seeds():
    (item,) = measured_values([_row(0.5, seed=0), _row(0.7, seed=1)])
    assert item.value == pytest.approx(0.6) and item.seeds == 2
    assert item.std == pytest.approx(0.1 * 2**0.5)  # the sample std (n - 1), as the interval uses


def test_measured_value_uses_the_latest_config():
    rows = [
        _row(0.9, config="old", time="2025-01-01T00:00:00+00:00"),
        _row(0.4, config="new", time="2025-02-01T00:00:00+00:00"),
    ]
    (item,) = measured_values(rows)
    assert item.value == 0.4 and item.config_hash == "new"
