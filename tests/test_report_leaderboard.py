"""Leaderboards: measured rows beside the paper's, best per column, and their renderings."""

from __future__ import annotations

import re

import pytest

from spear_bench.report.aggregate import Measured
from spear_bench.report.compare import compare
from spear_bench.report.leaderboard import all_leaderboards, hear_leaderboard, superb_leaderboard
from spear_bench.report.reference import load_hear_groups, load_reference
from spear_bench.report.render import html_page, to_html_table, to_latex, to_markdown


def m(model, suite, task, metric, value, split="test", higher=True, seeds=1):
    """A measured number with the facts its rows carry: the task registry's short name and unit
    (none for unknown tasks)."""
    short, unit = registry_facts(suite, task, metric)
    return Measured(
        model,
        suite,
        task,
        metric,
        split,
        value,
        0.0,
        seeds,
        "cfg",
        higher,
        "abc",
        "2025-01-01T00:00:00+00:00",
        short,
        unit,
    )


def registry_facts(suite: str, task: str, metric: str) -> tuple[str, str]:
    from spear_bench.errors import ConfigError
    from spear_bench.task_registry import load_suite

    try:
        spec = load_suite(suite).task(task)
        return spec.short, spec.metric_facts(metric).unit
    except ConfigError:
        return "", ""


@pytest.fixture(scope="module")
def reference():
    return load_reference()


@pytest.fixture(scope="module")
def groups():
    return load_hear_groups()


def test_measured_rows_come_first_and_are_marked_measured(reference):
    board = superb_leaderboard(reference, [m("spear_tiny", "superb", "pr", "per", 50.0, higher=False)])
    assert board.rows[0].source == "measured" and board.rows[0].model == "spear_tiny"
    assert all(not r.measured for r in board.rows[1:])


def test_best_value_is_bold_in_the_metric_direction(reference):
    # A measured PER of 1.0 beats the paper's best 2.56 (lower is better), so only it is bold.
    board = superb_leaderboard(reference, [m("great", "superb", "pr", "per", 1.0, higher=False)])
    key = ("PR", "PER", "")
    bold = [r.name for r in board.rows if key in r.cells and r.cells[key].bold]
    assert bold == ["great"]
    # Higher is better for accuracy: the paper's best KS (98.12, XLarge) stays bold beside a poor measured value.
    board = superb_leaderboard(reference, [m("poor", "superb", "ks", "acc", 50.0)])
    assert [r.name for r in board.rows if ("KS", "Acc", "") in r.cells and r.cells[("KS", "Acc", "")].bold] == [
        "SPEAR-s+a XLarge"
    ]


def test_measured_hear_fractions_are_shown_in_percent_with_partial_averages(reference, groups):
    board = hear_leaderboard(reference, groups, [m("spear_tiny", "hear", "esc50", "top1_acc", 0.5)])
    row = board.rows[0]
    assert row.cells[("ESC", "Acc", "")].value == pytest.approx(50.0)
    env = row.cells[("HEAR-Env", "mean", "")]
    assert env.partial and not env.bold and env.note == "1/4 tasks"


def test_paper_hear_rows_get_recomputed_averages(reference, groups):
    board = hear_leaderboard(reference, groups, [])
    xlarge = next(r for r in board.rows if r.model == "spear_sa_xlarge" and r.variant == "")
    assert xlarge.cells[("HEAR-Avg", "mean", "")].value == pytest.approx(80.07, abs=0.055)


def test_unmatched_measured_suites_get_their_own_table(reference, groups):
    boards = all_leaderboards(
        reference,
        groups,
        [m("spear_tiny", "demo", "tone_pitch", "accuracy", 0.9), m("spear_tiny", "superb", "my_new_task", "acc", 0.3)],
    )
    keys = [b.key for b in boards]
    assert "suite_demo" in keys and "suite_superb" in keys


def test_models_filter_applies_to_measured_rows_only(reference, groups):
    boards = all_leaderboards(
        reference, groups, [m("a", "demo", "t", "acc", 1.0), m("b", "demo", "t", "acc", 2.0)], models=["a*"]
    )
    demo = next(b for b in boards if b.key == "suite_demo")
    assert [r.model for r in demo.rows] == ["a"] and len(boards[0].paper_rows) > 0


def test_paper_models_filter_restricts_paper_rows(reference, groups):
    board = superb_leaderboard(reference, [], paper_models=["wavlm_*"])
    assert {r.model for r in board.rows} == {"wavlm_base_plus", "wavlm_large"}


def test_markdown_separates_measured_from_paper_rows(reference):
    text = to_markdown(superb_leaderboard(reference, [m("spear_tiny", "superb", "ks", "acc", 50.0)]))
    lines = [line for line in text.splitlines() if line.startswith("|")]
    assert "*spear_tiny*" in lines[2] and "published in the paper" in lines[3]
    assert (
        len({len(re.findall(r"(?<!\\)\|", line)) for line in lines}) == 1
    )  # every row has the header's number of cells


def test_latex_rows_have_the_header_column_count(reference, groups):
    text = to_latex(hear_leaderboard(reference, groups, [m("x_1", "hear", "esc50", "top1_acc", 0.5)]))
    body = text.split(r"\toprule")[1].split(r"\bottomrule")[0]
    rows = [line for line in body.splitlines() if line.endswith(r"\\")]
    assert len({len(re.split(r"(?<!\\)&", line)) for line in rows}) == 1
    assert r"x\_1" in text and r"\midrule" in body


def test_html_page_is_standalone(reference, groups):
    page = html_page("t", [to_html_table(b) for b in all_leaderboards(reference, groups, [])])
    assert "<script>" in page and "<style>" in page
    assert not re.search(r"""(src|href)\s*=\s*["'](https?:)?//""", page)


def test_comparison_counts_wins_and_losses_in_the_metric_direction(reference, groups):
    measured = [m("spear_tiny", "superb", "pr", "per", 1.0, higher=False), m("spear_tiny", "superb", "ks", "acc", 1.0)]
    result = compare("spear_tiny", all_leaderboards(reference, groups, measured), baselines=("wavlm_large",))
    outcomes = {line.column.task: line.outcome("wavlm_large") for line in result.lines if line.outcome("wavlm_large")}
    assert outcomes == {"PR": "win", "KS": "loss"}
    assert result.tally("wavlm_large") == {"win": 1, "loss": 1, "tie": 0}
    pr = next(line for line in result.lines if line.column.task == "PR")
    assert pr.delta("wavlm_large") == pytest.approx(1.0 - 3.06)


def test_comparison_of_a_released_checkpoint_falls_back_to_its_paper_counterpart(reference, groups):
    result = compare("spear_xlarge", all_leaderboards(reference, groups, []), baselines=("wavlm_large",))
    ks = next(line for line in result.lines if line.column.task == "KS")
    assert ks.target.value == 98.12 and "as SPEAR-s+a XLarge" in ks.target.source
