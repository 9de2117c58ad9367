"""Run one legacy SUPERB recipe through s3prl's own runner (``s3prl.run_downstream``).

The config is the published recipe (:mod:`.recipes`) with the corpus paths filled and, for a
demo, an explicit short schedule (:data:`DEMO_OVERRIDES`: every value that departs from the
recipe is listed there, nothing else changes). Training, evaluation, checkpoints and resume are
s3prl's: ``-a`` resumes from the newest ``states-*.ckpt`` of the experiment folder.
"""

from __future__ import annotations

import copy
from pathlib import Path

import yaml

from spear_bench.errors import ConfigError
from spear_bench.superb_legacy import compat
from spear_bench.superb_legacy.recipes import RECIPES, recipe_config

# Demo schedules: a few steps, small batches, no DataLoader workers. Keys are dotted paths into
# the s3prl config; each replaces a recipe value (named in docs/superb_legacy.md).
DEMO_OVERRIDES: dict[str, dict[str, object]] = {
    "ood_asr_es": {
        "runner.total_steps": 3,
        "runner.log_step": 1,
        "runner.eval_step": 3,
        "runner.save_step": 3,
        "downstream_expert.corpus.batch_size": 4,
        "downstream_expert.corpus.num_workers": 0,
    },
    "qbe": {  # no training; DTW in one worker process, no DataLoader workers
        "downstream_expert.datarc.num_workers": 0,
        "downstream_expert.max_workers": 1,
    },
}


def ood_asr_corpus(root: str | Path, language: str = "es") -> dict[str, object]:
    """The run-time paths of the OOD-ASR (Common Voice) recipe for a corpus folder in the demo layout."""
    root = Path(root)
    lists = root / "common_voice" / language
    corpus = {f"corpus.{split}": [str(lists / f"{split}.tsv")] for split in ("train", "dev", "test")}
    corpus["corpus.path"] = str(root / "cv-corpus-7.0" / language / "clips")
    corpus["text.vocab_file"] = str(root / "cv_vocab" / f"{language}_char.txt")
    return corpus


def _set(config: dict, dotted: str, value) -> None:
    node = config
    *parents, leaf = dotted.split(".")
    for key in parents:
        if not isinstance(node.get(key), dict):
            raise ConfigError(f"override {dotted}: no section {key!r} in the recipe")
        node = node[key]
    if leaf not in node:
        raise ConfigError(f"override {dotted}: no field {leaf!r} in the recipe")
    node[leaf] = value


def write_run_config(recipe: str, corpus: dict[str, object], path: Path, overrides: dict | None = None) -> Path:
    """The recipe with its corpus paths and ``overrides`` applied, written (atomically) to ``path``."""
    config = copy.deepcopy(recipe_config(recipe, corpus))
    for dotted, value in (overrides or {}).items():
        _set(config, dotted, value)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(yaml.safe_dump(config, sort_keys=False))
    tmp.replace(path)
    return path


def run_legacy_downstream(
    recipe: str,
    corpus: dict[str, object],
    upstream: str,
    expdir: str | Path,
    device: str = "cpu",
    overrides: dict | None = None,
    seed: int = 1337,
    total_steps: int | None = None,
) -> Path:
    """Train ``recipe`` with s3prl's legacy runner on ``upstream`` (an s3prl hub name, e.g.
    ``spear_tiny``); returns ``expdir``.

    With a ``states-*.ckpt`` in ``expdir`` s3prl resumes from the newest one and, as s3prl does,
    keeps the config saved in that checkpoint (``overrides`` then no longer apply); ``total_steps``
    is passed as s3prl's own ``-o config.runner.total_steps=N``, which applies to resumed runs too.
    """
    if recipe not in RECIPES:
        raise ConfigError(f"unknown legacy SUPERB recipe {recipe!r} (known: {', '.join(RECIPES)})")
    expdir = Path(expdir)
    config = write_run_config(recipe, corpus, expdir.parent / f"{expdir.name}.config.yaml", overrides)
    argv = ["-m", "train", "-a", "-u", upstream, "-d", RECIPES[recipe].downstream, "-c", str(config)]
    argv += ["-p", str(expdir), "--device", device, "--seed", str(seed)]
    if total_steps is not None:
        argv += ["-o", f"config.runner.total_steps={int(total_steps)}"]
    compat.run_downstream(argv)
    return expdir


def evaluate_legacy_downstream(
    recipe: str,
    corpus: dict[str, object],
    upstream: str,
    expdir: str | Path,
    split: str,
    layer: int | None = None,
    device: str = "cpu",
    overrides: dict | None = None,
) -> Path:
    """s3prl's ``-m evaluate -t <split>`` of ``recipe`` without a trained checkpoint (QbE: DTW on
    the upstream's features of hidden layer ``layer``; the expert writes
    ``<expdir>/benchmark.stdlist.xml``). Returns ``expdir``."""
    if recipe not in RECIPES:
        raise ConfigError(f"unknown legacy SUPERB recipe {recipe!r} (known: {', '.join(RECIPES)})")
    expdir = Path(expdir)
    config = write_run_config(recipe, corpus, expdir.parent / f"{expdir.name}.config.yaml", overrides)
    argv = ["-m", "evaluate", "-t", split, "-u", upstream, "-d", RECIPES[recipe].downstream, "-c", str(config)]
    if layer is not None:
        argv += ["-l", str(int(layer))]
    compat.run_downstream([*argv, "-p", str(expdir), "--device", device])
    return expdir
