"""Task definitions (tasks/*.yaml) as typed records: the paper's tables, checks, one-line data errors."""

import csv

import pytest

from spear_bench.errors import ConfigError, DatasetError
from spear_bench.paths import reference_dir
from spear_bench.superb.legacy_tasks import TASKS as LEGACY_TASKS
from spear_bench.task_registry import HearTaskSpec, MetricFacts, SuperbTaskSpec, load_suite, load_suite_file


def test_hear_suite_is_table_15():
    suite = load_suite("hear")
    with open(reference_dir() / "hear_task_groups.csv", newline="") as f:
        table = {row["task"]: row for row in csv.DictReader(f)}
    assert len(suite.tasks) == 18 and {t.short for t in suite.tasks} == set(table)
    primary = {
        "Accuracy": ("top1_acc",),
        "mAP": ("mAP",),
        "Onset FMS": ("event_onset_200ms_fms", "event_onset_50ms_fms"),
        "Pitch Acc": ("pitch_acc",),
    }
    for spec in suite.tasks:
        row = table[spec.short]
        assert spec.group == row["group"].lower()
        assert (spec.level == "timestamp") == (row["frame_level"] == "True")
        assert spec.metric in primary[row["metric"]], spec.name


def test_superb_suite_is_table_12():
    suite = load_suite("superb")
    expected = {
        "SID": "acc",
        "SV": "eer",
        "SD": "der",
        "ER": "acc",
        "PR": "per",
        "ASR": "wer",
        "OOD-ASR": "wer",
        "KS": "acc",
        "QbE": "mtwv",
        "ST": "bleu",
        "IC": "acc",
        "SF": "slot_type_f1",
        "SE": "pesq",
        "SS": "si_sdri",
        "VC": "mcd",
    }
    assert {t.short: t.metric for t in suite.tasks} == expected
    lower_better = {"eer", "der", "per", "wer", "mcd", "slot_value_cer", "cer", "stand_in_vocoder", "stand_in_asr"}
    for spec in suite.tasks:
        for metric in spec.metrics:
            assert metric.higher_is_better == (metric.name not in lower_better), (spec.name, metric.name)
    problems = {"PR", "ASR", "KS", "IC", "SID", "ER", "SF", "SV", "SD"}
    assert {t.short for t in suite.tasks if t.s3prl_entry == "problem"} == problems
    assert {t.short for t in suite.tasks if t.s3prl_entry == "legacy"} == {"OOD-ASR", "QbE", "ST", "SE", "SS", "VC"}


def test_demo_suite_runs_superb_recipes_with_a_short_schedule():
    suite = load_suite("demo")
    ks = suite.task("demo_ks")
    assert isinstance(ks, SuperbTaskSpec) and ks.s3prl_problem == "SuperbKS" and ks.protocol.total_steps < 1000
    kinds = {type(t) for t in suite.tasks}
    assert kinds == {HearTaskSpec, SuperbTaskSpec}
    assert any(t.level == "timestamp" for t in suite.tasks if isinstance(t, HearTaskSpec))
    assert any(t.split_mode != "trainvaltest" for t in suite.tasks if isinstance(t, HearTaskSpec))


def test_demo_superb_suite_holds_every_superb_task_spear_bench_runs():
    demo = load_suite("demo_superb")
    runs = [t for t in load_suite("superb").tasks if t.s3prl_entry]
    assert len(load_suite("superb").tasks) == 15 and len(runs) == 15
    assert sorted(t.base_name for t in demo.tasks) == sorted(t.name for t in runs)
    problems = [t for t in demo.tasks if t.s3prl_entry == "problem"]
    assert len(problems) == 9 and all(t.protocol.total_steps <= 4 for t in problems)
    # the legacy tasks' demo schedule lives beside their recipes (superb.legacy.DEMO_OVERRIDES)
    assert {t.base_name for t in demo.tasks if t.s3prl_entry == "legacy"} == set(LEGACY_TASKS)


def test_select_by_name_or_abbreviation_and_unknown_task_error():
    suite = load_suite("hear")
    assert [t.name for t in suite.select(["ESC", "fsd50k"])] == ["esc50", "fsd50k"]
    with pytest.raises(ConfigError, match="no task 'nope'"):
        suite.select(["nope"])


def test_malformed_task_file_is_a_one_line_error(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("suite: x\ntasks:\n  - {kind: hear, name: t, level: clip}\n")
    with pytest.raises(ConfigError) as error:
        load_suite_file(path)
    assert "bad.yaml" in str(error.value) and "\n" not in str(error.value)


def test_missing_hear_task_folder_names_the_expected_path(tmp_path):
    spec = load_suite("hear").task("esc50")
    with pytest.raises(DatasetError) as error:
        spec.check_data(tmp_path)
    assert str(tmp_path / "esc50-v2.0.0-full" / "task_metadata.json") in str(error.value)


def test_missing_superb_file_names_the_expected_path(tmp_path):
    spec = load_suite("superb").task("ks")
    (tmp_path / "speech_commands" / "speech_commands_v0.01").mkdir(parents=True)
    with pytest.raises(DatasetError) as error:
        spec.check_data(tmp_path)
    assert str(tmp_path / "speech_commands" / "speech_commands_v0.01" / "validation_list.txt") in str(error.value)


def test_every_metric_states_its_unit_and_direction(tmp_path):
    from spear_bench.task_registry import load_suite_file

    path = tmp_path / "bad.yaml"
    path.write_text(
        "suite: finetune\ntasks:\n"
        "  - {name: t, short: T, title: T, finetune: asr, metrics: [{name: wer, higher_is_better: false}]}\n"
    )
    with pytest.raises(ConfigError, match="each metric needs name, unit and higher_is_better"):
        load_suite_file(path)
    path.write_text(
        "suite: finetune\ntasks:\n"
        "  - {name: t, short: T, title: T, finetune: asr, "
        "metrics: [{name: wer, unit: percnt, higher_is_better: false}]}\n"
    )
    with pytest.raises(ConfigError, match="unit must be one of"):
        load_suite_file(path)


def test_metric_facts_come_from_the_registry():
    from spear_bench.task_registry import finetune_task, load_suite

    assert load_suite("hear").task("ESC").metric_facts("top1_acc") == MetricFacts("top1_acc", "fraction", True)
    assert load_suite("hear").task("D16").metric_facts("segment_1s_er") == MetricFacts(
        "segment_1s_er", "fraction", False
    )
    assert load_suite("superb").task("PR").metric_facts("per") == MetricFacts("per", "percent", False)
    assert finetune_task("audioset_20k").metric_facts("mAP_step0") == MetricFacts("mAP_step0", "percent", True)
    assert finetune_task("librispeech_100h_rnnt").metric_facts("wer_test_other").higher_is_better is False
    with pytest.raises(ConfigError, match="has no metric"):
        load_suite("hear").task("ESC").metric_facts("pitch_acc")
    with pytest.raises(ConfigError, match="fine-tune task 'as20k' is not in"):
        finetune_task("as20k")


def test_every_fine_tune_config_names_a_registered_task():
    import yaml

    from spear_bench.paths import REPO_ROOT
    from spear_bench.task_registry import finetune_task

    for path in sorted((REPO_ROOT / "configs" / "finetune").glob("*.yaml")):
        finetune_task(yaml.safe_load(path.read_text())["task"])


def test_run_refuses_the_finetune_suite():
    from spear_bench.bench.orchestrate import RunConfig, plan

    with pytest.raises(ConfigError, match="spear-bench finetune"):
        plan(RunConfig(suite="finetune", models=("spear_tiny",)))


def test_the_paper_columns_come_from_the_task_files(tmp_path):
    superb = load_suite("superb").paper_columns
    assert [(c.task, c.header, c.decimals) for c in superb if c.task == "SE"] == [("SE", "PESQ", 2), ("SE", "STOI", 1)]
    finetune = [c for c in load_suite("finetune").paper_columns if c.task == "LS-100"]
    assert len(finetune) == 1 and finetune[0].splits == ("test-clean", "test-other")  # two LS-100 tasks, one column
    hear = load_suite("hear").paper_columns
    assert [c.task for c in hear] == [t.short for t in load_suite("hear").tasks]
    assert {(c.metric, c.header) for c in hear if c.task in ("D16", "MST")} == {
        ("event_onset_200ms_fms", "Onset-FMS"),
        ("event_onset_50ms_fms", "Onset-FMS"),
    }
    assert load_suite("demo").paper_columns == () and load_suite("demo").hear_probe_grid["demo_words"]
    path = tmp_path / "bad.yaml"
    path.write_text(
        "suite: finetune\ntasks:\n"
        "  - {name: t, short: T, title: T, finetune: asr, "
        "metrics: [{name: wer, unit: percent, higher_is_better: false, paper: WER}]}\n"
    )
    with pytest.raises(ConfigError, match="needs paper .a header. and decimals"):
        load_suite_file(path)
    path.write_text(
        "suite: finetune\ntasks:\n"
        "  - {name: a, short: T, title: T, finetune: asr, "
        "metrics: [{name: wer, unit: percent, higher_is_better: false, paper: WER, decimals: 1}]}\n"
        "  - {name: b, short: T, title: T, finetune: asr, "
        "metrics: [{name: wer, unit: percent, higher_is_better: false, paper: WER, decimals: 2}]}\n"
    )
    with pytest.raises(ConfigError, match="prints 'wer' two ways"):
        load_suite_file(path)
