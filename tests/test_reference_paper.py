"""The committed reference CSVs (results/reference/) against the paper's markdown.

The paper is not part of the repository: it is read from ``$SPEAR_BENCH_PAPER`` or
``<repo>/../shared/seeds/spear-paper.md`` (a clone has no shared folder beside it). Where
it is absent, the tests that need its text are skipped with the reason printed; the checks of
the committed CSVs alone still run. Cells are looked up in the paper by a small
parser written here, independent of spear_bench.report.paper: the caption line
``Table N.``, the tab-separated block after it, the row by its label and occurrence, the
cell by its index.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from spear_bench.paths import reference_dir
from spear_bench.report.paper import default_paper_path
from spear_bench.report.reference import load_reference

PAPER = default_paper_path()
REQUIRED_TABLES = {
    "3",
    "4",
    "5",
    "11",
    "13",
    "14",
    "16",
    "17",
    "18",
    "19a",
    "19b",
    "20",
    "21",
    "22",
    "23",
    "24",
    "25",
    "26",
}
SAMPLE_SIZE = 40


@pytest.fixture(scope="module")
def paper_text() -> str:
    if not PAPER.is_file():
        pytest.skip(f"the SPEAR paper's text is not in the repository and not at {PAPER} (set SPEAR_BENCH_PAPER)")
    return PAPER.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    return load_reference()


def _strip(cell: str) -> str:
    return re.sub(r"</?\w+>|\*\*", "", cell).strip()


def paper_cell(text: str, table: str, label: str, occurrence: int, column: int) -> str | None:
    """The cleaned text of one cell of the paper, or None if the place does not exist."""
    lines = text.splitlines()
    number, sub = re.fullmatch(r"(\d+)([a-z]?)", table).groups()
    start = next((i for i, line in enumerate(lines) if line.startswith(f"Table {number}. ")), None)
    if start is None:
        return None
    if sub:
        start = next((i for i in range(start, len(lines)) if lines[i].startswith(f"({sub}) ")), None)
        if start is None:
            return None
    i = start + 1
    while i < len(lines) and "\t" not in lines[i]:
        i += 1
    seen = 0
    while i < len(lines) and "\t" in lines[i]:
        cells = lines[i].split("\t")
        if _strip(cells[0]) == label:
            if seen == occurrence:
                return _strip(cells[column]) if column < len(cells) else None
            seen += 1
        i += 1
    return None


def mismatches(text: str, rows: pd.DataFrame) -> list[str]:
    """Reference rows whose paper cell is not where they say, or holds another number."""
    out = []
    for row in rows.itertuples(index=False):
        cell = paper_cell(text, row.table, row.paper_label, row.label_occurrence, row.paper_col)
        number = re.match(r"^[-+]?\d+(?:\.\d+)?", cell or "")
        if cell is None or cell != row.paper_cell or number is None or float(number.group()) != row.value:
            out.append(
                f"Table {row.table} {row.paper_label!r}#{row.label_occurrence} col {row.paper_col}: "
                f"csv {row.value} ({row.paper_cell!r}) vs paper {cell!r}"
            )
    return out


def deterministic_sample(reference: pd.DataFrame, size: int = SAMPLE_SIZE) -> pd.DataFrame:
    """Evenly spaced rows over all tables, plus the first row of every table."""
    step = len(reference) / size
    picks = {int(i * step) for i in range(size)}
    picks |= {int(reference.index[reference["table"] == t][0]) for t in reference["table"].unique()}
    return reference.loc[sorted(picks)]


def test_reference_covers_every_required_table(reference):
    assert REQUIRED_TABLES <= set(reference["table"])


def test_reference_names_the_baseline_models(reference):
    expected = {
        "wavlm_base_plus",
        "wavlm_large",
        "hubert_large",
        "wav2vec2_large",
        "usad_base",
        "usad_large",
        "dasheng_base",
        "dasheng_0.6b",
        "dasheng_1.2b",
        "beats",
        "eat",
        "atst_frame",
        "fbank",
        "spear_s_base",
        "spear_s_large",
        "spear_a_base",
        "spear_a_large",
        "spear_sa_base",
        "spear_sa_large",
        "spear_sa_xlarge",
    }
    assert expected <= set(reference["model"])


def test_sampled_cells_match_the_paper(paper_text, reference):
    sample = deterministic_sample(reference)
    assert len(sample) >= 30 and set(sample["table"]) == set(reference["table"])
    assert mismatches(paper_text, sample) == []


def test_every_reference_cell_matches_the_paper(paper_text, reference):
    assert mismatches(paper_text, reference) == []


def test_a_mistyped_cell_in_a_paper_copy_is_caught(paper_text, reference):
    sample = deterministic_sample(reference)
    target = sample.iloc[len(sample) // 2]
    lines = paper_text.splitlines()
    # Find the sampled cell's line in the copy and change that one cell.
    number = re.match(r"\d+", target.table).group()
    caption = next(i for i, line in enumerate(lines) if line.startswith(f"Table {number}. "))
    seen = 0
    for i in range(caption, len(lines)):
        cells = lines[i].split("\t")
        if "\t" in lines[i] and _strip(cells[0]) == target.paper_label:
            if seen == target.label_occurrence:
                cells[target.paper_col] = cells[target.paper_col].replace(
                    target.paper_cell, f"{target.value + 0.1:.2f}"
                )
                lines[i] = "\t".join(cells)
                break
            seen += 1
    mutated = "\n".join(lines)
    assert mutated != paper_text
    found = mismatches(mutated, sample)
    assert len(found) == 1 and f"Table {target.table} {target.paper_label!r}" in found[0]


def test_a_mistyped_value_in_a_csv_copy_is_caught(paper_text, reference):
    sample = deterministic_sample(reference).copy()
    sample.iloc[3, sample.columns.get_loc("value")] += 0.01
    assert len(mismatches(paper_text, sample)) == 1


def test_committed_csvs_equal_a_fresh_transcription(paper_text):
    from spear_bench.report.transcribe import transcribe

    fresh = transcribe(paper_text)
    committed = {p.name: p.read_text() for p in Path(reference_dir()).glob("*.csv")}
    assert set(fresh) == set(committed)
    assert [name for name in fresh if fresh[name] != committed[name]] == []


def test_header_arrows_agree_with_metric_direction(reference):
    arrows = {"\u2191": True, "\\uparrow": True, "\u2193": False, "\\downarrow": False}
    disagree = set()
    for row in reference.itertuples(index=False):
        leaf = row.paper_header.split(" / ")[-1]
        marked = [up for arrow, up in arrows.items() if arrow in leaf]
        if marked and row.higher_is_better is not None and marked[0] != row.higher_is_better:
            disagree.add((row.table, row.task, row.metric))
    # The paper's Table 13 header marks slot-filling CER with an up arrow; an error rate is lower-is-better.
    assert disagree == {("13", "SF", "CER")}


def test_hear_task_groups_match_table_15(paper_text):
    groups = pd.read_csv(Path(reference_dir()) / "hear_task_groups.csv", dtype=str, keep_default_na=False)
    for row in groups.itertuples(index=False):
        name = f"{row.name} ({row.task}){'*' if row.frame_level == 'True' else ''}"
        assert paper_cell(paper_text, "15", name, 0, 1) == row.group, row.task
    assert groups["group"].value_counts().to_dict() == {"Music": 8, "Speech": 6, "Environment": 4}


def test_transcribing_without_the_paper_is_a_one_line_error(tmp_path, capsys):
    """A user's clone has no ../shared: the transcription names the missing file and exits 2."""
    from spear_bench.report.transcribe import main

    missing = tmp_path / "spear-paper.md"
    assert main(["--paper", str(missing), "--out", str(tmp_path / "out")]) == 2
    error = capsys.readouterr().err
    assert error == f"error: {missing}: the SPEAR paper markdown is missing (give --paper or SPEAR_BENCH_PAPER)\n"
    assert not (tmp_path / "out").exists()
