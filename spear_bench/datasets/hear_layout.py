"""What a HEAR task folder (hearpreprocess output) holds, read from its own metadata.

``task_metadata.json``, ``labelvocabulary.csv`` (idx,label), one ``<split>.json`` per split
(file -> labels or events) and the audio at ``<rate>/<split>/<file>``. The split names come from
the metadata: ``train/valid/test`` for ``trainvaltest``, else ``splits`` (or ``fold00`` ...
from ``nfolds``). One place for that rule: spear_bench.bench.hear_data and `data check` use it.
"""

from __future__ import annotations

from pathlib import Path

from spear_bench.errors import DatasetError

METADATA = "task_metadata.json"
VOCABULARY = "labelvocabulary.csv"


def split_names(metadata: dict, metadata_path: Path) -> list[str]:
    """The task's splits as heareval reads them; a k-fold task needs at least 3 folds."""
    if metadata.get("split_mode") == "trainvaltest":
        return ["train", "valid", "test"]
    names = list(metadata.get("splits") or [])
    if not names:
        names = [f"fold{i:02d}" for i in range(int(metadata.get("nfolds") or 0))]
    if len(names) < 3:
        raise DatasetError(f"{metadata_path}: k-fold task needs at least 3 folds in 'splits', got {names}")
    return names
