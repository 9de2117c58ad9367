"""The paper's published numbers, as committed in ``results/reference/*.csv``.

One CSV per paper table, long format: one row per published cell. Columns:

- ``table``: the paper's table ("3", "16", "19a"); ``suite``: superb | hear | finetune | config
- ``model``: canonical id (:mod:`spear_bench.report.paper_models`); ``variant``: what tells this
  row apart from other rows of the same model (``features=concat``, ``data=13k``,
  ``lm=4_gram``, ``codebooks=8``...); ``condition``: variant plus table-wide settings
- ``task``, ``metric``, ``split`` (``test-clean``/``test-other``/``eval`` or empty),
  ``value`` (the paper's number), ``higher_is_better`` (True/False; empty for Table 25)
- ``params``, ``pretrain_data``, ``section``: the row's other cells and its section label
- ``paper_label``, ``label_occurrence``, ``paper_col``, ``paper_header``, ``paper_cell``:
  where the number stands in the paper's markdown (the row label, which line with that
  label, which tab-separated cell) and its cell text without markup; the reference tests
  re-read the paper at exactly that place
- ``notes``: evidence for inferred conditions, header typos

``hear_task_groups.csv`` is Table 15: HEAR task, name, group, metric, frame level.
"""

from __future__ import annotations

from pathlib import Path

from spear_bench.errors import SpearBenchError
from spear_bench.paths import reference_dir

REFERENCE_COLUMNS = [
    "table",
    "suite",
    "model",
    "variant",
    "task",
    "metric",
    "split",
    "value",
    "higher_is_better",
    "condition",
    "params",
    "pretrain_data",
    "section",
    "paper_label",
    "label_occurrence",
    "paper_col",
    "paper_header",
    "paper_cell",
    "notes",
]
HEAR_GROUPS_FILE = "hear_task_groups.csv"
HEAR_GROUP_COLUMNS = ["task", "name", "group", "metric", "frame_level"]


def _reference_dir(path: Path | str | None) -> Path:
    if path is not None:
        return Path(path)
    return reference_dir()


def reference_files(path: Path | str | None = None) -> list[Path]:
    folder = _reference_dir(path)
    files = sorted(folder.glob("table*.csv"))
    if not files:
        raise SpearBenchError(
            f"{folder}: no reference tables (table*.csv); run python -m spear_bench.report.transcribe"
        )
    return files


def load_reference(path: Path | str | None = None):
    """Every reference CSV in one DataFrame; ``value`` float, ``higher_is_better`` True/False/None."""
    import pandas as pd

    frames = []
    for file in reference_files(path):
        frame = pd.read_csv(file, dtype=str, keep_default_na=False)
        missing = set(REFERENCE_COLUMNS) - set(frame.columns)
        if missing:
            raise SpearBenchError(f"{file}: missing columns {sorted(missing)}")
        frames.append(frame[REFERENCE_COLUMNS])
    table = pd.concat(frames, ignore_index=True)
    try:
        table["value"] = table["value"].astype(float)
    except ValueError as error:
        raise SpearBenchError(f"{_reference_dir(path)}: a reference value is not a number ({error})") from error
    table["higher_is_better"] = table["higher_is_better"].map({"True": True, "False": False, "": None})
    table["label_occurrence"] = table["label_occurrence"].astype(int)
    table["paper_col"] = table["paper_col"].astype(int)
    return table


def load_hear_groups(path: Path | str | None = None) -> dict[str, str]:
    """HEAR task abbreviation -> group (Environment | Speech | Music), from Table 15."""
    import pandas as pd

    file = _reference_dir(path) / HEAR_GROUPS_FILE
    if not file.is_file():
        raise SpearBenchError(f"{file}: missing (Table 15's HEAR task groups)")
    frame = pd.read_csv(file, dtype=str, keep_default_na=False)
    return dict(zip(frame["task"], frame["group"]))
