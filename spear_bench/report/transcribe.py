"""Transcribe the paper's result tables into the reference CSVs (``results/reference/``).

The committed CSVs are the source of truth; this module is how they were made and how
to remake them: ``python -m spear_bench.report.transcribe [--paper PATH] [--out DIR]``
(``--check`` compares a fresh transcription with the committed files instead of writing).

Each :class:`TableSpec` says what the columns of one paper table mean (task, metric,
split, direction) and what its rows are (a model per row, or one model under an ablation
setting per row). Conditions that the paper marks only by a grey background (lost in the
markdown) are stated in ``row_conditions`` with the evidence in ``row_notes``.
"""

from __future__ import annotations

import argparse
import csv
import io
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from spear_bench.atomic_io import atomic_write_text
from spear_bench.errors import SpearBenchError
from spear_bench.paths import reference_dir
from spear_bench.report.paper import PaperTable, clean_cell, parse_paper_tables, read_paper
from spear_bench.report.paper_models import model_id
from spear_bench.report.reference import HEAR_GROUP_COLUMNS, HEAR_GROUPS_FILE, REFERENCE_COLUMNS

_QUANTITY = re.compile(r"^([-+]?\d+(?:\.\d+)?)([kMB]?)$")


@dataclass(frozen=True)
class ValueColumn:
    col: int  # index of the tab-separated cell in the paper's line
    suite: str  # superb | hear | finetune | config
    task: str
    metric: str
    higher_is_better: bool | None
    split: str = ""
    condition: str = ""  # holds for this column only, e.g. features=concat
    note: str = ""


@dataclass(frozen=True)
class TableSpec:
    table: str
    file: str
    columns: tuple[ValueColumn, ...]
    params_col: int | None = 1
    data_col: int | None = 2
    model: str | None = None  # set for ablation tables: every row is this model
    knob: str | None = None  # ablation tables: the condition key the row label sets
    condition: str = ""  # holds for every row of the table
    extra_cols: dict[int, str] = field(default_factory=dict)  # cell -> condition key (e.g. LM)
    row_conditions: dict[tuple[str, int], str] = field(default_factory=dict)  # (model, nth) -> cond
    row_notes: dict[tuple[str, int], str] = field(default_factory=dict)
    note: str = ""


def _cols(suite: str, first: int, items: list[tuple], **common) -> tuple[ValueColumn, ...]:
    """Consecutive columns from ``first``: items are (task, metric, higher_is_better[, split])."""
    out = []
    for offset, item in enumerate(items):
        task, metric, up, *rest = item
        out.append(ValueColumn(first + offset, suite, task, metric, up, rest[0] if rest else "", **common))
    return tuple(out)


LS_CLEAN_OTHER = [("LS-100", "WER", False, "test-clean"), ("LS-100", "WER", False, "test-other")]
HEAR_TASKS_T16 = [
    "BJ",
    "CD",
    "D16",
    "ESC",
    "FSD",
    "GZ-Gen",
    "GZ-MS",
    "Gun",
    "LC",
    "MST",
    "Mri-S",
    "Mri-T",
    "NS-50",
    "NS-5",
    "SC-5",
    "SC-F",
    "VI",
    "VL",
]
HEAR_METRIC = {
    "D16": "Onset-FMS",
    "MST": "Onset-FMS",
    "FSD": "mAP",
    "VI": "mAP",
    "NS-50": "Pitch-Acc",
    "NS-5": "Pitch-Acc",
}
HEAR_AVERAGES = [
    ("HEAR-Env", "mean", True),
    ("HEAR-Speech", "mean", True),
    ("HEAR-Music", "mean", True),
    ("HEAR-Avg", "mean", True),
]
CONCAT = "features=concat"
CONCAT_NOTE_T5 = (
    "grey row in the paper (all layers concatenated); the markdown loses the shading, "
    "inferred from the row order and Table 16's per-task rows"
)
USAD_NOTE = (
    "feature concatenation inferred: Table 26's caption and Section 5.3 compare with USAD under concatenated features"
)


def _hear_cols(first: int, tasks: list[str], **common) -> tuple[ValueColumn, ...]:
    return _cols("hear", first, [(t, HEAR_METRIC.get(t, "Acc"), True) for t in tasks], **common)


SPECS: list[TableSpec] = [
    TableSpec(
        "3",
        "table03_finetune.csv",
        _cols(
            "finetune",
            3,
            [
                ("LS-100", "WER", False, "test-clean"),
                ("LS-100", "WER", False, "test-other"),
                ("LS-960", "WER", False, "test-clean"),
                ("LS-960", "WER", False, "test-other"),
                ("AS-20k", "mAP", True, "eval"),
                ("AS-2M", "mAP", True, "eval"),
            ],
        ),
        condition="decoder=rnnt",
        row_notes={
            (m, 0): "fine-tuned from the public checkpoint (triangle in the paper)"
            for m in ("wavlm_base_plus", "wavlm_large", "usad_base", "usad_large")
        },
    ),
    TableSpec(
        "4",
        "table04_superb.csv",
        _cols(
            "superb",
            3,
            [
                ("PR", "PER", False),
                ("ASR", "WER", False),
                ("IC", "Acc", True),
                ("KS", "Acc", True),
                ("SID", "Acc", True),
                ("SV", "EER", False),
                ("SD", "DER", False),
                ("ER", "Acc", True),
                ("SE", "PESQ", True),
                ("SS", "SI-SDRi", True),
            ],
        ),
        note="USAD, BEATs and EAT rows quoted by the paper from Chang et al. (2025)",
    ),
    TableSpec(
        "5",
        "table05_hear_summary.csv",
        _cols("hear", 3, HEAR_AVERAGES),
        row_conditions={
            ("spear_sa_base", 1): CONCAT,
            ("spear_sa_large", 1): CONCAT,
            ("spear_sa_xlarge", 1): CONCAT,
            ("usad_base", 0): CONCAT,
            ("usad_large", 0): CONCAT,
        },
        row_notes={
            ("spear_sa_base", 1): CONCAT_NOTE_T5,
            ("spear_sa_large", 1): CONCAT_NOTE_T5,
            ("spear_sa_xlarge", 1): CONCAT_NOTE_T5,
            ("usad_base", 0): USAD_NOTE,
            ("usad_large", 0): USAD_NOTE,
        },
    ),
    TableSpec(
        "6",
        "table06_token_mixing.csv",
        _cols("finetune", 1, LS_CLEAN_OTHER)
        + _cols(
            "superb",
            3,
            [
                ("PR", "PER", False),
                ("SD", "DER", False),
                ("SS", "SI-SDRi", True),
                ("SID", "Acc", True),
                ("SE", "PESQ", True),
            ],
        ),
        params_col=None,
        data_col=None,
        model="spear_s_base",
        knob="augmentation",
        condition="data=LibriSpeech",
    ),
    TableSpec(
        "7",
        "table07_dual_domain_strategy.csv",
        _cols("finetune", 1, LS_CLEAN_OTHER + [("AS-20k", "mAP", True, "eval")])
        + _cols("superb", 4, [("SID", "Acc", True), ("PR", "PER", False)])
        + _cols("hear", 6, [("HEAR-Avg", "mean", True)]),
        params_col=None,
        data_col=None,
        model="spear_sa_large",
        knob="strategy",
        condition="data=SA-97k;steps=100k;token_mixing=off",
    ),
    TableSpec(
        "11",
        "table11_ctc_finetune.csv",
        _cols(
            "finetune",
            3,
            LS_CLEAN_OTHER + [("LS-10", "WER", False, "test-clean"), ("LS-10", "WER", False, "test-other")],
        ),
        data_col=None,
        condition="decoder=ctc",
        extra_cols={2: "lm"},
    ),
    TableSpec(
        "13",
        "table13_superb_understanding.csv",
        _cols(
            "superb",
            3,
            [
                ("PR", "PER", False),
                ("ASR", "WER", False),
                ("OOD-ASR", "WER", False),
                ("KS", "Acc", True),
                ("QbE", "MTWV", True),
                ("ST", "BLEU", True),
                ("IC", "Acc", True),
                ("SF", "F1", True),
            ],
        )
        + (
            ValueColumn(
                11,
                "superb",
                "SF",
                "CER",
                False,
                note="the paper's header marks slot-filling CER with an up arrow; an error rate is lower-is-better",
            ),
        ),
    ),
    TableSpec(
        "14",
        "table14_superb_paralinguistics.csv",
        _cols(
            "superb",
            3,
            [
                ("SID", "Acc", True),
                ("SV", "EER", False),
                ("SD", "DER", False),
                ("ER", "Acc", True),
                ("SE", "PESQ", True),
                ("SE", "STOI", True),
                ("SS", "SI-SDRi", True),
                ("VC", "MCD", False),
                ("VC", "WER", False),
                ("VC", "ASV", True),
            ],
        ),
    ),
    TableSpec(
        "16",
        "table16_hear_tasks.csv",
        _hear_cols(2, HEAR_TASKS_T16) + _cols("hear", 20, [("HEAR-Avg", "mean", True)]),
        data_col=None,
        row_conditions={
            ("spear_a_base", 0): "data=13k",
            ("spear_a_large", 0): "data=13k",
            ("spear_a_base", 1): CONCAT,
            ("spear_a_large", 1): CONCAT,
            ("spear_sa_base", 1): CONCAT,
            ("spear_sa_large", 1): CONCAT,
            ("spear_sa_xlarge", 1): CONCAT,
            ("usad_base", 0): CONCAT,
            ("usad_large", 0): CONCAT,
            ("atst_frame", 0): CONCAT,
            ("dasheng_base", 0): "data=272k",
            ("dasheng_0.6b", 0): "data=272k",
            ("dasheng_1.2b", 0): "data=272k",
        },
        row_notes={
            **{
                (m, 1): (
                    "grey row in the paper (intermediate layers concatenated); "
                    "shading lost in the markdown, inferred from the row order"
                )
                for m in ("spear_a_base", "spear_a_large", "spear_sa_base", "spear_sa_large", "spear_sa_xlarge")
            },
            ("spear_a_base", 0): "13k-hour model: its averages match Table 5's 13k row",
            ("spear_a_large", 0): "13k-hour model: its averages match Table 5's 13k row",
            ("usad_base", 0): USAD_NOTE,
            ("usad_large", 0): USAD_NOTE,
            ("atst_frame", 0): "concatenated layers: Table 18 quotes the same numbers as HEAR* (concatenation)",
            **{
                (m, 0): "272k-hour release: its average matches Table 5's 272k row"
                for m in ("dasheng_base", "dasheng_0.6b", "dasheng_1.2b")
            },
        },
    ),
    TableSpec(
        "17",
        "table17_speech_teacher.csv",
        _cols(
            "superb",
            4,
            [
                ("ASR", "WER", False),
                ("KS", "Acc", True),
                ("IC", "Acc", True),
                ("SV", "EER", False),
                ("SID", "Acc", True),
                ("SD", "DER", False),
                ("ER", "Acc", True),
            ],
        ),
        data_col=3,
        extra_cols={2: "teacher"},
        condition="token_mixing=off",
    ),
    TableSpec(
        "18",
        "table18_audio_teacher.csv",
        _cols("finetune", 4, [("AS-20k", "mAP", True, "eval"), ("AS-2M", "mAP", True, "eval")])
        + _hear_cols(6, ["ESC", "FSD", "GZ-Gen", "NS-5", "LC", "SC-5"], condition=CONCAT),
        data_col=3,
        extra_cols={2: "teacher"},
        condition="token_mixing=off;codebooks=8",
    ),
    TableSpec(
        "19a",
        "table19_teacher_layer.csv",
        _cols("finetune", 1, LS_CLEAN_OTHER),
        params_col=None,
        data_col=None,
        model="spear_s_base",
        knob="teacher_layer",
        condition="teacher=wavlm_large;token_mixing=off",
    ),
    TableSpec(
        "19b",
        "table19_teacher_layer.csv",
        _cols("finetune", 1, [("AS-20k", "mAP", True, "eval")]),
        params_col=None,
        data_col=None,
        model="spear_a_base",
        knob="teacher_layer",
        condition="teacher=dasheng_1.2b;token_mixing=off",
    ),
    TableSpec(
        "20",
        "table20_backbone.csv",
        _cols("finetune", 1, LS_CLEAN_OTHER)
        + _cols(
            "superb",
            3,
            [("PR", "PER", False), ("IC", "Acc", True), ("KS", "Acc", True), ("SID", "Acc", True), ("ER", "Acc", True)],
        ),
        params_col=None,
        data_col=None,
        model="spear_s_base",
        knob="backbone",
        condition="data=LS-960;steps=300k;token_mixing=off",
    ),
    TableSpec(
        "21",
        "table21_mvq_vs_kmeans.csv",
        _cols("finetune", 1, LS_CLEAN_OTHER)
        + _cols(
            "superb",
            3,
            [("PR", "PER", False), ("IC", "Acc", True), ("KS", "Acc", True), ("SID", "Acc", True), ("ER", "Acc", True)],
        ),
        params_col=None,
        data_col=None,
        model="spear_s_base",
        knob="target",
        condition="teacher=wavlm_large;teacher_layer=21;data=LibriSpeech;steps=300k;token_mixing=off",
    ),
    TableSpec(
        "22",
        "table22_codebooks_speech.csv",
        _cols("finetune", 1, LS_CLEAN_OTHER) + _cols("superb", 3, [("SID", "Acc", True), ("ER", "Acc", True)]),
        params_col=None,
        data_col=None,
        model="spear_s_base",
        knob="codebooks",
        condition="teacher=wavlm_large;teacher_layer=21;data=LS-960;steps=300k;token_mixing=off",
    ),
    TableSpec(
        "23",
        "table23_codebooks_audio.csv",
        _cols("finetune", 1, [("AS-20k", "mAP", True, "eval"), ("AS-2M", "mAP", True, "eval")])
        + _cols("hear", 3, HEAR_AVERAGES),
        params_col=None,
        data_col=None,
        model="spear_a_base",
        knob="codebooks",
        condition="teacher=dasheng_1.2b;token_mixing=off",
    ),
    TableSpec(
        "24",
        "table24_lambda.csv",
        _cols("finetune", 1, LS_CLEAN_OTHER + [("AS-20k", "mAP", True, "eval")]),
        params_col=None,
        data_col=None,
        model="spear_sa_large",
        knob="lambda",
        condition="steps=100k;token_mixing=off",
    ),
    TableSpec(
        "25",
        "table25_usad_aligned_config.csv",
        _cols(
            "config",
            2,
            [
                ("pretrain-data", "speech_khours", None),
                ("pretrain-data", "audio_khours", None),
                ("pretrain-data", "total_khours", None),
            ],
        ),
        data_col=None,
        note="model configurations, not results: values are thousands of hours",
    ),
    TableSpec(
        "26",
        "table26_usad_comparison.csv",
        _cols(
            "superb",
            3,
            [
                ("PR", "PER", False),
                ("ASR", "WER", False),
                ("IC", "Acc", True),
                ("KS", "Acc", True),
                ("SID", "Acc", True),
                ("ER", "Acc", True),
            ],
        )
        + _cols("hear", 9, HEAR_AVERAGES, condition=CONCAT),
        condition="token_mixing=off",
    ),
]


def spec(table: str) -> TableSpec:
    for item in SPECS:
        if item.table == table:
            return item
    raise SpearBenchError(f"no transcription spec for Table {table}")


def parse_quantity(text: str) -> float | None:
    """'94M' -> 94, '9.3k' -> 9.3, '3.1' -> 3.1, '-' -> None (the unit stays in the metric name)."""
    match = _QUANTITY.match(clean_cell(text))
    return float(match.group(1)) if match else None


def knob_value(label: str) -> str:
    """An ablation row label as a condition value: '21 (adopted)' -> '21', 'Token Mixing' -> 'token_mixing'."""
    text = clean_cell(label).replace("(adopted)", "").strip()
    if re.fullmatch(r"[-+]?\d+(\.\d+)?", text):
        return text
    text = text.replace("k-means", "kmeans")
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def _header_lines(table: PaperTable) -> int:
    count = 1
    while count < len(table.lines) and not clean_cell(table.lines[count][0]):
        count += 1
    return count


def _header_text(table: PaperTable, col: int) -> str:
    """The header cells above column ``col``; the first line's group labels span the empty cells after them."""
    parts = []
    for index, cells in enumerate(table.lines[: _header_lines(table)]):
        text = clean_cell(cells[col]) if col < len(cells) else ""
        if index == 0 and not text:
            text = next((clean_cell(c) for c in reversed(cells[1:col]) if clean_cell(c)), "")
        if text and text not in parts:
            parts.append(text)
    return " / ".join(parts)


def _join(*conditions: str) -> str:
    return ";".join(c for c in conditions if c)


def transcribe_table(table: PaperTable, table_spec: TableSpec) -> list[dict]:
    """Long-format rows (dicts over REFERENCE_COLUMNS) of one paper table."""
    rows: list[dict] = []
    section = ""
    label_seen: dict[str, int] = {}
    model_seen: dict[str, int] = {}
    lines = table.lines[_header_lines(table) :]
    data_lines = [cells for cells in lines if any(clean_cell(c) for c in cells[1:])]
    # A model appearing on several lines with different data sizes gets data=... in its variant.
    data_by_model: dict[str, set[str]] = {}
    if table_spec.model is None and table_spec.data_col is not None:
        for cells in data_lines:
            data_by_model.setdefault(model_id(cells[0]), set()).add(clean_cell(cells[table_spec.data_col]))
    for cells in lines:
        label = clean_cell(cells[0])
        if not any(clean_cell(c) for c in cells[1:]):
            section = label
            continue
        occurrence = label_seen.get(label, 0)
        label_seen[label] = occurrence + 1
        model = table_spec.model or model_id(cells[0])
        nth = model_seen.get(model, 0)
        model_seen[model] = nth + 1
        variant = []
        if table_spec.knob:
            variant.append(f"{table_spec.knob}={knob_value(cells[0])}")
        for col, key in table_spec.extra_cols.items():
            value = clean_cell(cells[col])
            if value and value != "-":
                variant.append(f"{key}={knob_value(value) if key != 'teacher' else model_id(value)}")
        data = clean_cell(cells[table_spec.data_col]) if table_spec.data_col is not None else ""
        if len(data_by_model.get(model, ())) > 1:
            variant.append(f"data={data}")
        row_condition = table_spec.row_conditions.get((model, nth), "")
        if row_condition and row_condition not in variant:
            variant.append(row_condition)
        notes = [
            n
            for n in (table_spec.row_notes.get((model, nth), ""), "adopted setting" if "(adopted)" in cells[0] else "")
            if n
        ]
        for column in table_spec.columns:
            raw = clean_cell(cells[column.col])
            value = parse_quantity(raw)
            if value is None:
                continue  # '-' : not reported
            rows.append(
                {
                    "table": table.table_id,
                    "suite": column.suite,
                    "model": model,
                    "variant": ";".join(variant),
                    "task": column.task,
                    "metric": column.metric,
                    "split": column.split,
                    "value": repr(value),
                    "higher_is_better": "" if column.higher_is_better is None else str(column.higher_is_better),
                    "condition": _join(table_spec.condition, *variant, column.condition),
                    "params": clean_cell(cells[table_spec.params_col]) if table_spec.params_col is not None else "",
                    "pretrain_data": data,
                    "section": section,
                    "paper_label": label,
                    "label_occurrence": str(occurrence),
                    "paper_col": str(column.col),
                    "paper_header": _header_text(table, column.col),
                    "paper_cell": raw,
                    "notes": "; ".join(notes + ([column.note] if column.note else [])),
                }
            )
    return rows


def hear_groups_rows(table15: PaperTable) -> list[dict]:
    """Table 15 as rows: task abbreviation, name, group, metric, frame-level flag."""
    rows = []
    for cells in table15.lines[1:]:
        name = clean_cell(cells[0])
        match = re.fullmatch(r"(.*) \(([^()]+)\)(\*?)", name)
        if not match:
            raise SpearBenchError(f"Table 15: cannot read task name {name!r}")
        rows.append(
            {
                "task": match.group(2),
                "name": match.group(1),
                "group": clean_cell(cells[1]),
                "metric": clean_cell(cells[3]),
                "frame_level": str(bool(match.group(3))),
            }
        )
    return rows


def _csv_text(rows: list[dict], columns: list[str]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def transcribe(paper_text: str) -> dict[str, str]:
    """CSV file name -> CSV text, for every spec'd table and for Table 15's task groups."""
    tables = parse_paper_tables(paper_text)
    by_file: dict[str, list[dict]] = {}
    for table_spec in SPECS:
        if table_spec.table not in tables:
            raise SpearBenchError(f"paper: Table {table_spec.table} not found")
        by_file.setdefault(table_spec.file, []).extend(transcribe_table(tables[table_spec.table], table_spec))
    out = {name: _csv_text(rows, REFERENCE_COLUMNS) for name, rows in by_file.items()}
    out[HEAR_GROUPS_FILE] = _csv_text(hear_groups_rows(tables["15"]), HEAR_GROUP_COLUMNS)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--paper", default=None, help="the paper (default: $SPEAR_BENCH_PAPER or ../shared/seeds/spear-paper.md)"
    )
    parser.add_argument("--out", default=str(reference_dir()))
    parser.add_argument("--check", action="store_true", help="compare with the files in --out instead of writing")
    args = parser.parse_args(argv)
    try:
        files = transcribe(read_paper(args.paper))
    except SpearBenchError as error:  # no paper beside a user's clone: one line, not a traceback
        print(f"error: {error}", file=sys.stderr)
        return 2
    out = Path(args.out)
    if args.check:
        stale = [name for name, text in files.items() if not (out / name).is_file() or (out / name).read_text() != text]
        for name in stale:
            print(f"differs from a fresh transcription: {out / name}")
        return 1 if stale else 0
    for name, text in files.items():
        atomic_write_text(out / name, text)
        print(f"wrote {out / name} ({text.count(chr(10)) - 1} rows)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
