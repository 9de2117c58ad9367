"""The generated demo datasets: real HEAR and SUPERB layouts, deterministic, readable by the runners."""

import hashlib
import json
from pathlib import Path

import soundfile as sf

from spear_bench.bench.hear_data import read_task
from spear_bench.demo import generate, hear_tasks
from spear_bench.task_registry import HearTaskSpec, load_suite


def test_hear_demo_tasks_are_valid_hear_folders(demo_root):
    root = demo_root
    for spec in load_suite("demo").tasks:
        if not isinstance(spec, HearTaskSpec):
            continue
        task = read_task(spec, root)
        assert task.metadata["embedding_type"] == ("event" if spec.level == "timestamp" else "scene")
        assert task.evaluation == list(spec.metrics)
        for split, items in task.split_items.items():
            file = next(iter(items))
            info = sf.info(str(task.audio_path(split, file)))
            assert info.samplerate == 16000 and abs(info.duration - spec.sample_duration) < 1e-3
        if spec.folds:
            assert task.splits == [f"fold{i:02d}" for i in range(spec.folds)] and len(task.data_splits()) == spec.folds


def test_event_demo_task_has_onsets_and_offsets_inside_the_clips(demo_root):
    root = demo_root
    spec = load_suite("demo").task("demo_events")
    task = read_task(spec, root)
    events = [e for items in task.split_items.values() for file_events in items.values() for e in file_events]
    assert len(events) > 40
    assert all(0 <= e["start"] < e["end"] <= spec.sample_duration * 1000 for e in events)
    assert {e["label"] for e in events} == set(task.labels)


def _tree_hash(folder: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            h.update(path.relative_to(folder).as_posix().encode() + path.read_bytes())
    return h.hexdigest()


def test_generation_is_deterministic(tmp_path):
    spec = load_suite("demo").task("demo_env")
    hear_tasks.make_demo_env(tmp_path / "a", spec)
    hear_tasks.make_demo_env(tmp_path / "b", spec)
    assert _tree_hash(tmp_path / "a") == _tree_hash(tmp_path / "b")
    assert json.loads((tmp_path / "a" / "task_metadata.json").read_text())["split_mode"] == "new_split_kfold"


def test_complete_demo_data_is_reused_not_regenerated(demo_root):
    root = demo_root
    stamp = root / generate.STAMP
    before = stamp.stat().st_mtime_ns
    generate.generate_demo_data(root, log=lambda *_: None)
    assert stamp.stat().st_mtime_ns == before
