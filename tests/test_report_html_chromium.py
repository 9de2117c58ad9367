"""The report's HTML pages render in headless Chromium without script errors, and their sorting works.

Each page is opened as ``file://...html#selftest``: the page's own script then sorts every
table by every column both ways, checks the order and writes the outcome into
``<body data-selftest=...>``; uncaught errors land in ``<body data-js-errors=...>`` and in
Chromium's console log (``--enable-logging=stderr``), both of which are checked.
Skipped only when no Chromium binary is installed (``apt-get install -y chromium``).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from spear_bench.report.build import ReportSettings, write_report

CHROMIUM = next(
    (shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome", "chrome") if shutil.which(n)), None
)
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium binary on this machine")


def render(page: Path, profile: Path) -> tuple[str, str]:
    """(body tag of the dumped DOM, console lines) of a page opened with #selftest."""
    result = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            f"--user-data-dir={profile}",
            "--enable-logging=stderr",
            "--v=0",
            "--dump-dom",
            page.resolve().as_uri() + "#selftest",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    body = re.search(r"<body[^>]*>", result.stdout)
    console = [line for line in result.stderr.splitlines() if ":CONSOLE" in line]
    return (body.group(0) if body else ""), "\n".join(console)


@pytest.fixture(scope="module")
def pages(tmp_path_factory, write_demo_store) -> Path:
    root = tmp_path_factory.mktemp("html")
    write_demo_store(root / "results")
    write_report(ReportSettings(results=root / "results", out=root / "out", plots=False))
    return root


@pytest.mark.parametrize("page", ["leaderboards.html", "compare_spear_tiny.html"])
def test_page_renders_and_sorts_without_script_errors(pages, page):
    body, console = render(pages / "out" / page, pages / "profile")
    assert 'data-ready="1"' in body, body
    assert re.search(r'data-selftest="ok \d+"', body), body
    assert "data-js-errors" not in body and "Uncaught" not in console, console


def test_check_catches_a_script_error(pages):
    broken = pages / "broken.html"
    broken.write_text(
        (pages / "out" / "superb.html").read_text().replace("function setUp() {", "function setUp() { null.boom;", 1)
    )
    body, console = render(broken, pages / "profile")
    assert "data-js-errors" in body and "Uncaught TypeError" in console
