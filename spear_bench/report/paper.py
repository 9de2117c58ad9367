"""Reading the tables of the SPEAR paper's markdown text.

The paper's markdown (``shared/seeds/spear-paper.md``) writes each table as a caption
line ``Table N. ...`` followed by tab-separated lines: one or more header lines, section
lines (a label followed by empty cells) and data lines. A table ends at the first blank
line after its tab-separated block. Table 19 has two sub-tables, introduced by lines
``(a) ...`` and ``(b) ...``; they are returned as tables ``19a`` and ``19b``.

Cells keep the paper's text; :func:`clean_cell` strips the markup the paper uses for
best/second-best (``**bold**``, ``<u>underline</u>``) and italic section labels.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from spear_bench.errors import SpearBenchError
from spear_bench.paths import REPO_ROOT

_CAPTION = re.compile(r"^Table (\d+)\.\s")
_SUBCAPTION = re.compile(r"^\(([a-z])\)\s")
_MARKUP = re.compile(r"</?(u|i|b|em|strong)>|\*\*")
_NUMBER = re.compile(r"^[-+]?\d+(?:\.\d+)?$")


def default_paper_path() -> Path:
    """``$SPEAR_BENCH_PAPER``, else the paper beside the checkout (``<repo>/../shared/seeds/spear-paper.md``).

    The paper's text is not part of the repository, and a clone has no ``../shared`` beside it: the
    transcription (``python -m spear_bench.report.transcribe``) then stops with a one-line error, and
    tests/test_reference_paper.py skips its checks of the text, printing why. The tables it produced
    are committed (``results/reference``), so nothing else reads the paper.
    """
    return Path(os.environ.get("SPEAR_BENCH_PAPER") or REPO_ROOT.parent / "shared" / "seeds" / "spear-paper.md")


def read_paper(path: Path | str | None = None) -> str:
    path = Path(path) if path is not None else default_paper_path()
    if not path.is_file():
        raise SpearBenchError(f"{path}: the SPEAR paper markdown is missing (give --paper or SPEAR_BENCH_PAPER)")
    return path.read_text(encoding="utf-8")


def clean_cell(cell: str) -> str:
    """The cell's text without bold/underline/italic markup and surrounding spaces."""
    return _MARKUP.sub("", cell).strip()


def parse_number(cell: str) -> float | None:
    """The number a (cleaned) cell holds, or None for '-', '' and non-numeric text."""
    text = clean_cell(cell)
    return float(text) if _NUMBER.match(text) else None


@dataclass
class PaperTable:
    """One table of the paper: its caption and its tab-separated lines, split into cells."""

    table_id: str  # "3", "16", "19a"
    caption: str
    lines: list[list[str]] = field(default_factory=list)  # raw cells, every line of the block

    def rows_labelled(self, label: str) -> list[list[str]]:
        """The lines whose first cell (cleaned) equals ``label``, in paper order."""
        return [cells for cells in self.lines if clean_cell(cells[0]) == label]

    def cell(self, label: str, occurrence: int, column: int) -> str:
        """Raw text of column ``column`` in the ``occurrence``-th line labelled ``label``."""
        matches = self.rows_labelled(label)
        if occurrence >= len(matches):
            raise SpearBenchError(
                f"Table {self.table_id}: no line #{occurrence} labelled {label!r} ({len(matches)} found)"
            )
        cells = matches[occurrence]
        if column >= len(cells):
            raise SpearBenchError(f"Table {self.table_id}: line {label!r} has {len(cells)} cells, no column {column}")
        return cells[column]


def parse_paper_tables(text: str) -> dict[str, PaperTable]:
    """All tables of the paper text, keyed by table id ("3", "19a", ...)."""
    lines = text.splitlines()
    tables: dict[str, PaperTable] = {}
    i = 0
    while i < len(lines):
        match = _CAPTION.match(lines[i])
        if not match:
            i += 1
            continue
        number, caption = match.group(1), lines[i].strip()
        i += 1
        sub = ""
        # Scan to the next caption, collecting the first tab block (or one block per sub-caption).
        while i < len(lines) and not _CAPTION.match(lines[i]):
            sub_match = _SUBCAPTION.match(lines[i])
            if sub_match:
                sub = sub_match.group(1)
                i += 1
                continue
            if "\t" in lines[i]:
                block: list[list[str]] = []
                while i < len(lines) and lines[i].strip() and "\t" in lines[i]:
                    block.append(lines[i].split("\t"))
                    i += 1
                table_id = number + sub
                if table_id not in tables:
                    tables[table_id] = PaperTable(table_id, caption, block)
                if not sub:
                    break  # a plain table has one block; text follows
                continue
            i += 1
    return tables
