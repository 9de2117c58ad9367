"""The SUPERB learning-rate searches in the store, as a table: grid, dev score per rate, chosen rate, test score.

A row comes from a unit run with ``spear-bench run --lr-grid`` (``ResultRow.lr_search``): each
rate trained with the recipe, the rate with the best score on the recipe's own dev metric (the one
its ``valid_best`` checkpoint is chosen on) kept, its test score stored. One line per (model, task)
on the task's primary metric row.
"""

from __future__ import annotations

import html

from spear_bench.report.aggregate import Measured
from spear_bench.report.render import latex_row, latex_table

HEADER = ["Model", "Task", "Grid", "Dev metric", "Dev per rate", "Test per rate", "Chosen", "Test (stored)"]
TITLE = "SUPERB learning-rate search (best rate on the recipe's dev metric)"


def _rate(value: float) -> str:
    return f"{value:.0e}" if value else "0"


def search_rows(measured: list[Measured]) -> list[list[str]]:
    rows, seen = [], set()
    for item in sorted(measured, key=lambda m: (m.model, m.task, m.metric)):
        search = item.lr_search
        if not search or (item.model, item.task) in seen or item.metric != search.get("test_metric", item.metric):
            continue
        seen.add((item.model, item.task))
        rows.append(
            [
                item.model,
                item.task,
                ", ".join(_rate(r) for r in search["grid"]),
                search["dev_metric"],
                ", ".join(f"{v:.4g}" for v in search["dev"]),
                ", ".join(f"{v:.4g}" for v in search["test"]),
                _rate(search["chosen"]),
                f"{item.metric} {item.value:.4g}" + (f" (n={item.seeds})" if item.seeds > 1 else ""),
            ]
        )
    return rows


def to_markdown(rows: list[list[str]]) -> str:
    lines = [f"# {TITLE}", "", "| " + " | ".join(HEADER) + " |", "| " + " | ".join(":--" for _ in HEADER) + " |"]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def to_html(rows: list[list[str]]) -> str:
    e = lambda s: html.escape(s, quote=True)  # noqa: E731
    head = "".join(f"<th>{e(h)}</th>" for h in HEADER)
    body = "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>" for row in rows)
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{e(TITLE)}</title></head>\n'
        f"<body>\n<h1>{e(TITLE)}</h1>\n<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>\n"
        "</body></html>\n"
    )


def to_latex(rows: list[list[str]]) -> str:
    return latex_table(TITLE, "l" * len(HEADER), list(HEADER), [latex_row(row) for row in rows])
