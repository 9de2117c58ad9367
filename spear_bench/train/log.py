"""The training log of a run: ``<run>/log.jsonl``, one JSON record per line, and TensorBoard scalars.

Lines are appended as steps finish, so a killed run may leave a half-written last line:
:func:`read_log` leaves it out, and :meth:`TrainLog.start` of the resumed run rewrites the
file with the records up to the step it resumes from (atomically), so that no step is
lost or logged twice.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from torch.utils.tensorboard import SummaryWriter

from spear_bench.atomic_io import atomic_write_text

LOG_NAME = "log.jsonl"
TENSORBOARD = "tensorboard"


def read_log(run_dir: str | Path) -> list[dict]:
    """The records of ``<run_dir>/log.jsonl``; a half-written last line (a run killed mid-write) is left out."""
    path = Path(run_dir) / LOG_NAME
    if not path.is_file():
        return []
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines[:-1]]
    if lines:
        try:
            records.append(json.loads(lines[-1]))
        except json.JSONDecodeError:
            pass
    return records


class TrainLog:
    """Appends records (each with a ``step``) to log.jsonl and, with ``tensorboard``, their finite
    numbers (but ``step`` and ``epoch``) as ``train/<key>`` scalars to ``<run>/tensorboard/``."""

    def __init__(self, run_dir: str | Path, tensorboard: bool = False):
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / LOG_NAME
        self.tensorboard = tensorboard
        self._writer = None

    def start(self, step: int) -> None:
        """Keep the records up to ``step`` (the step the run starts from) and drop the rest."""
        if not self.path.is_file():
            return
        kept = [record for record in read_log(self.run_dir) if record["step"] <= step]
        atomic_write_text(self.path, "".join(json.dumps(record) + "\n" for record in kept))

    def write(self, record: dict) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a") as handle:
            handle.write(json.dumps(record) + "\n")
        if not self.tensorboard:
            return
        if self._writer is None:
            self._writer = SummaryWriter(str(self.run_dir / TENSORBOARD), purge_step=record["step"])
        for key, value in record.items():
            if key not in ("step", "epoch") and isinstance(value, (int, float)) and math.isfinite(value):
                self._writer.add_scalar(f"train/{key}", value, record["step"])

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
