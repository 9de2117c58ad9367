"""Task and metric names the runners write map to the paper's columns."""
from __future__ import annotations

import pytest

from spear_bench.report.reference import load_hear_groups
from spear_bench.report.tasks import FINETUNE, SUPERB, canonical_split, hear_benchmark, to_paper_units


@pytest.mark.parametrize("store_name, key", [
    ("esc50-v2.0.0-full", "ESC"), ("tfds_gtzan-1.0.0-full", "GZ-Gen"), ("tfds_gtzan_music_speech-1.0.0-full", "GZ-MS"),
    ("nsynth_pitch-v2.2.3-5h", "NS-5"), ("nsynth_pitch-v2.2.3-50h", "NS-50"), ("speech_commands-v0.0.2-5h", "SC-5"),
    ("speech_commands-v0.0.2-full", "SC-F"), ("dcase2016_task2-hear2021-full", "D16"), ("vox_lingua_top10-hear2021-full", "VL"),
    ("mridangam_tonic-v0.1-full", "Mri-T"), ("beijing_opera-v1.0-hear2021-full", "BJ"), ("ESC", "ESC"),
    # the names of tasks/hear.yaml
    ("gtzan_genre", "GZ-Gen"), ("gtzan_music_speech", "GZ-MS"), ("nsynth_pitch_5h", "NS-5"), ("nsynth_pitch_50h", "NS-50"),
    ("speech_commands_5h", "SC-5"), ("speech_commands_full", "SC-F"), ("maestro_5h", "MST"), ("vocal_imitation", "VI"),
    ("vox_lingua_top10", "VL"), ("gunshot_triangulation", "Gun"), ("libricount", "LC"), ("crema_d", "CD"),
])
def test_heareval_task_names_map_to_the_paper_abbreviations(store_name, key):
    spec = hear_benchmark(load_hear_groups()).find_task(store_name)
    assert spec is not None and spec.key == key


@pytest.mark.parametrize("store_name, key", [("sid", "SID"), ("speaker_identification", "SID"), ("asv", "SV"),
                                             ("ks", "KS"), ("emotion", "ER"), ("pr", "PR"), ("ood_asr", "OOD-ASR")])
def test_superb_task_names_map_to_the_paper_abbreviations(store_name, key):
    assert SUPERB.find_task(store_name).key == key


def test_unknown_task_names_match_nothing():
    assert SUPERB.find_task("demo_tone_pitch") is None
    assert FINETUNE.find_task("ls100").key == "LS-100"


def test_heareval_fractions_become_percent_and_percent_stays():
    assert to_paper_units("top1_acc", 0.875) == pytest.approx(87.5)
    assert to_paper_units("top1_acc", 87.5) == 87.5
    assert to_paper_units("wer", 0.5) == 0.5  # not a fraction metric: already percent


def test_split_aliases():
    assert canonical_split("test_clean") == "test-clean" and canonical_split("test") == "" and canonical_split("valid") == "valid"


def test_every_task_of_the_hear_task_file_maps_with_its_primary_metric():
    import yaml

    from spear_bench.paths import tasks_dir

    benchmark = hear_benchmark(load_hear_groups())
    for task in yaml.safe_load((tasks_dir() / "hear.yaml").read_text())["tasks"]:
        for name in (task["name"], task["folder"]):
            spec = benchmark.find_task(name)
            assert spec is not None and spec.key == task["short"], name
            assert spec.metric(task["metric"]) is not None, (name, task["metric"])


def test_every_task_of_the_superb_task_file_maps_with_its_paper_metrics():
    import yaml

    from spear_bench.paths import tasks_dir

    for task in yaml.safe_load((tasks_dir() / "superb.yaml").read_text())["tasks"]:
        spec = SUPERB.find_task(task["name"])
        assert spec is not None and spec.key == task["short"], task["name"]
        assert spec.metric(task["metric"]) is not None, (task["name"], task["metric"])
        for metric in task["metrics"]:
            found = spec.metric(metric["name"])
            assert found is None or found.higher_is_better == metric["higher_is_better"], (task["name"], metric)
