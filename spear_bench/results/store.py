"""Results store.

Layout: ``<root>/<suite>/<model>/<task>__<config_hash>__seed<seed>.json``, one file per
finished unit of work (a model scored on one task under one config and seed), holding
that unit's rows. A unit's file is written atomically (temporary file + ``os.replace``),
so a killed run leaves either the whole unit or nothing: resuming skips finished units,
and no row is lost or duplicated. :meth:`ResultsStore.table` reads every unit into one
pandas DataFrame with the columns of :class:`ResultRow`.

Damaged files heal: a unit file that cannot be read or lacks a row's fields (cut short by a
full disk, edited by hand) is moved aside by :meth:`ResultsStore.is_done` (kept as
``<name>.damaged-<UTC time>`` for inspection, reported in one line) and the unit counts as
not done, so the run computes it again; :meth:`ResultsStore.rows` (the report's reader)
skips such a file with a one-line warning instead of failing.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import hashlib
import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from spear_bench.atomic_io import atomic_write_text, move_aside, warn
from spear_bench.errors import SpearBenchError


@dataclass(frozen=True)
class ResultRow:
    model: str
    suite: str  # hear | superb | demo | finetune | pretrain ...
    task: str
    metric: str
    value: float
    seed: int = 42
    config_hash: str = ""
    git_commit: str = ""
    time: str = ""  # ISO 8601, UTC
    split: str = "test"
    higher_is_better: bool = True  # the metric's direction, from the task registry (like the two below)
    task_short: str = ""  # the task's short name (the paper's column: ESC, PR, AS-20k...); "" in older rows
    unit: str = ""  # how ``value`` is expressed: fraction | percent | dB | "" (none, or not recorded)
    weights: str = ""  # fingerprint of the weights scored: "sha256:..." or "random-init" ("": rows from before)
    layer: str = ""  # HEAR: the embedding layer scored (last | all | N); "" for SUPERB's weighted sum and older rows
    # SUPERB: the weighted-sum probe's learned layer weights (softmaxed, one per hidden state; sum 1), mean over folds
    layer_weights: tuple[float, ...] = ()
    # SUPERB learning-rate search (--lr-grid): {"grid": [...], "chosen": lr, "dev_metric": name,
    # "dev": [dev score per rate], "test": [primary test score per rate]}; None: the recipe's own rate
    lr_search: dict | None = None


COLUMNS = [f.name for f in dataclasses.fields(ResultRow)]
REQUIRED_COLUMNS = [f.name for f in dataclasses.fields(ResultRow) if f.default is dataclasses.MISSING]


def config_hash(config: object) -> str:
    """A short, stable hash of a JSON-serialisable config."""
    blob = json.dumps(config, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:12]


def git_commit(repo: Path | None = None) -> str:
    """The checkout's HEAD commit (with ``+dirty`` if modified), or ``unknown``."""
    cwd = repo or Path(__file__).resolve().parents[2]
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=cwd, capture_output=True, text=True
        ).stdout.strip()
        return head + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.+-]", "_", name)


class ResultsStore:
    def __init__(self, root: Path | str):
        self.root = Path(root)

    def unit_path(self, model: str, suite: str, task: str, config_hash: str, seed: int) -> Path:
        return self.root / _safe(suite) / _safe(model) / f"{_safe(task)}__{config_hash}__seed{seed}.json"

    def is_done(self, model: str, suite: str, task: str, config_hash: str, seed: int) -> bool:
        """Whether the unit's file holds its rows; a damaged file is moved aside (the unit is then not done)."""
        path = self.unit_path(model, suite, task, config_hash, seed)
        if not path.exists():
            return False
        try:
            self.read_unit(path)
        except SpearBenchError as error:
            move_aside(path, str(error).removeprefix(f"{path}: "), "the unit is computed again")
            return False
        return True

    def write_unit(self, rows: Iterable[ResultRow]) -> Path:
        """Store the rows of one finished unit (same model, suite, task, config hash, seed)."""
        rows = list(rows)
        if not rows:
            raise SpearBenchError("write_unit: no rows to store")
        keys = {(r.model, r.suite, r.task, r.config_hash, r.seed) for r in rows}
        if len(keys) != 1:
            raise SpearBenchError(
                f"write_unit: rows of one unit must share model/suite/task/config/seed, got {sorted(keys)}"
            )
        commit, stamp = git_commit(), now_iso()
        rows = [dataclasses.replace(r, git_commit=r.git_commit or commit, time=r.time or stamp) for r in rows]
        path = self.unit_path(*next(iter(keys)))
        atomic_write_text(path, json.dumps([dataclasses.asdict(r) for r in rows], indent=1))
        return path

    @staticmethod
    def read_unit(path: Path | str) -> list[ResultRow]:
        """The rows of one unit's file (the only reader of the store's files; a one-line error if unreadable)."""
        path = Path(path)
        try:
            records = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise SpearBenchError(f"{path}: unreadable results file ({error})") from error
        if not isinstance(records, list) or not records:
            raise SpearBenchError(f"{path}: malformed results file (expected a non-empty list of rows)")
        rows = []
        for number, record in enumerate(records, 1):
            missing = [k for k in REQUIRED_COLUMNS if not isinstance(record, dict) or k not in record]
            if missing:
                raise SpearBenchError(f"{path}: malformed results file (row {number} lacks {', '.join(missing)})")
            if isinstance(record["value"], bool) or not isinstance(record["value"], (int, float)):
                raise SpearBenchError(
                    f"{path}: malformed results file (row {number}: value {record['value']!r} is not a number)"
                )
            if not isinstance(record.get("layer_weights", []), list):
                raise SpearBenchError(f"{path}: malformed results file (row {number}: layer_weights is not a list)")
            row = ResultRow(**{k: record[k] for k in COLUMNS if k in record})
            rows.append(dataclasses.replace(row, layer_weights=tuple(row.layer_weights)))
        return rows

    def unit_rows(self, model: str, suite: str, task: str, config_hash: str, seed: int) -> list[ResultRow]:
        """The stored rows of one finished unit."""
        return self.read_unit(self.unit_path(model, suite, task, config_hash, seed))

    # -- ablation variants: what a sweep measured each variant at, beside its rows (spear_bench.ablate)

    VARIANTS_DIR = "_ablations"

    def write_variant_record(self, record: dict) -> Path:
        """Record one ablation variant (``record["model"]``: its name in the rows); an unchanged record stays as is."""
        path = self.root / self.VARIANTS_DIR / f"{record['model']}.json"
        try:
            if path.is_file() and json.loads(path.read_text()) == record:
                return path
        except (OSError, json.JSONDecodeError):
            pass  # unreadable: written again below
        atomic_write_text(path, json.dumps(record, indent=1) + "\n")
        return path

    def variant_scales(self) -> dict[str, str]:
        """Model name -> the scale text of every recorded ablation variant (unreadable records are skipped)."""
        folder = self.root / self.VARIANTS_DIR
        out = {}
        for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
            try:
                record = json.loads(path.read_text())
                out[record["model"]] = record["scale"]
            except (OSError, ValueError, KeyError):
                continue
        return out

    def rows(self) -> list[ResultRow]:
        out: list[ResultRow] = []
        if not self.root.exists():
            return out
        for path in sorted(self.root.glob("*/*/*.json")):
            try:
                out.extend(self.read_unit(path))
            except SpearBenchError as error:  # one damaged unit must not hide the others
                warn(f"{error}; skipped")
        return out

    def table(self):
        """All rows as a pandas DataFrame (columns of ResultRow)."""
        import pandas as pd

        return pd.DataFrame([dataclasses.asdict(r) for r in self.rows()], columns=COLUMNS)
