"""The paper agrees with itself where it should: Table 5 HEAR averages vs Table 16 cells, repeated cells.

Averages are recomputed by spear_bench's own aggregation (group membership from Table 15)
and must agree within the rounding tolerance (docs/reports.md): 0.055 against Table 5,
0.1 against Table 16's Avg. The paper's own inconsistencies are listed, with evidence, in
spear_bench.report.consistency.KNOWN_HEAR_MISMATCHES; anything else is a transcription error.
"""

from __future__ import annotations

import pytest

from spear_bench.report.aggregate import hear_averages
from spear_bench.report.consistency import KNOWN_HEAR_MISMATCHES, hear_average_mismatches
from spear_bench.report.reference import load_hear_groups, load_reference


@pytest.fixture(scope="module")
def reference():
    return load_reference()


@pytest.fixture(scope="module")
def groups():
    return load_hear_groups()


def _keys(mismatches):
    return {(m.model, m.variant, m.average, m.against) for m in mismatches}


def test_paper_averages_follow_from_table16_cells_except_the_known_inconsistencies(reference, groups):
    assert _keys(hear_average_mismatches(reference, groups)) == set(KNOWN_HEAR_MISMATCHES)


def test_every_table5_row_with_table16_cells_is_checked(reference, groups):
    t16 = set(map(tuple, reference[reference["table"] == "16"][["model", "variant"]].drop_duplicates().values))
    t5 = set(map(tuple, reference[reference["table"] == "5"][["model", "variant"]].drop_duplicates().values))
    # Rows of Table 5 without per-task numbers: the 5k-hour Dasheng and SPEAR-a models.
    assert {m for m, _ in t5 - t16} == {"dasheng_base", "dasheng_0.6b", "dasheng_1.2b", "spear_a_base", "spear_a_large"}
    assert len(t5 & t16) == 18  # 23 rows in Table 5, 5 of them without per-task numbers


def test_a_mistyped_table16_cell_breaks_the_averages(reference, groups):
    mutated = reference.copy()
    cell = (
        (mutated["table"] == "16")
        & (mutated["model"] == "spear_sa_large")
        & (mutated["variant"] == "")
        & (mutated["task"] == "ESC")
    )
    assert cell.sum() == 1
    mutated.loc[cell, "value"] += 2.0  # 85.1 typed as 87.1 moves Env by 0.5 and Avg by 0.11
    new = _keys(hear_average_mismatches(mutated, groups)) - set(KNOWN_HEAR_MISMATCHES)
    assert ("spear_sa_large", "", "HEAR-Env", "5") in new and ("spear_sa_large", "", "HEAR-Avg", "5") in new


def test_a_mistyped_table5_average_is_caught(reference, groups):
    mutated = reference.copy()
    cell = (mutated["table"] == "5") & (mutated["model"] == "wavlm_large") & (mutated["task"] == "HEAR-Speech")
    mutated.loc[cell, "value"] = 72.96  # paper: 72.69
    assert _keys(hear_average_mismatches(mutated, groups)) - set(KNOWN_HEAR_MISMATCHES) == {
        ("wavlm_large", "", "HEAR-Speech", "5")
    }


def test_overall_average_is_the_mean_over_18_tasks_not_of_the_group_means(reference, groups):
    cells = reference[
        (reference["table"] == "16") & (reference["model"] == "wavlm_base_plus") & reference["task"].isin(list(groups))
    ]
    averages = hear_averages(dict(zip(cells["task"], cells["value"])), groups)
    assert averages["all"].value == pytest.approx(62.69, abs=0.055)  # Table 5
    group_mean = sum(averages[g].value for g in ("Environment", "Speech", "Music")) / 3
    assert abs(group_mean - 62.69) > 0.4


def test_cells_repeated_across_tables_agree_except_the_known_differences(reference):
    from spear_bench.report.consistency import KNOWN_CROSS_MISMATCHES, cross_table_mismatches

    assert cross_table_mismatches(reference) == set(KNOWN_CROSS_MISMATCHES)
