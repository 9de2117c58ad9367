"""The report's paper columns: found by the short name a row carries (from the task registry), units from the row."""

from __future__ import annotations

import pytest

from spear_bench.report.columns import FINETUNE, SUPERB, canonical_split, display_value, hear_benchmark
from spear_bench.report.reference import load_hear_groups
from spear_bench.task_registry import load_suite


def test_every_hear_task_of_the_registry_is_a_column_with_its_title_and_primary_metric():
    benchmark = hear_benchmark(load_hear_groups())
    registry = load_suite("hear").tasks
    assert sorted(t.key for t in benchmark.tasks) == sorted(t.short for t in registry)
    for task in registry:
        spec = benchmark.find_task(task.short)
        assert spec.title == task.title  # titles come from tasks/hear.yaml
        assert spec.metric(task.metric) is not None, (task.name, task.metric)
        assert spec.group in ("Environment", "Speech", "Music")


def test_every_superb_task_of_the_registry_is_a_column_with_its_metrics_in_the_same_direction():
    for task in load_suite("superb").tasks:
        spec = SUPERB.find_task(task.short)
        assert spec is not None, task.name
        assert spec.metric(task.metric) is not None, (task.name, task.metric)
        for metric in task.metrics:
            found = spec.metric(metric.name)
            assert found is None or found.higher_is_better == metric.higher_is_better, (task.name, metric)


def test_fine_tune_tasks_with_a_paper_column_share_its_short_name_and_direction():
    shorts = {t.short: t for t in load_suite("finetune").tasks}
    for key in ("LS-100", "LS-960", "AS-20k", "AS-2M"):
        spec, task = FINETUNE.find_task(key), shorts[key]
        assert spec.metrics[0].higher_is_better == task.metrics[0].higher_is_better


def test_tasks_are_found_by_short_name_only_never_by_a_stored_name():
    assert SUPERB.find_task("SID").key == "SID"
    for stored in ("sid", "speaker_identification", "esc50-v2.0.0-full", "ls100", ""):
        assert SUPERB.find_task(stored) is None and FINETUNE.find_task(stored) is None
        assert hear_benchmark({}).find_task(stored) is None


def test_values_are_shown_by_the_unit_their_row_gives_never_by_their_size():
    assert display_value(0.875, "fraction") == pytest.approx(87.5)
    assert display_value(0.8, "percent") == 0.8  # an AudioSet mAP of 0.8 % stays 0.8
    assert display_value(87.5, "percent") == 87.5
    assert display_value(0.5, "") == 0.5 and display_value(-3.2, "dB") == -3.2


def test_fine_tuned_asr_metrics_name_their_split():
    spec = FINETUNE.find_task("LS-100")
    assert spec.metric("wer_test_clean", "test-clean").key == "WER"
    assert spec.metric("wer_test_clean", "test-other") is None


def test_split_aliases():
    assert (
        canonical_split("test_clean") == "test-clean"
        and canonical_split("test") == ""
        and canonical_split("valid") == "valid"
    )
