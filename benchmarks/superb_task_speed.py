"""One SUPERB task through spear-bench and through s3prl's own entry point: the same numbers? the wall-time ratio.

    python benchmarks/superb_task_speed.py           # KS, 200 steps (tasks/bench_superb.yaml), SPEAR Base random init
    python benchmarks/superb_task_speed.py --quick   # KS, 2 steps (demo_superb), SPEAR tiny: checks that it runs

Both sides run on the generated demo corpus, one after the other, each in a fresh process with
``--threads`` torch threads (OMP_NUM_THREADS), timed from process start to exit:

1. spear-bench: ``python -m spear_bench run --suite S --tasks T --model M --data-root <demo data>
   --results <tmp> --cache <tmp> --seed 42 --quiet``; its hidden-state cache starts empty, so its
   time includes filling it (the advantage the cache buys comes from the epochs after the first,
   and from validation and test reading states instead of running the upstream).
2. s3prl: ``spear_bench.upstreams.register()`` (the model's hub entry, s3prl's compatibility shims),
   then ``SuperbKS().main(["--config", <dumped>, "--target_dir", D, "--cache_dir", D/s3prl_cache])``,
   what ``python -m s3prl.main SuperbKS`` runs, on the config spear-bench's run dumped
   (``<run folder>/configs/*.yaml``; only target_dir and cache_dir differ).

The numbers compared: s3prl's test ``result.yaml``, the valid-best head (every tensor of the
saved model but the frozen upstream's: max |diff|) and the optimizer state at the last step.
"Identical" means every one is exactly equal. The ratio is s3prl's wall time over spear-bench's;
the machine's load average is printed beside it (a shared machine slows both sides unevenly).
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

import torch
import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

import spear_bench  # noqa: E402, F401  (torchaudio hook first)
from spear_bench.demo.generate import generate_demo_data  # noqa: E402
from spear_bench.superb.problem import dumped_config  # noqa: E402
from spear_bench.superb.recipes import recipe_for  # noqa: E402
from spear_bench.task_registry import load_suite  # noqa: E402

UPSTREAM_PREFIX = "upstream."  # the frozen upstream's tensors in s3prl's saved model (spear-bench leaves them out)


def _env(threads: int) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), str(REPO_ROOT / "upstreams"), env.get("PYTHONPATH", "")])
    return env


def timed_run(command: list[str], threads: int, log: Path) -> float:
    """Wall seconds of ``command`` in a fresh process (output to ``log``); a failure ends the benchmark in one line."""
    start = time.perf_counter()
    with open(log, "w") as out:
        done = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, env=_env(threads), cwd=REPO_ROOT)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        tail = log.read_text().strip().splitlines()[-1:] or ["no output"]
        raise SystemExit(f"{' '.join(command[:4])} ... failed (exit {done.returncode}): {tail[0]} (log: {log})")
    return seconds


def run_spear_bench(args, data_root: Path, work: Path) -> tuple[float, Path]:
    """spear-bench's run of the task; its s3prl run folder (the one holding configs/*.yaml)."""
    command = [
        sys.executable,
        "-m",
        "spear_bench",
        "run",
        "--suite",
        args.suite,
        "--tasks",
        args.task,
        "--model",
        args.model,
        "--data-root",
        str(data_root),
        "--results",
        str(work / "results"),
        "--cache",
        str(work / "cache"),
        "--seed",
        str(args.seed),
        "--device",
        "cpu",
        "--keep-checkpoints",
        "all",  # compare() reads the last step's optimizer state beside the dev-best head
        "--quiet",
    ]
    seconds = timed_run(command, args.threads, work / "spear_bench.log")
    folders = sorted(p.parent.parent for p in (work / "cache" / "superb_runs").glob(f"*/{args.task}-*/configs/*.yaml"))
    if len(folders) != 1:
        raise SystemExit(f"expected one s3prl run folder of {args.task} under {work / 'cache'}, found {folders}")
    return seconds, folders[0]


def run_s3prl(args, problem: str, dumped: Path, target_dir: Path, work: Path) -> float:
    command = [sys.executable, __file__, "--s3prl-worker", problem, str(dumped), str(target_dir)]
    return timed_run(command, args.threads, work / "s3prl.log")


def s3prl_worker(problem: str, config: str, target_dir: str) -> None:
    """Runs in a fresh process: s3prl's own entry point on spear-bench's dumped config."""
    from spear_bench import upstreams
    from spear_bench.compat.s3prl import apply_s3prl_compat

    apply_s3prl_compat()  # this process is s3prl's own run: the s3prl patches for all of it
    upstreams.register()
    import s3prl.problem  # heavy optional dependency (importable with the patches)

    cache_dir = str(Path(target_dir) / "s3prl_cache")
    getattr(s3prl.problem, problem)().main(["--config", config, "--target_dir", target_dir, "--cache_dir", cache_dir])


def _tensors(value, prefix: str = "") -> dict[str, torch.Tensor]:
    """Every tensor in a nested state (dicts and lists), by its path; other leaves as 0-d tensors where numeric."""
    if isinstance(value, torch.Tensor):
        return {prefix: value}
    if isinstance(value, dict):
        return {k: v for key, item in value.items() for k, v in _tensors(item, f"{prefix}/{key}").items()}
    if isinstance(value, (list, tuple)):
        return {k: v for i, item in enumerate(value) for k, v in _tensors(item, f"{prefix}/{i}").items()}
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return {prefix: torch.tensor(float(value), dtype=torch.float64)}
    return {}


def max_abs_diff(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    """Largest |a - b| over the tensors of both (inf when their names or shapes differ)."""
    if a.keys() != b.keys() or any(a[k].shape != b[k].shape for k in a):
        return float("inf")
    return max((float((a[k].double() - b[k].double()).abs().max()) for k in a if a[k].numel()), default=0.0)


def _load(path: Path):
    return torch.load(path, map_location="cpu", weights_only=False)


def compare(spear_dir: Path, s3prl_dir: Path, result_glob: str) -> dict:
    """The numbers of both runs side by side: test results, the valid-best head, the last optimizer state."""

    def results(folder: Path) -> dict:
        files = sorted(folder.glob(result_glob))
        return yaml.safe_load(files[0].read_text()) if files else {}

    def head(folder: Path) -> dict[str, torch.Tensor]:
        state = _load(folder / "train" / "valid_best" / "model" / "state_dict.pt")
        return {k: v for k, v in state.items() if not k.startswith(UPSTREAM_PREFIX)}

    def last_step(folder: Path) -> Path:
        steps = sorted((folder / "train").glob("step_*"), key=lambda p: int(p.name.split("_")[1]))
        return steps[-1]

    ours, theirs = results(spear_dir), results(s3prl_dir)
    head_diff = max_abs_diff(head(spear_dir), head(s3prl_dir))
    ours_step, their_step = last_step(spear_dir), last_step(s3prl_dir)
    optimizer_diff = (
        max_abs_diff(_tensors(_load(ours_step / "optimizer.pt")), _tensors(_load(their_step / "optimizer.pt")))
        if ours_step.name == their_step.name
        else float("inf")
    )
    return {
        "spear_bench_result": ours,
        "s3prl_result": theirs,
        "last_step": ours_step.name,
        "head_max_abs_diff": head_diff,
        "optimizer_max_abs_diff": optimizer_diff,
        "identical": bool(ours) and ours == theirs and head_diff == 0.0 and optimizer_diff == 0.0,
    }


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="demo_superb's 2-step KS with SPEAR tiny (a smoke run)")
    parser.add_argument("--suite", default=None, help="task file (default bench_superb; demo_superb with --quick)")
    parser.add_argument("--task", default=None, help="the KS task in it (default bench_ks; demo_ks with --quick)")
    parser.add_argument(
        "--model", default=None, help="model reference (default spear_base[random-init]; spear_tiny with --quick)"
    )
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--threads", type=int, default=1, help="torch threads of each side (default 1)")
    parser.add_argument("--data-root", type=Path, default=None, help="the demo data (default: generated if absent)")
    parser.add_argument("--work-dir", type=Path, default=None, help="keep both runs' folders here (default: temporary)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--s3prl-worker", nargs=3, metavar=("PROBLEM", "CONFIG", "TARGET_DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.s3prl_worker:
        s3prl_worker(*args.s3prl_worker)
        return {}
    args.suite = args.suite or ("demo_superb" if args.quick else "bench_superb")
    args.task = args.task or ("demo_ks" if args.quick else "bench_ks")
    args.model = args.model or ("spear_tiny[random-init]" if args.quick else "spear_base[random-init]")

    spec = load_suite(args.suite).task(args.task)
    recipe = recipe_for(spec)
    data_root = generate_demo_data(args.data_root, log=lambda *_: None)
    with tempfile.TemporaryDirectory(prefix="superb_task_speed_") as tmp:
        work = args.work_dir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        load_before = os.getloadavg()
        spear_s, spear_dir = run_spear_bench(args, data_root, work)
        dumped = dumped_config(spear_dir)
        s3prl_dir = work / "s3prl_run"
        s3prl_s = run_s3prl(args, recipe.problem, dumped, s3prl_dir, work)
        load_after = os.getloadavg()
        numbers = compare(spear_dir, s3prl_dir, recipe.result_glob)
    results = {
        "suite": args.suite,
        "task": args.task,
        "problem": recipe.problem,
        "model": args.model,
        "total_steps": spec.protocol.total_steps,
        "threads": args.threads,
        "spear_bench_s": round(spear_s, 1),
        "s3prl_s": round(s3prl_s, 1),
        "ratio_s3prl_over_spear_bench": s3prl_s / spear_s,
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in load_after],
        "cpu_count": os.cpu_count(),
        **numbers,
    }
    if args.json:
        print(json.dumps(results, indent=1, default=str))
        return results
    print(
        f"{recipe.problem} ({args.suite}/{args.task}: {spec.protocol.total_steps} steps), {args.model}, "
        f"{args.threads} thread(s), seed {args.seed}"
    )
    print(f"{'':<34}{'wall s':>9}   test result")
    print(f"{'spear-bench run (cache cold)':<34}{spear_s:>9.1f}   {numbers['spear_bench_result']}")
    print(f"{recipe.problem + '().main (s3prl)':<34}{s3prl_s:>9.1f}   {numbers['s3prl_result']}")
    print(f"ratio s3prl / spear-bench: {results['ratio_s3prl_over_spear_bench']:.2f}x (goal >= 5x)")
    print(
        f"numbers identical: {'yes' if numbers['identical'] else 'NO'} "
        f"(head max |diff| {numbers['head_max_abs_diff']:.3g}, "
        f"optimizer state at {numbers['last_step']} max |diff| {numbers['optimizer_max_abs_diff']:.3g})"
    )
    print(
        f"load average before {results['load_average_before']}, after {results['load_average_after']} "
        f"({results['cpu_count']} cores)"
    )
    return results


if __name__ == "__main__":
    main()
