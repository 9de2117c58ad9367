"""Where the project's data folders live.

The repository's top-level folders (tasks/, results/, reports/) hold data, not code; the
package finds them relative to the checkout (the install is editable, see README).
``SPEAR_BENCH_HOME`` overrides the root, e.g. to keep results outside the checkout.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def home() -> Path:
    return Path(os.environ.get("SPEAR_BENCH_HOME", REPO_ROOT))


def tasks_dir() -> Path:
    return REPO_ROOT / "tasks"


def results_dir() -> Path:
    return home() / "results"


def reference_dir() -> Path:
    return REPO_ROOT / "results" / "reference"


def reports_dir() -> Path:
    return home() / "reports"


def cache_dir() -> Path:
    return Path(os.environ.get("SPEAR_BENCH_CACHE", home() / "work_dir" / "cache"))
