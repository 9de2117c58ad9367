"""heareval's probe grid vs spear-bench's, on the same embeddings: wall time and test score.

    python benchmarks/hear_probe_speed.py          # 600/200/200 clips, 512-d, 10 classes, 8 grid points, 30 epochs
    python benchmarks/hear_probe_speed.py --quick  # 120/40/40 clips, 64-d, 2 grid points, 6 epochs: checks that it runs

A synthetic scene-level multiclass task (one Gaussian cluster per class, seeded) is written
once to a temporary folder, as heareval's ``task_embeddings`` leaves it for
``heareval.predictions.task_predictions``. The files are named by label and listed sorted, as
hearpreprocess writes a split JSON (Speech Commands' names start with the word), so both probes
go through their real path, file shuffle included:

* ``task_metadata.json`` (split_mode ``trainvaltest``, embedding_type ``scene``,
  prediction_type ``multiclass``, evaluation ``["top1_acc"]``), ``labelvocabulary.csv``
  (columns ``idx,label``), ``<split>.json`` (file -> labels, sorted by file name);
* per file ``<split>/<file>.embedding.npy`` and ``.target-labels.json``, then heareval's own
  ``memmap_embeddings`` (one ``random.Random(0)`` for the task, each split's file list shuffled
  in turn): ``<split>.embedding-dimensions.json``, ``<split>.embeddings.npy`` (a raw float32
  memmap) and ``<split>.target-labels.pkl``. heareval's probe reads the memmaps unshuffled;
  spear-bench reads the per-file embeddings in split-JSON order, as its cache gives them, and
  ``build_probe_split`` replays heareval's shuffle (inside the timed region).

Then both probes are timed (``time.perf_counter``, the same ``torch.set_num_threads``) on it:

* heareval 2021.1.3: ``task_predictions`` itself (Lightning, CPU, ``deterministic=True`` and
  ``in_memory=True`` as its runner's defaults), its checkpoints and logs kept in the
  temporary folder; the only change is ``PARAM_GRID["max_epochs"]`` (``--max-epochs``), and
  the number of grid points is its own ``grid_points`` argument;
* spear-bench: the split JSONs and per-file embeddings read back into ``build_probe_split``
  (heareval's file order replayed there), then ``select_grid_points`` + ``train_grid`` +
  ``best_probe`` with a ``ProbeConfig`` that has the same ``grid_points`` and ``max_epochs``
  (heareval's defaults otherwise), scored with ``hear_runner``'s scorer and test helper, as
  ``spear-bench run`` does.

Both times include reading the embeddings from the folder, training the grid and scoring
the best grid point on the test split. spear-bench runs first, so any cold-start cost
(first torch kernels) falls on it, not on heareval.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import logging
import sys
import tempfile
import time
import warnings
from pathlib import Path
from unittest import mock

import numpy as np
import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "tests"))  # the heareval oracle (tests/oracles/) is test support

from oracles.heareval_oracle import heareval_session, init_name  # noqa: E402

import spear_bench  # noqa: E402,F401  (torchaudio hook first)
from spear_bench.bench.hear_data import HearTaskData  # noqa: E402
from spear_bench.bench.hear_runner import build_probe_split, make_scorer, test_scores  # noqa: E402
from spear_bench.bench.probe import ProbeConfig, best_probe, select_grid_points, train_grid  # noqa: E402
from spear_bench.compat.heareval import install_heareval_hook  # noqa: E402

install_heareval_hook()  # already installed by the package's .pth; kept for a process started without it
with warnings.catch_warnings():  # imported here, outside the timed region (Lightning takes seconds to import)
    warnings.simplefilter("ignore")
    from heareval.predictions import task_predictions as heareval_predictions  # noqa: E402

SPLITS = ("train", "valid", "test")
FULL = {
    "num_train": 600,
    "num_valid": 200,
    "num_test": 200,
    "dim": 512,
    "classes": 10,
    "grid_points": 8,
    "max_epochs": 30,
}
QUICK = {"num_train": 120, "num_valid": 40, "num_test": 40, "dim": 64, "classes": 10, "grid_points": 2, "max_epochs": 6}


# --- the synthetic task, in heareval's embedding layout ------------------------------------------


def make_task(
    sizes: dict[str, int], dim: int, classes: int, separation: float, seed: int
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """split -> (embeddings (N, dim) float32, class indices (N,)): one Gaussian cluster per class.

    Class means are drawn so that two of them lie ``separation`` noise standard deviations
    apart on average; classes are balanced and the instances sorted by class (the order of
    a split JSON whose file names start with the label).
    """
    rng = np.random.default_rng(seed)
    means = rng.normal(size=(classes, dim)) * separation / np.sqrt(2 * dim)
    out = {}
    for split, n in sizes.items():
        y = np.sort(rng.permutation(np.arange(n) % classes))
        x = means[y] + rng.normal(size=(n, dim))
        out[split] = (x.astype(np.float32), y)
    return out


def label_name(index: int) -> str:
    return f"class_{index:02d}"  # not numeric-looking: heareval compares labels as strings


def file_name(split: str, i: int, label: str) -> str:
    return f"{label}_{split}_{i:06d}.wav"  # the label first: sorted names are sorted labels


def write_heareval_embeddings(folder: Path, data: dict[str, tuple[np.ndarray, np.ndarray]], classes: int) -> None:
    """What ``heareval.embeddings.task_embeddings`` leaves for ``task_predictions`` (scene task),
    via its own memmap code."""
    import random

    from heareval.embeddings.task_embeddings import memmap_embeddings

    metadata = {
        "task_name": "synthetic_scene",
        "version": "benchmark",
        "embedding_type": "scene",
        "prediction_type": "multiclass",
        "split_mode": "trainvaltest",
        "splits": list(SPLITS),
        "sample_duration": 1.0,
        "evaluation": ["top1_acc"],
    }
    (folder / "task_metadata.json").write_text(json.dumps(metadata, indent=1))
    with (folder / "labelvocabulary.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["idx", "label"])
        writer.writerows([i, label_name(i)] for i in range(classes))
    prng = random.Random(0)  # heareval's task_embeddings: one generator for the task, splits in metadata order
    for split in SPLITS:
        x, y = data[split]
        outdir = folder / split
        outdir.mkdir()
        split_data = {}
        for i, (row, c) in enumerate(zip(x, y)):
            name = file_name(split, i, label_name(int(c)))
            split_data[name] = [label_name(int(c))]
            np.save(outdir / f"{name}.embedding.npy", row)
            (outdir / f"{name}.target-labels.json").write_text(json.dumps(split_data[name]))
        split_data = dict(sorted(split_data.items()))
        (folder / f"{split}.json").write_text(json.dumps(split_data))
        with contextlib.redirect_stderr(io.StringIO()):  # its tqdm bars
            memmap_embeddings(outdir, prng, metadata, split, folder, split_data)


def read_task_embeddings(folder: Path) -> tuple[HearTaskData, dict]:
    """The folder as hear_runner's inputs: a HearTaskData (split JSONs) and split -> file -> {"embedding": (D,)}."""
    metadata = json.loads((folder / "task_metadata.json").read_text())
    with (folder / "labelvocabulary.csv").open(newline="") as f:
        rows = sorted(csv.DictReader(f), key=lambda r: int(r["idx"]))
    vocabulary = [r["label"] for r in rows]
    split_items: dict[str, dict] = {}
    embeddings: dict[str, dict] = {}
    for split in metadata["splits"]:
        split_items[split] = json.loads((folder / f"{split}.json").read_text())
        embeddings[split] = {
            name: {"embedding": np.load(folder / split / f"{name}.embedding.npy")} for name in split_items[split]
        }
    return HearTaskData(folder, metadata, vocabulary, split_items), embeddings


# --- the two probes ------------------------------------------------------------------------------


def run_spear_bench(folder: Path, grid_points: int, max_epochs: int) -> dict:
    """spear-bench's probe grid on the folder's first (only) data split, as hear_runner.run_hear_task."""
    task, embeddings = read_task_embeddings(folder)
    config = ProbeConfig(grid_points=grid_points, max_epochs=max_epochs).with_task_overrides(task.metadata)
    scorer, mode = make_scorer(task, config)
    split = task.data_splits()[0]
    train = build_probe_split(task, split["train"], embeddings)
    valid = build_probe_split(task, split["valid"], embeddings)
    test = build_probe_split(task, split["test"], embeddings)
    grid = train_grid(select_grid_points(config), train, valid, task.prediction_type, scorer, mode, config)
    best = best_probe(grid)
    scores, _, _ = test_scores(task, best, test, config)
    return {
        "test_score": float(scores["top1_acc"]),
        "validation_score": best.validation_score,
        "best_point": best.point.as_dict(),
    }


def run_heareval(folder: Path, dim: int, grid_points: int, max_epochs: int) -> dict:
    """heareval's own ``task_predictions`` on the folder (CPU); results from the JSON it writes there."""
    logger = logging.getLogger("hear_probe_speed.heareval")  # task_predictions logs every grid point at INFO
    logger.propagate = False
    if not logger.handlers:
        logger.addHandler(logging.NullHandler())
    # The only change to heareval: PARAM_GRID's max_epochs (500 by default), restored on exit.
    with mock.patch.dict(heareval_predictions.PARAM_GRID, {"max_epochs": [max_epochs]}):
        heareval_predictions.task_predictions(
            embedding_path=folder.resolve(),  # absolute: its CSVLogger writes to Path("logs") / embedding_path
            embedding_size=dim,
            grid_points=grid_points,
            gpus=None,
            in_memory=True,
            deterministic=True,
            grid="default",
            logger=logger,
        )
    results = json.loads((folder / "test.predicted-scores.json").read_text())
    hparams = results["hparams"]
    return {
        "test_score": float(results["test"]["test_top1_acc"]),
        "validation_score": float(results["test"]["validation_score"]),
        "best_point": {
            "hidden_layers": int(hparams["hidden_layers"]),
            "initialization": init_name(hparams["initialization"]),
            "lr": float(hparams["lr"]),
        },
    }


def describe(point: dict) -> str:
    return f"{point['hidden_layers']} hidden, {point['initialization']}, lr {point['lr']:g}"


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny task and grid (a smoke run)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads for both probes (default 2)")
    parser.add_argument(
        "--num-train",
        type=int,
        default=None,
        help=f"train instances (default {FULL['num_train']}; {QUICK['num_train']} with --quick)",
    )
    parser.add_argument(
        "--num-valid",
        type=int,
        default=None,
        help=f"validation instances (default {FULL['num_valid']}; {QUICK['num_valid']} with --quick)",
    )
    parser.add_argument(
        "--num-test",
        type=int,
        default=None,
        help=f"test instances (default {FULL['num_test']}; {QUICK['num_test']} with --quick)",
    )
    parser.add_argument(
        "--dim", type=int, default=None, help=f"embedding size (default {FULL['dim']}; {QUICK['dim']} with --quick)"
    )
    parser.add_argument(
        "--classes",
        type=int,
        default=None,
        help=f"classes (default {FULL['classes']}; {QUICK['classes']} with --quick)",
    )
    parser.add_argument(
        "--grid-points",
        type=int,
        default=None,
        help=f"grid points (default {FULL['grid_points']}; {QUICK['grid_points']} with --quick)",
    )
    parser.add_argument(
        "--max-epochs",
        type=int,
        default=None,
        help=f"max epochs per grid point (default {FULL['max_epochs']}; {QUICK['max_epochs']} with --quick)",
    )
    parser.add_argument(
        "--separation", type=float, default=5.0, help="mean distance between class means, in noise std (default 5)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic task")
    parser.add_argument("--verbose", action="store_true", help="show heareval's and Lightning's output")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)
    defaults = QUICK if args.quick else FULL
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)

    saved_threads = torch.get_num_threads()
    torch.set_num_threads(args.threads)
    try:
        with tempfile.TemporaryDirectory(prefix="hear_probe_speed_") as tmp:
            folder = Path(tmp) / "synthetic_scene"
            folder.mkdir()
            sizes = {"train": args.num_train, "valid": args.num_valid, "test": args.num_test}
            write_heareval_embeddings(
                folder, make_task(sizes, args.dim, args.classes, args.separation, args.seed), args.classes
            )

            start = time.perf_counter()
            ours = run_spear_bench(folder, args.grid_points, args.max_epochs)
            ours_s = time.perf_counter() - start

            with heareval_session(Path(tmp), args.verbose):
                start = time.perf_counter()
                theirs = run_heareval(folder, args.dim, args.grid_points, args.max_epochs)
                theirs_s = time.perf_counter() - start
    finally:
        torch.set_num_threads(saved_threads)

    results = {
        "heareval_s": theirs_s,
        "spear_bench_s": ours_s,
        "ratio": theirs_s / ours_s,
        "heareval_test_score": theirs["test_score"],
        "spear_bench_test_score": ours["test_score"],
        "heareval_best_point": theirs["best_point"],
        "spear_bench_best_point": ours["best_point"],
        "threads": args.threads,
        "sizes": {**sizes, "dim": args.dim, "classes": args.classes},
        "grid_points": args.grid_points,
        "max_epochs": args.max_epochs,
    }
    if args.json:
        print(json.dumps(results, indent=1))
        return results
    print(
        f"synthetic scene task: {args.num_train}/{args.num_valid}/{args.num_test} clips, "
        f"{args.dim}-d, {args.classes} classes; "
        f"{args.grid_points} grid points, max {args.max_epochs} epochs; {args.threads} torch threads, CPU"
    )
    print(f"{'probe':<13}{'seconds':>9}{'test top1_acc':>15}   best grid point")
    print(f"{'heareval':<13}{theirs_s:>9.2f}{theirs['test_score']:>15.3f}   {describe(theirs['best_point'])}")
    print(f"{'spear-bench':<13}{ours_s:>9.2f}{ours['test_score']:>15.3f}   {describe(ours['best_point'])}")
    print(f"ratio heareval / spear-bench: {results['ratio']:.1f}x")
    return results


if __name__ == "__main__":
    main()
