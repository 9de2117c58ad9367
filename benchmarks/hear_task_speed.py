"""One whole HEAR task, embeddings + probe: heareval's two runners against ``spear-bench run``, wall time side by side.

    python benchmarks/hear_task_speed.py                 # demo_pitch (72/24/24 clips of 0.5 s), spear_tiny, CPU
    python benchmarks/hear_task_speed.py --model-size base --threads 2

The task is the demo suite's ``demo_pitch`` folder (harmonic tones, written by
``spear_bench.demo.hear_tasks.make_demo_pitch`` into a temporary data root). Both sides run as a
user runs them, each in its own process, on the same random-init SPEAR model and layer:

* heareval 2021.1.3: ``python -m heareval.embeddings.runner hear_spear --model-options
  '{"model": SIZE, "layer": "last"}' --tasks-dir DATA --task demo_pitch-v1-full`` then
  ``python -m heareval.predictions.runner EMBEDDINGS/hear_spear-model=SIZE-layer=last/demo_pitch-v1-full``
  (its defaults: 8 grid points, up to 500 epochs with early stopping, deterministic, CPU);
* spear-bench: ``python -m spear_bench run --suite demo --tasks demo_pitch --model spear_SIZE
  --data-root DATA --quiet`` (fresh results store and embedding cache: nothing is reused).

Times are wall clock around each command (interpreter start and imports included), with the
same ``OMP_NUM_THREADS``/torch thread count. Printed: seconds of each step, the totals, their
ratio, and each side's pitch_acc and selected grid point.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from spear_bench.demo.hear_tasks import make_demo_pitch  # noqa: E402
from spear_bench.task_registry import demo_suite  # noqa: E402

TASK = "demo_pitch"


def timed(args: list[str], cwd: Path, env: dict) -> float:
    start = time.perf_counter()
    result = subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        sys.stderr.write(result.stdout[-4000:] + result.stderr[-8000:])
        raise SystemExit(f"failed: {' '.join(args)}")
    return seconds


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model-size", default="tiny", help="SPEAR size, random init (default tiny)")
    parser.add_argument("--threads", type=int, default=2, help="torch / OpenMP threads of both sides (default 2)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    spec = demo_suite().task(TASK)
    env = {
        **os.environ,
        "OMP_NUM_THREADS": str(args.threads),
        "MKL_NUM_THREADS": str(args.threads),
        # this checkout (and its HEAR modules) first, as an installed spear-bench would be
        "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), str(REPO_ROOT / "upstreams")]),
    }
    with tempfile.TemporaryDirectory(prefix="hear_task_speed_") as tmp:
        root = Path(tmp)
        data = root / "data"
        make_demo_pitch(data / spec.folder, spec)
        options = json.dumps({"model": args.model_size, "layer": "last"})
        t_embed = timed(
            [
                "-m",
                "heareval.embeddings.runner",
                "hear_spear",
                "--model-options",
                options,
                "--tasks-dir",
                str(data),
                "--task",
                spec.folder,
                "--embeddings-dir",
                str(root / "embeddings"),
            ],
            root,
            env,
        )
        embed_dir = root / "embeddings" / f"hear_spear-model={args.model_size}-layer=last" / spec.folder
        t_predict = timed(["-m", "heareval.predictions.runner", str(embed_dir)], root, env)
        theirs = json.loads((embed_dir / "test.predicted-scores.json").read_text())
        t_ours = timed(
            [
                "-m",
                "spear_bench",
                "run",
                "--suite",
                "demo",
                "--tasks",
                TASK,
                "--model",
                f"spear_{args.model_size}",
                "--data-root",
                str(data),
                "--results",
                str(root / "results"),
                "--cache",
                str(root / "cache"),
                "--quiet",
            ],
            root,
            env,
        )
        (details,) = list((root / "results").rglob("details.json"))
        ours = json.loads(details.read_text())
    results = {
        "heareval_embeddings_s": t_embed,
        "heareval_predictions_s": t_predict,
        "heareval_s": t_embed + t_predict,
        "spear_bench_s": t_ours,
        "ratio": (t_embed + t_predict) / t_ours,
        "heareval_pitch_acc": float(theirs["test"]["test_pitch_acc"]),
        "spear_bench_pitch_acc": float(ours["scores"]["pitch_acc"]),
        "heareval_best_point": {k: theirs["hparams"][k] for k in ("hidden_layers", "initialization", "lr")},
        "spear_bench_best_point": ours["best_point"],
        "threads": args.threads,
        "model": f"spear_{args.model_size}",
    }
    if args.json:
        print(json.dumps(results, indent=1))
        return results
    print(
        f"task {TASK} ({spec.folder}), model spear_{args.model_size} (random init), layer last, "
        f"{args.threads} threads, CPU"
    )
    print(f"{'':<13}{'embeddings':>12}{'probe':>9}{'total s':>9}{'pitch_acc':>11}")
    total = t_embed + t_predict
    print(f"{'heareval':<13}{t_embed:>12.1f}{t_predict:>9.1f}{total:>9.1f}{results['heareval_pitch_acc']:>11.3f}")
    print(f"{'spear-bench':<13}{'':>12}{'':>9}{t_ours:>9.1f}{results['spear_bench_pitch_acc']:>11.3f}   (one command)")
    print(f"ratio heareval / spear-bench: {results['ratio']:.1f}x")
    return results


if __name__ == "__main__":
    main()
