"""The report's LaTeX compiles (pdflatex with booktabs, graphicx, geometry).

Skipped only where pdflatex is not installed (``apt-get install texlive-latex-base
texlive-latex-recommended``); the structure of the LaTeX is tested without it in
test_report_leaderboard.py.
"""

from __future__ import annotations

import shutil
import subprocess

import pytest

from spear_bench.report.build import ReportSettings, write_report

PDFLATEX = shutil.which("pdflatex")


@pytest.mark.skipif(PDFLATEX is None, reason="no pdflatex on this machine")
def test_leaderboards_and_comparison_latex_compile(tmp_path, write_demo_store):
    write_demo_store(tmp_path / "results")
    out = tmp_path / "out"
    write_report(ReportSettings(results=tmp_path / "results", out=out, plots=False))
    wrapper = out / "comparison_document.tex"
    wrapper.write_text(
        "\\documentclass{article}\\usepackage[margin=1.5cm,landscape]{geometry}\\usepackage{booktabs}"
        "\\usepackage{graphicx}\\begin{document}\\input{compare_spear_tiny}\\end{document}\n"
    )
    for document in ("leaderboards.tex", "comparison_document.tex"):
        result = subprocess.run(
            [PDFLATEX, "-interaction=nonstopmode", "-halt-on-error", document],
            cwd=out,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stdout[-2000:]
        assert (out / document.replace(".tex", ".pdf")).stat().st_size > 1000
