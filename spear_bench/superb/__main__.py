"""``python -m spear_bench.superb '<json of run_task's arguments>'``: one :func:`run_task` call in a
process of its own. spear-bench's SUPERB runner starts one per legacy unit: s3prl's legacy runner
leaves process-wide state behind (see :func:`spear_bench.superb.legacy_tasks.run_legacy_unit`).
The metrics land in ``<run_dir>/<task>.json`` (run_task writes them); a spear-bench error is written
to ``<run_dir>/error.json`` (its class and one-line message) and the exit code is 2.
"""

import json
import sys
from pathlib import Path

from spear_bench.atomic_io import atomic_write_text
from spear_bench.errors import SpearBenchError
from spear_bench.superb.legacy_tasks import run_task


def main(argv: list[str] | None = None) -> int:
    arguments = json.loads((sys.argv[1:] if argv is None else argv)[0])
    error_file = Path(arguments["run_dir"]) / "error.json"
    error_file.unlink(missing_ok=True)
    try:
        run_task(**arguments)
    except SpearBenchError as error:
        error_file.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(error_file, json.dumps({"type": type(error).__name__, "message": str(error)}))
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
