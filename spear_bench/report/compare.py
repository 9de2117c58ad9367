"""One model against baselines (default WavLM Large, USAD Large, Dasheng 1.2B): per-task deltas, wins and losses.

Values come from the leaderboards' rows. For each model the measured row is used where it
has the column; otherwise the paper's row: the model's own id, or for a released
checkpoint name (``spear_xlarge``) its paper counterpart (``spear_sa_xlarge``), in its
plain variant if the paper has one, else the first variant the paper lists (USAD's HEAR
numbers exist only with concatenated layers; the variant is printed with the value).

Delta = model - baseline in the column's units. A win means better in the column's
direction at the printed precision; equal printed values are a tie. Aggregate columns
(SUPERB score, HEAR averages) are compared only when both sides cover all their tasks.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field

from spear_bench.report.columns import Column
from spear_bench.report.leaderboard import Leaderboard, Row, column_key
from spear_bench.report.paper_models import PAPER_COUNTERPART, display_name
from spear_bench.report.render import _number, html_page, latex_escape, latex_row, latex_table

DEFAULT_BASELINES = ("wavlm_large", "usad_large", "dasheng_1.2b")
COMPARED_BOARDS = ("superb", "hear", "finetune")


@dataclass(frozen=True)
class Value:
    value: float
    source: str  # "measured" | "paper T16 [features=concat]"
    partial: bool = False
    from_paper: bool = False  # the paper's number, not a measurement (marked with PAPER_MARK)


@dataclass
class Line:
    board: str
    column: Column
    target: Value | None
    baselines: dict[str, Value | None] = field(default_factory=dict)

    def outcome(self, baseline: str) -> str | None:
        """'win' | 'loss' | 'tie' for the target against one baseline, None when not comparable."""
        other = self.baselines.get(baseline)
        if self.target is None or other is None or self.target.partial or other.partial:
            return None
        a, b = round(self.target.value, self.column.decimals), round(other.value, self.column.decimals)
        if a == b:
            return "tie"
        return "win" if (a > b) == bool(self.column.higher_is_better) else "loss"

    def delta(self, baseline: str) -> float | None:
        other = self.baselines.get(baseline)
        if self.target is None or other is None:
            return None
        return self.target.value - other.value


@dataclass
class Comparison:
    target: str
    baselines: list[str]
    lines: list[Line]

    def tally(self, baseline: str, board: str | None = None) -> dict[str, int]:
        counts = {"win": 0, "loss": 0, "tie": 0}
        for line in self.lines:
            if board is None or line.board == board:
                outcome = line.outcome(baseline)
                if outcome:
                    counts[outcome] += 1
        return counts


def _rows_for(board: Leaderboard, model: str) -> tuple[Row | None, Row | None]:
    """(measured row, preferred paper row) of a model in one leaderboard."""
    measured = next((r for r in board.measured_rows if r.model == model), None)
    paper_id = PAPER_COUNTERPART.get(model, model)
    paper = [r for r in board.paper_rows if r.model == paper_id]
    preferred = next((r for r in paper if not r.variant), paper[0] if paper else None)
    return measured, preferred


def _value(requested: str, measured: Row | None, paper: Row | None, column: Column) -> Value | None:
    key = column_key(column)
    for row in (measured, paper):
        if row is not None and key in row.cells and row.cells[key].value is not None:
            cell = row.cells[key]
            source = row.source + (f" [{row.variant}]" if row.variant else "")
            if row is paper and not row.measured and requested != row.model:
                source += f" as {display_name(row.model)}"
            return Value(float(cell.value), source, cell.partial, from_paper=not row.measured)
    return None


def compare(target: str, boards: list[Leaderboard], baselines=DEFAULT_BASELINES) -> Comparison:
    lines = []
    for board in boards:
        if board.key not in COMPARED_BOARDS:
            continue
        rows = {name: _rows_for(board, name) for name in [target, *baselines]}
        for column in board.columns:
            if column.higher_is_better is None:
                continue
            line = Line(board.key, column, _value(target, *rows[target], column))
            line.baselines = {b: _value(b, *rows[b], column) for b in baselines}
            if line.target is not None:  # nothing to compare where the model has no number
                lines.append(line)
    return Comparison(target, list(baselines), lines)


_BOARD_TITLES = {"superb": "SUPERB", "hear": "HEAR", "finetune": "Fine-tuning"}
_SYMBOL = {"win": "win", "loss": "loss", "tie": "tie", None: ""}


PAPER_MARK = "\u2021"  # a number taken from the paper, not measured


def _fmt(value: Value | None, column: Column) -> str:
    if value is None:
        return "\u2013"
    marks = ("\u2020" if value.partial else "") + (PAPER_MARK if value.from_paper else "")
    return _number(value.value, column.decimals) + marks


def _fmt_delta(delta: float | None, column: Column) -> str:
    return "\u2013" if delta is None else f"{delta:+.{column.decimals}f}"


def _label(column: Column) -> str:
    arrow = {True: " \u2191", False: " \u2193", None: ""}[column.higher_is_better]
    return column.label + arrow


def _title(comparison: Comparison) -> str:
    return f"{display_name(comparison.target)} vs " + ", ".join(display_name(b) for b in comparison.baselines)


def _summary_rows(comparison: Comparison) -> list[list[str]]:
    rows = []
    for baseline in comparison.baselines:
        for board in [*COMPARED_BOARDS, None]:
            t = comparison.tally(baseline, board)
            if board is not None and not any(t.values()):
                continue
            rows.append(
                [display_name(baseline), _BOARD_TITLES.get(board, "all"), str(t["win"]), str(t["loss"]), str(t["tie"])]
            )
    return rows


def _detail_header(comparison: Comparison) -> list[str]:
    header = ["Benchmark", "Task", display_name(comparison.target)]
    for b in comparison.baselines:
        header += [display_name(b), f"\u0394 vs {display_name(b)}", "result"]
    return header


def _detail_rows(comparison: Comparison) -> list[list[str]]:
    rows = []
    for line in comparison.lines:
        cells = [_BOARD_TITLES[line.board], _label(line.column), _fmt(line.target, line.column)]
        for b in comparison.baselines:
            cells += [
                _fmt(line.baselines[b], line.column),
                _fmt_delta(line.delta(b), line.column),
                _SYMBOL[line.outcome(b)],
            ]
        rows.append(cells)
    return rows


def _sources(comparison: Comparison) -> list[str]:
    seen: dict[str, set[str]] = {}
    for line in comparison.lines:
        for name, value in [(comparison.target, line.target), *line.baselines.items()]:
            if value is not None:
                seen.setdefault(name, set()).add(f"{_BOARD_TITLES[line.board]}: {value.source}")
    return [f"{display_name(name)}: " + "; ".join(sorted(sources)) for name, sources in seen.items()]


_INTRO = (
    "Delta = model minus baseline, in the metric's units; "
    "'win' = better in the metric's direction at the printed precision. "
    "\u2020 marks an average over part of its tasks (not compared); "
    f"{PAPER_MARK} marks a number taken from the paper, not measured here."
)


def to_markdown(comparison: Comparison) -> str:
    def table(header, rows):
        out = [
            "| " + " | ".join(header) + " |",
            "| " + " | ".join(":--" if i < 2 else "--:" for i in range(len(header))) + " |",
        ]
        out += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows]
        return out

    lines = [f"# {_title(comparison)}", "", _INTRO, "", "## Wins / losses / ties", ""]
    lines += table(["Baseline", "Benchmark", "wins", "losses", "ties"], _summary_rows(comparison))
    lines += ["", "## Per task", ""]
    lines += table(_detail_header(comparison), _detail_rows(comparison))
    lines += ["", "## Sources", ""] + [f"- {s}" for s in _sources(comparison)]
    return "\n".join(lines) + "\n"


def to_html(comparison: Comparison) -> str:
    e = lambda s: html.escape(s, quote=True)  # noqa: E731

    def table(table_id, header, rows, numeric_from=2):
        head = "".join(
            f'<th data-sort="{"num" if i >= numeric_from else "text"}">{e(h)}</th>' for i, h in enumerate(header)
        )
        body = []
        for row in rows:
            cells = []
            for i, cell in enumerate(row):
                value = ""
                if i >= numeric_from:
                    try:
                        value = repr(float(cell.replace("\u2020", "").replace(PAPER_MARK, "")))
                    except ValueError:
                        value = ""
                cls = ' class="delta-win"' if cell == "win" else ' class="delta-loss"' if cell == "loss" else ""
                cls = cls or (' class="name"' if i < numeric_from else "")
                cells.append(f'<td data-value="{value}"{cls}>{e(cell)}</td>')
            body.append("<tr>" + "".join(cells) + "</tr>")
        return (
            f'<table class="lb" id="{table_id}"><thead><tr>{head}</tr></thead>'
            f'<tbody class="paper">{"".join(body)}</tbody></table>'
        )

    sections = [
        "<h2>Wins / losses / ties</h2>",
        table("summary", ["Baseline", "Benchmark", "wins", "losses", "ties"], _summary_rows(comparison)),
        "<h2>Per task</h2>",
        table("detail", _detail_header(comparison), _detail_rows(comparison)),
        "<h2>Sources</h2>",
        '<ul class="notes">' + "".join(f"<li>{e(s)}</li>" for s in _sources(comparison)) + "</ul>",
    ]
    return html_page(_title(comparison), sections, _INTRO)


def to_latex(comparison: Comparison) -> str:
    header = _detail_header(comparison)
    body = [latex_row(row) for row in _detail_rows(comparison)] + [r"\midrule"]
    body += [
        rf"\multicolumn{{{len(header)}}}{{l}}"
        rf"{{{latex_escape(row[0])}: {row[2]} wins, {row[3]} losses, {row[4]} ties}} \\"
        for row in _summary_rows(comparison)
        if row[1] == "all"
    ]
    return latex_table(_title(comparison), "ll" + "r" * (len(header) - 2), header, body)
