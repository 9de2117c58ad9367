"""Two measured models, task by task: do they differ beyond their seed spread?

``spear-bench compare A B --suite S`` (:mod:`spear_bench.cli.report_cmd`) takes, per (task, metric)
of suite ``S`` that both models have, their per-seed scores (the latest config of each, as the
leaderboards take it: :func:`spear_bench.report.aggregate.measured_values`) and runs Welch's
two-sided t-test on them (:func:`spear_bench.report.stats.welch_test`). A line says ``differ``
when p < 0.05, ``no difference shown`` otherwise, and ``too few seeds`` when a side has fewer
than two seeds (no spread to judge a gap against). Values are printed in the paper's units
(fractions in percent), each as mean ± the 95 % Student-t interval (n seeds).
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass

from spear_bench.report.aggregate import Measured
from spear_bench.report.columns import display_value
from spear_bench.report.render import latex_row, latex_table
from spear_bench.report.stats import ALPHA, TEST_NAME, WelchResult, welch_test

DIFFER, SAME, TOO_FEW = "differ", "no difference shown", "too few seeds"


@dataclass(frozen=True)
class TaskComparison:
    task: str
    metric: str
    higher_is_better: bool
    a: Measured
    b: Measured
    test: WelchResult | None  # None with fewer than two seeds on a side

    @property
    def verdict(self) -> str:
        if self.test is None:
            return TOO_FEW
        return DIFFER if self.test.differs(ALPHA) else SAME

    @property
    def better(self) -> str:
        """'A' or 'B' when they differ (in the metric's direction), else ''."""
        if self.verdict != DIFFER:
            return ""
        return "A" if (self.test.difference > 0) == self.higher_is_better else "B"


@dataclass(frozen=True)
class SeedComparison:
    model_a: str
    model_b: str
    suite: str
    lines: list[TaskComparison]
    test_name: str = TEST_NAME
    alpha: float = ALPHA


def compare_seeds(a: list[Measured], b: list[Measured], model_a: str, model_b: str, suite: str) -> SeedComparison:
    """Per (task, metric, test split) of ``suite`` that both models were measured on, Welch's test on their seeds."""

    def pick(items: list[Measured], model: str) -> dict[tuple[str, str], Measured]:
        return {(m.task, m.metric): m for m in items if m.model == model and m.suite == suite and m.split == "test"}

    left, right = pick(a, model_a), pick(b, model_b)
    lines = []
    for key in sorted(set(left) & set(right)):
        ma, mb = left[key], right[key]
        test = welch_test(ma.values, mb.values) if len(ma.values) > 1 and len(mb.values) > 1 else None
        lines.append(TaskComparison(key[0], key[1], ma.higher_is_better, ma, mb, test))
    return SeedComparison(model_a, model_b, suite, lines)


def _value(item: Measured) -> str:
    mean = display_value(item.value, item.unit)
    if item.seeds < 2 or math.isnan(item.ci):
        return f"{mean:.2f} (n={item.seeds})"
    return f"{mean:.2f} \u00b1 {display_value(item.ci, item.unit):.2f} (n={item.seeds})"


def _p(test: WelchResult | None) -> str:
    if test is None:
        return "\u2013"
    return f"{test.p:.3g}" if test.p >= 1e-4 else f"{test.p:.1e}"


HEADER = ["Task", "Metric", "A", "B", "A \u2212 B", "t", "df", "p", "Verdict"]


def table_rows(comparison: SeedComparison) -> list[list[str]]:
    rows = []
    for line in comparison.lines:
        diff = display_value(line.a.value, line.a.unit) - display_value(line.b.value, line.b.unit)
        test = line.test
        verdict = line.verdict + (f" ({line.better} better)" if line.better else "")
        rows.append(
            [
                line.task,
                line.metric,
                _value(line.a),
                _value(line.b),
                f"{diff:+.2f}",
                "\u2013" if test is None else f"{test.t:.2f}",
                "\u2013" if test is None or math.isnan(test.df) else f"{test.df:.1f}",
                _p(test),
                verdict,
            ]
        )
    return rows


def _intro(comparison: SeedComparison) -> str:
    return (
        f"A = {comparison.model_a}, B = {comparison.model_b}, suite {comparison.suite}. Test: {comparison.test_name}; "
        f"'differ' when p < {comparison.alpha}. Values: mean \u00b1 95 % Student-t interval over seeds (n seeds), "
        "in the paper's units."
    )


def title(comparison: SeedComparison) -> str:
    return f"{comparison.model_a} vs {comparison.model_b} ({comparison.suite}): differences beyond the seed spread"


def to_markdown(comparison: SeedComparison) -> str:
    lines = [f"# {title(comparison)}", "", _intro(comparison), ""]
    lines.append("| " + " | ".join(HEADER) + " |")
    lines.append("| :-- | :-- | " + " | ".join("--:" for _ in HEADER[2:]) + " |")
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in table_rows(comparison)]
    if not comparison.lines:
        lines += ["", "No task of this suite was measured for both models."]
    return "\n".join(lines) + "\n"


def to_html(comparison: SeedComparison) -> str:
    e = lambda s: html.escape(s, quote=True)  # noqa: E731
    head = "".join(f"<th>{e(h)}</th>" for h in HEADER)
    body = "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>" for row in table_rows(comparison))
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{e(title(comparison))}</title><style>table{{border-collapse:collapse}}"
        "td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}</style></head>\n<body>\n"
        f"<h1>{e(title(comparison))}</h1>\n<p>{e(_intro(comparison))}</p>\n"
        f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>\n</body></html>\n"
    )


def to_latex(comparison: SeedComparison) -> str:
    caption = f"{title(comparison)}. {_intro(comparison)}"
    columns = "ll" + "r" * (len(HEADER) - 3) + "l"
    return latex_table(caption, columns, list(HEADER), [latex_row(row) for row in table_rows(comparison)])
