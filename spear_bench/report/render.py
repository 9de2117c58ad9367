"""Render leaderboards as Markdown, a standalone HTML page and LaTeX.

In every format measured rows come first, then a visible break (a labelled separator row
in Markdown, a shaded separate ``<tbody>`` in HTML, a ``\\midrule`` in LaTeX) and the
paper's rows; a Source column says where each row comes from. The best value of each
column is bold (direction-aware, see :meth:`Leaderboard.mark_best`).

The HTML page needs nothing outside itself: inline CSS, and a small inline script that
sorts a table by the clicked column (within the measured and the paper block
separately, missing values last). Opened as ``page.html#selftest`` the script sorts
every table by every column both ways, checks the order, and writes the outcome to
``<body data-selftest=...>``; script errors are collected in ``data-js-errors``. The
headless-Chromium test reads both from the dumped DOM.
"""

from __future__ import annotations

import html
import math

from spear_bench.report.columns import Column
from spear_bench.report.leaderboard import PARTIAL_MARK, Cell, Leaderboard, Row, column_key

ARROW = {True: "\u2191", False: "\u2193", None: ""}
MISSING = "\u2013"


def _number(value: float, decimals: int) -> str:
    return f"{value:.{decimals}f}"


def cell_text(cell: Cell | None, column: Column, plain: bool = False) -> str:
    """The cell as printed: value at the column's precision, ± the 95 % interval over seeds and their
    number (``61.2 ± 3.4 (n=3)``; spear_bench.report.stats.t_interval), a dagger if partial."""
    if cell is None or cell.value is None or (isinstance(cell.value, float) and math.isnan(cell.value)):
        return MISSING
    if cell.note and column.higher_is_better is None:
        return cell.note
    text = _number(cell.value, column.decimals)
    if cell.seeds > 1 and not plain:
        text += f" \u00b1 {_number(cell.ci, column.decimals)} (n={cell.seeds})"
    if cell.partial:
        text += PARTIAL_MARK
    return text


def header_label(column: Column) -> str:
    arrow = ARROW[column.higher_is_better]
    return f"{column.label} {arrow}".strip()


# ---------------------------------------------------------------- Markdown


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|")


def to_markdown(board: Leaderboard, level: int = 2) -> str:
    lines = [f"{'#' * level} {board.title}", "", board.description, ""]
    header = ["Model", "Source"] + [header_label(c) for c in board.columns]
    lines.append("| " + " | ".join(_md_escape(h) for h in header) + " |")
    lines.append("| :-- | :-- | " + " | ".join("--:" for _ in board.columns) + " |")

    def row_line(row: Row) -> str:
        cells = []
        for column in board.columns:
            cell = row.cells.get(column_key(column))
            text = cell_text(cell, column)
            cells.append(f"**{text}**" if cell is not None and cell.bold else text)
        name = f"*{row.name}*" if row.measured else row.name
        return "| " + " | ".join(_md_escape(x) for x in [name, row.source] + cells) + " |"

    lines.extend(row_line(r) for r in board.measured_rows)
    if board.measured_rows and board.paper_rows:
        lines.append(
            "| " + " | ".join(["**\u2014 published in the paper \u2014**", ""] + ["" for _ in board.columns]) + " |"
        )
    lines.extend(row_line(r) for r in board.paper_rows)
    if not board.rows:
        lines.append("")
        lines.append("_No rows._")
    if board.notes:
        lines.append("")
        lines.extend(f"- {_md_escape(n)}" for n in board.notes)
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- HTML

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:1.5em;color:#222}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em}
p.desc{max-width:70em;color:#444}
table.lb{border-collapse:collapse;font-size:0.82em;margin:0.5em 0}
table.lb th,table.lb td{border:1px solid #ccc;padding:2px 6px;text-align:right;white-space:nowrap}
table.lb th{background:#eef;cursor:pointer;position:sticky;top:0}
table.lb th.sorted-asc::after{content:" \\25B2"}table.lb th.sorted-desc::after{content:" \\25BC"}
table.lb td.name,table.lb td.src,table.lb th:nth-child(-n+2){text-align:left}
tbody.measured td{background:#fff4cc}
tbody.paper tr.sep td{background:#ddd;font-weight:bold;text-align:left}
ul.notes{font-size:0.85em;color:#444;max-width:70em}
td.delta-win{color:#096}td.delta-loss{color:#b00}
"""

_JS = r"""
(function () {
  var errors = [];
  function recordError(message) {
    errors.push(String(message));
    if (document.body) { document.body.setAttribute('data-js-errors', errors.join(' | ')); }
  }
  window.addEventListener('error', function (event) { recordError(event.message); });
  function sortKey(cell, numeric) {
    if (!cell) { return null; }
    if (numeric) {
      var raw = cell.getAttribute('data-value');
      if (raw === null || raw === '') { return null; }
      var value = parseFloat(raw);
      return isNaN(value) ? null : value;
    }
    return cell.textContent.trim().toLowerCase();
  }
  function compare(a, b, ascending) {
    if (a === null && b === null) { return 0; }
    if (a === null) { return 1; }
    if (b === null) { return -1; }
    if (a < b) { return ascending ? -1 : 1; }
    if (a > b) { return ascending ? 1 : -1; }
    return 0;
  }
  function dataRows(body) {
    return Array.prototype.filter.call(body.rows, function (row) { return !row.classList.contains('sep'); });
  }
  function sortTable(table, column, ascending) {
    var header = table.tHead.rows[0].cells[column];
    var numeric = header.getAttribute('data-sort') === 'num';
    Array.prototype.forEach.call(table.tBodies, function (body) {
      var rows = dataRows(body);
      rows.sort(function (x, y) {
        return compare(sortKey(x.cells[column], numeric), sortKey(y.cells[column], numeric), ascending);
      });
      rows.forEach(function (row) { body.appendChild(row); });
    });
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th) {
      th.classList.remove('sorted-asc', 'sorted-desc');
    });
    header.classList.add(ascending ? 'sorted-asc' : 'sorted-desc');
  }
  function isSorted(table, column, ascending) {
    var numeric = table.tHead.rows[0].cells[column].getAttribute('data-sort') === 'num';
    return Array.prototype.every.call(table.tBodies, function (body) {
      var keys = dataRows(body).map(function (row) { return sortKey(row.cells[column], numeric); });
      for (var i = 1; i < keys.length; i++) { if (compare(keys[i - 1], keys[i], ascending) > 0) { return false; } }
      return true;
    });
  }
  function setUp() {
    var tables = document.querySelectorAll('table.lb');
    Array.prototype.forEach.call(tables, function (table) {
      Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, column) {
        th.addEventListener('click', function () {
          var ascending = !th.classList.contains('sorted-asc');
          sortTable(table, column, ascending);
        });
      });
    });
    document.body.setAttribute('data-tables', String(tables.length));
    if (window.location.hash === '#selftest') {
      var failures = [], checks = 0;
      Array.prototype.forEach.call(tables, function (table) {
        Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, column) {
          th.click();
          if (!isSorted(table, column, true)) { failures.push(table.id + ':' + column + ':asc'); }
          th.click();
          if (!isSorted(table, column, false)) { failures.push(table.id + ':' + column + ':desc'); }
          checks += 2;
        });
      });
      document.body.setAttribute('data-selftest', failures.length ? 'fail ' + failures.join(',') : 'ok ' + checks);
    }
    document.body.setAttribute('data-ready', '1');
  }
  if (document.readyState === 'loading') { document.addEventListener('DOMContentLoaded', setUp); } else { setUp(); }
})();
"""


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _html_cell(cell: Cell | None, column: Column, extra_class: str = "") -> str:
    text = cell_text(cell, column)
    value = (
        ""
        if cell is None or cell.value is None or (isinstance(cell.value, float) and math.isnan(cell.value))
        else repr(float(cell.value))
    )
    tips = []
    if cell is not None and cell.seeds:
        tips.append(f"{cell.seeds} seed(s)" + (", mean \u00b1 95 % t-interval" if cell.seeds > 1 else ""))
    if cell is not None and cell.note:
        tips.append(cell.note)
    body = f"<b>{_e(text)}</b>" if cell is not None and cell.bold else _e(text)
    title = f' title="{_e("; ".join(tips))}"' if tips else ""
    cls = f' class="{extra_class}"' if extra_class else ""
    return f'<td data-value="{value}"{title}{cls}>{body}</td>'


def to_html_table(board: Leaderboard) -> str:
    parts = [
        f'<h2 id="{_e(board.key)}-title">{_e(board.title)}</h2>',
        f'<p class="desc">{_e(board.description)}</p>',
        f'<table class="lb" id="{_e(board.key)}"><thead><tr>',
        '<th data-sort="text">Model</th><th data-sort="text">Source</th>',
    ]
    for column in board.columns:
        direction = {True: "higher is better", False: "lower is better", None: ""}[column.higher_is_better]
        parts.append(
            f'<th data-sort="num" title="{_e(column.task)} {_e(column.metric)} {_e(column.split)} {direction}">'
            f"{_e(header_label(column))}</th>"
        )
    parts.append("</tr></thead>")

    def row_html(row: Row) -> str:
        cells = [
            f'<td class="name" data-value="">{_e(row.name)}</td>',
            f'<td class="src" data-value="">{_e(row.source)}</td>',
        ]
        cells += [_html_cell(row.cells.get(column_key(c)), c) for c in board.columns]
        return "<tr>" + "".join(cells) + "</tr>"

    if board.measured_rows:
        parts.append('<tbody class="measured">' + "".join(row_html(r) for r in board.measured_rows) + "</tbody>")
    if board.paper_rows:
        separator = f'<tr class="sep"><td colspan="{len(board.columns) + 2}">Published in the paper</td></tr>'
        parts.append('<tbody class="paper">' + separator + "".join(row_html(r) for r in board.paper_rows) + "</tbody>")
    parts.append("</table>")
    if board.notes:
        parts.append('<ul class="notes">' + "".join(f"<li>{_e(n)}</li>" for n in board.notes) + "</ul>")
    return "\n".join(parts)


def html_page(title: str, sections: list[str], intro: str = "") -> str:
    """A standalone page: the sections' HTML, inline CSS and the sorting script."""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{_e(title)}</title><style>{_CSS}</style></head>\n<body>\n<h1>{_e(title)}</h1>\n"
        + (f'<p class="desc">{_e(intro)}</p>\n' if intro else "")
        + "\n".join(sections)
        + f"\n<script>{_JS}</script>\n</body></html>\n"
    )


# ---------------------------------------------------------------- LaTeX

_LATEX_SPECIALS = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "\u2191": r"$\uparrow$",
    "\u2193": r"$\downarrow$",
    "\u00b1": r"$\pm$",
    "\u2020": r"$^\dagger$",
    "\u2021": r"$^\ddagger$",
    "\u2013": "--",
    "\u2014": "---",
    "\u0394": r"$\Delta$",
    "\u2212": r"$-$",
}


def latex_escape(text: str) -> str:
    return "".join(_LATEX_SPECIALS.get(ch, ch) for ch in text)


def latex_row(cells) -> str:
    """One tabular row of plain-text cells."""
    return " & ".join(latex_escape(c) for c in cells) + r" \\"


def latex_table(
    caption: str, columns: str, header: list[str], body: list[str], label: str = "", footer: tuple[str, ...] = ()
) -> str:
    """A ``table*`` with booktabs rules, scaled to the text width (needs booktabs and graphicx): the one
    frame of every table spear-bench writes. ``caption`` and ``header`` are plain text; ``body`` and
    ``footer`` are LaTeX lines (rows from :func:`latex_row`, rules)."""
    lines = [r"\begin{table*}[t]", r"\centering", rf"\caption{{{latex_escape(caption)}}}"]
    lines += [rf"\label{{tab:{label}}}"] if label else []
    lines += [r"\resizebox{\linewidth}{!}{%", rf"\begin{{tabular}}{{{columns}}}", r"\toprule", latex_row(header)]
    lines += [r"\midrule", *body, r"\bottomrule", r"\end{tabular}}", *footer, r"\end{table*}"]
    return "\n".join(lines) + "\n"


def to_latex(board: Leaderboard) -> str:
    """The leaderboard as a :func:`latex_table`: measured rows (model names in italics), then the paper's."""

    def row_line(row: Row) -> str:
        cells = []
        for column in board.columns:
            cell = row.cells.get(column_key(column))
            text = latex_escape(cell_text(cell, column))
            cells.append(rf"\textbf{{{text}}}" if cell is not None and cell.bold else text)
        name = latex_escape(row.name)
        return " & ".join([rf"\textit{{{name}}}" if row.measured else name, latex_escape(row.source)] + cells) + r" \\"

    body = [row_line(r) for r in board.measured_rows]
    if board.measured_rows and board.paper_rows:
        body.append(r"\midrule")
    body += [row_line(r) for r in board.paper_rows]
    notes = (r"\par\footnotesize " + " ".join(latex_escape(n) for n in board.notes),) if board.notes else ()
    header = ["Model", "Source"] + [header_label(c) for c in board.columns]
    return latex_table(board.title, "ll" + "r" * len(board.columns), header, body, label=board.key, footer=notes)


def latex_document(bodies: list[str]) -> str:
    return (
        "\\documentclass{article}\n\\usepackage[margin=1.5cm,landscape]{geometry}\n\\usepackage{booktabs}\n"
        "\\usepackage{graphicx}\n\\begin{document}\n" + "\n".join(bodies) + "\\end{document}\n"
    )
