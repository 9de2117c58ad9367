"""`spear-bench data check` on a folder tree the size of the full HEAR suite.

Writes the 18 HEAR task folders of tasks/hear.yaml with their published clip counts
(hearbenchmark.com's task table: 266,000 clips in all), empty audio files at 48000/ (the check
reads names and sizes only), split files and vocabularies, then times the check of the whole
suite (in-process, the same function the command calls) and prints the seconds and the file
count. ``--keep DIR`` writes the tree there and leaves it.

    python benchmarks/data_check_speed.py
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

from spear_bench.datasets.check import check_suite
from spear_bench.task_registry import load_suite

# clips per task, hearbenchmark.com/hear-tasks.html
CLIPS = {
    "dcase2016_task2": 72,
    "nsynth_pitch_5h": 5000,
    "nsynth_pitch_50h": 49060,
    "speech_commands_5h": 22890,
    "speech_commands_full": 100503,
    "beijing_opera": 236,
    "crema_d": 7438,
    "esc50": 2000,
    "fsd50k": 51185,
    "gunshot_triangulation": 88,
    "gtzan_genre": 1000,
    "gtzan_music_speech": 128,
    "libricount": 5720,
    "maestro_5h": 185,
    "mridangam_stroke": 6977,
    "mridangam_tonic": 6977,
    "vocal_imitation": 5601,
    "vox_lingua_top10": 972,
}


def write_tree(root: Path) -> int:
    files = 0
    for spec in load_suite("hear").tasks:
        folder = root / spec.folder
        if spec.split_mode == "trainvaltest":
            splits = ["train", "valid", "test"]
        else:
            splits = [f"fold{i:02d}" for i in range(spec.folds)]
        metadata = {"task_name": spec.name, "split_mode": spec.split_mode, "splits": splits,
                    "embedding_type": "event" if spec.level == "timestamp" else "scene"}  # fmt: skip
        folder.mkdir(parents=True)
        (folder / "task_metadata.json").write_text(json.dumps(metadata))
        (folder / "labelvocabulary.csv").write_text("idx,label\n0,a\n")
        n = CLIPS[spec.name]
        for i, split in enumerate(splits):
            names = [f"{split}_{k:06d}.wav" for k in range(i, n, len(splits))]
            event = spec.level == "timestamp"
            value = [{"label": "a", "start": 0.0, "end": 10.0}] if event else ["a"]
            (folder / f"{split}.json").write_text(json.dumps({name: value for name in names}))
            audio = folder / "48000" / split
            audio.mkdir(parents=True)
            for name in names:
                (audio / name).touch()
            files += len(names)
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, default=None)
    args = parser.parse_args(argv)
    root = args.keep or Path(tempfile.mkdtemp(prefix="spear-bench-check-"))
    start = time.perf_counter()
    files = write_tree(root)
    written = time.perf_counter() - start
    start = time.perf_counter()
    checks = check_suite("hear", root)
    seconds = time.perf_counter() - start
    missing = sum(len(c.missing) for c in checks)
    print(f"HEAR suite tree: {len(checks)} tasks, {files} audio files (written in {written:.1f} s)")
    print(f"data check: {seconds:.2f} s, {missing} missing pieces")
    if args.keep is None:
        shutil.rmtree(root)
    return 0 if missing == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
