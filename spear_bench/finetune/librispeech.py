"""LibriSpeech in its distributed layout -> lhotse cuts (via lhotse's own recipe).

Layout (as extracted from the OpenSLR tarballs)::

    <root>/<split>/<speaker>/<chapter>/<speaker>-<chapter>-<utt>.flac
    <root>/<split>/<speaker>/<chapter>/<speaker>-<chapter>.trans.txt   # "<utt id> TRANSCRIPT" lines

``<root>`` may also be the folder that contains ``LibriSpeech/``. Splits: train-clean-100,
train-clean-360, train-other-500, dev-clean, dev-other, test-clean, test-other (and the
mini-LibriSpeech parts). Manifests are written under ``manifest_dir`` and reused.
"""

from __future__ import annotations

import logging
from pathlib import Path

from spear_bench.errors import DatasetError

LIBRISPEECH_SPLITS = (
    "train-clean-100",
    "train-clean-360",
    "train-other-500",
    "dev-clean",
    "dev-other",
    "test-clean",
    "test-other",
)
_LAYOUT = "<split>/<speaker>/<chapter>/<speaker>-<chapter>-<utt>.flac + <speaker>-<chapter>.trans.txt"


def find_librispeech_root(data_dir: str | Path) -> Path:
    """The folder holding the split folders: ``data_dir`` itself or ``data_dir/LibriSpeech``."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise DatasetError(f"LibriSpeech folder not found: {data_dir} (expected {data_dir}/{_LAYOUT})")
    for candidate in (data_dir, data_dir / "LibriSpeech"):
        if any((candidate / split).is_dir() for split in LIBRISPEECH_SPLITS):
            return candidate
    return data_dir


def librispeech_cuts(
    data_dir: str | Path, splits: list[str], manifest_dir: str | Path | None = None, num_jobs: int = 1
):
    """``{split: CutSet}`` for the requested splits; a missing split is a one-line DatasetError naming its path."""
    from lhotse import CutSet  # heavy (~1 s): paid only where cuts are handled
    from lhotse.recipes import prepare_librispeech

    root = find_librispeech_root(data_dir)
    for split in splits:
        split_dir = root / split
        if not split_dir.is_dir():
            raise DatasetError(f"LibriSpeech split {split!r} not found: expected folder {split_dir} ({_LAYOUT})")
        if next(split_dir.rglob("*.trans.txt"), None) is None:
            raise DatasetError(f"LibriSpeech split {split!r}: no *.trans.txt under {split_dir} ({_LAYOUT})")
    # lhotse's recipe logs one warning per missing FLAC; keep them but not its progress chatter.
    logging.getLogger("lhotse").setLevel(logging.WARNING)
    manifests = prepare_librispeech(root, dataset_parts=list(splits), output_dir=manifest_dir, num_jobs=num_jobs)
    cuts = {}
    for split in splits:
        parts = manifests.get(split)
        if not parts or len(parts["recordings"]) == 0:
            raise DatasetError(f"LibriSpeech split {split!r}: no readable utterances under {root / split}")
        cuts[split] = CutSet.from_manifests(recordings=parts["recordings"], supervisions=parts["supervisions"])
    return cuts


def cut_transcript(cut) -> str:
    return " ".join(s.text for s in cut.supervisions if s.text)
