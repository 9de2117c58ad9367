"""Seed noise of the HEAR probe on the heareval-oracle tasks, and heareval's own result beside it.

    python benchmarks/heareval_oracle_noise.py            # the three tasks, spear-bench seeds 0-4, heareval once
    python benchmarks/heareval_oracle_noise.py --seeds 3 --tasks scene

For each task of :data:`oracles.heareval_oracle.ORACLE_TASKS` (tests/oracles/) (the ones
tests/test_heareval_oracle.py runs), spear-bench's ``run_hear_task`` is run with probe seeds
0..N-1 and 42 (the grid is drawn with seed 42 every time, as heareval draws it) and heareval's own
``task_embeddings`` + ``task_predictions`` once (its seed is fixed at 42). Printed per task: the
grid points each selected; per grid point, spear-bench's validation score min / max over the seeds
(whether the selected point is clear of the others, or a coin flip), and heareval's validation
score of its point; per test score, heareval's, spear-bench's seed-42 one, spear-bench's min / max
over the N + 1 seeds and their range (the tolerance the parity test allows, ``SEED_TOLERANCE``).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "tests"))  # the heareval oracle (tests/oracles/) is test support

from oracles.heareval_oracle import (  # noqa: E402
    ORACLE_MAX_EPOCHS,
    ORACLE_TASKS,
    make_task,
    run_heareval,
    run_spear_bench,
)


def describe(point: dict) -> str:
    return f"{point['hidden_layers']}h/{point['initialization'].replace('xavier_', '')}/{point['lr']:g}"


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=5, help="spear-bench probe seeds 0..N-1 (default 5)")
    parser.add_argument("--tasks", nargs="*", default=list(ORACLE_TASKS), help=f"tasks (default: {list(ORACLE_TASKS)})")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    out = {}
    with tempfile.TemporaryDirectory(prefix="heareval_oracle_") as tmp:
        root = Path(tmp)
        for name in args.tasks:
            task = ORACLE_TASKS[name]
            folder = make_task(root / "tasks", task)
            theirs = run_heareval(folder, root / "heareval" / name, task.dim, ORACLE_MAX_EPOCHS, task.evaluation)
            runs = {
                seed: run_spear_bench(task, root / "tasks", root / "cache", ORACLE_MAX_EPOCHS, seed=seed)
                for seed in sorted({42, *range(args.seeds)})
            }
            seeds = list(runs.values())  # seeds 0..N-1 and 42 (the default one the tests run)
            points = [describe(g) for g in runs[42]["grid"]]
            validation = {point: [r["grid"][i]["validation_score"] for r in seeds] for i, point in enumerate(points)}
            out[name] = {
                "heareval": {"best_point": theirs["best_point"], "scores": theirs["scores"]},
                "spear_bench_seed42": {"best_point": runs[42]["best_point"], "scores": runs[42]["scores"]},
                "spear_bench_seeds": [{"best_point": r["best_point"], "scores": r["scores"]} for r in seeds],
                "validation": validation,
                "heareval_validation_score": theirs["validation_score"],
                "range": {
                    m: max(r["scores"][m] for r in seeds) - min(r["scores"][m] for r in seeds) for m in task.evaluation
                },
            }
            print(
                f"{name}: heareval {describe(theirs['best_point'])} | "
                f"spear-bench seed 42 {describe(runs[42]['best_point'])} | "
                f"seeds 0-{args.seeds - 1} and 42: {', '.join(describe(r['best_point']) for r in seeds)}",
                flush=True,
            )
            print(f"  validation ({task.evaluation[0]}) per grid point, spear-bench seeds min / max:", flush=True)
            for point, values in validation.items():
                print(f"    {point:<18} {min(values):.4f} {max(values):.4f}", flush=True)
            print(f"    heareval's selected point: {theirs['validation_score']:.4f}", flush=True)
            for m in task.evaluation:
                values = [r["scores"][m] for r in seeds]
                print(
                    f"  {m:<24} heareval {theirs['scores'][m]:.4f}  spear-bench {runs[42]['scores'][m]:.4f}  "
                    f"seeds min {min(values):.4f} max {max(values):.4f} range {max(values) - min(values):.4f}",
                    flush=True,
                )
    if args.json:
        print(json.dumps(out, indent=1))
    return out


if __name__ == "__main__":
    main()
