"""Does the paper agree with itself? HEAR averages against per-task cells; cells repeated across tables.

:func:`hear_average_mismatches` recomputes every average with
:func:`spear_bench.report.aggregate.hear_averages` and lists those outside the rounding
tolerance. The paper has a few such cells; :data:`KNOWN_HEAR_MISMATCHES` lists them with
what the other tables say, so the reference test fails on any *new* mismatch (a
transcription error) and on a known one that disappears.

:func:`cross_table_mismatches` compares cells that several tables print for the same
model (Table 4 against Tables 13/14, the baselines of Tables 17, 18 and 26 against the
main tables), with :data:`KNOWN_CROSS_MISMATCHES` as the paper's own differences.
"""

from __future__ import annotations

from dataclasses import dataclass

from spear_bench.report.aggregate import HEAR_AVERAGE_TOLERANCE, HEAR_AVG_COLUMN_TOLERANCE, hear_averages
from spear_bench.report.columns import HEAR_AVERAGE_KEYS


@dataclass(frozen=True)
class Mismatch:
    model: str
    variant: str
    average: str  # HEAR-Env | HEAR-Speech | HEAR-Music | HEAR-Avg
    against: str  # "5" (Table 5) or "16" (Table 16's Avg column)
    published: float
    computed: float


# (model, variant, average, against table) -> why
KNOWN_HEAR_MISMATCHES: dict[tuple[str, str, str, str], str] = {
    **{
        ("beats", "", key, "5"): "Table 16's per-task row does not reproduce any of its Table 5 averages"
        for key in ("HEAR-Env", "HEAR-Speech", "HEAR-Music", "HEAR-Avg")
    },
    (
        "beats",
        "",
        "HEAR-Avg",
        "16",
    ): "Table 16's Avg (69.3) is not the mean of its own cells (70.58), nor Table 5's 71.05",
    (
        "spear_a_base",
        "data=13k",
        "HEAR-Music",
        "5",
    ): "Table 5 prints 80.33 (the Env value repeated); Table 16's cells give 80.70, as Table 23 (N=8) prints",
    **{
        (
            "usad_base",
            "features=concat",
            key,
            "5",
        ): "Table 5's (and Table 26's) averages differ from the mean of Table 16's cells"
        for key in ("HEAR-Env", "HEAR-Speech", "HEAR-Music", "HEAR-Avg")
    },
    **{
        (
            model,
            "features=concat",
            "HEAR-Avg",
            "16",
        ): "(grey row) Table 16's Avg column disagrees with the mean of its own cells, which matches Table 5"
        for model in ("spear_sa_base", "spear_sa_large", "spear_sa_xlarge")
    },
}


def hear_average_mismatches(reference, groups: dict[str, str]) -> list[Mismatch]:
    """Averages of Table 5 and Table 16 that Table 16's per-task cells do not reproduce."""
    per_task = reference[(reference["table"] == "16") & reference["task"].isin(list(groups))]
    table5 = reference[reference["table"] == "5"]
    avg16 = reference[(reference["table"] == "16") & (reference["task"] == HEAR_AVERAGE_KEYS["all"])]
    out = []
    for (model, variant), cells in per_task.groupby(["model", "variant"], sort=False):
        computed = hear_averages(dict(zip(cells["task"], cells["value"])), groups)
        for group, key in HEAR_AVERAGE_KEYS.items():
            if group not in computed or not computed[group].complete:
                continue
            value = computed[group].value
            published5 = table5[(table5["model"] == model) & (table5["variant"] == variant) & (table5["task"] == key)]
            for published in published5["value"]:
                if abs(value - published) > HEAR_AVERAGE_TOLERANCE:
                    out.append(Mismatch(model, variant, key, "5", published, value))
            if group == "all":
                for published in avg16[(avg16["model"] == model) & (avg16["variant"] == variant)]["value"]:
                    if abs(value - published) > HEAR_AVG_COLUMN_TOLERANCE:
                        out.append(Mismatch(model, variant, key, "16", published, value))
    return out


@dataclass(frozen=True)
class CrossCheck:
    """Cells of ``table`` that must equal the same model's cells in ``against`` (at the coarser printed precision)."""

    table: str
    against: tuple[str, ...]
    models: tuple[str, ...] | None = None  # None: every model the tables share


CROSS_CHECKS = (
    CrossCheck("4", ("13", "14")),  # Table 4 is a selection of Tables 13/14 plus other models
    CrossCheck("17", ("13", "14"), ("hubert_large", "wavlm_large")),
    CrossCheck("26", ("4", "5"), ("usad_base",)),
    CrossCheck("18", ("16",), ("atst_frame",)),
    CrossCheck("18", ("3",), ("eat", "atst_frame")),
)

# (table, model, task, metric) -> what the other table prints
KNOWN_CROSS_MISMATCHES: dict[tuple[str, str, str, str], str] = {
    ("4", "wavlm_base_plus", "PR", "PER"): "Table 4 prints 3.5, Table 13 prints 3.92",
    ("4", "wavlm_base_plus", "ASR", "WER"): "Table 4 prints 3.92 (Table 13's PR), Table 13 prints 5.59",
    ("4", "spear_s_base", "PR", "PER"): "Table 4 prints 3.4, Table 13 prints 3.34",
    ("4", "spear_sa_base", "IC", "Acc"): "Table 4 prints 98.13, Table 13 prints 98.05",
    ("4", "spear_sa_base", "KS", "Acc"): "Table 4 prints 97.59, Table 13 prints 97.58",
}


def _half_unit(cell: str) -> float:
    decimals = len(cell.split(".")[1]) if "." in cell else 0
    return 0.5 * 10 ** (-decimals)


def cross_table_mismatches(reference, checks=CROSS_CHECKS) -> set[tuple[str, str, str, str]]:
    """(table, model, task, metric) of cells that disagree with the same cell in another table."""
    out = set()
    for check in checks:
        mine = reference[reference["table"] == check.table]
        theirs = reference[reference["table"].isin(list(check.against))]
        if check.models is not None:
            mine = mine[mine["model"].isin(list(check.models))]
        merged = mine.merge(theirs, on=["model", "task", "metric", "split"], suffixes=("", "_other"))
        for row in merged.itertuples(index=False):
            tolerance = max(_half_unit(row.paper_cell), _half_unit(row.paper_cell_other)) + 1e-9
            if abs(row.value - row.value_other) > tolerance:
                out.add((row.table, row.model, row.task, row.metric))
    return out
