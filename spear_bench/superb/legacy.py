"""Run one legacy SUPERB recipe through s3prl's own runner (``s3prl.run_downstream``).

The config is the published recipe (:mod:`.recipes`) with the corpus paths filled and, for a
demo, an explicit short schedule (:data:`DEMO_OVERRIDES`: every value that departs from the
recipe is listed there, nothing else changes). Training, evaluation, checkpoints and resume are
s3prl's: ``-a`` resumes from the newest ``states-*.ckpt`` of the experiment folder.
"""

from __future__ import annotations

import copy
import sys
from pathlib import Path

import yaml

from spear_bench.compat import s3prl_legacy
from spear_bench.errors import ConfigError
from spear_bench.superb.recipes import legacy_recipe, recipe_config
from spear_bench.upstreams import register

# What a demo changes, per recipe (dotted paths into s3prl's config; each replaces a recipe value, named in
# docs/superb_legacy.md). Schedules: a few steps with one dev pass at the end (which picks s3prl's best
# checkpoint); no DataLoader workers on a 2-core machine.
_FEW_STEPS = {"runner.total_steps": 2, "runner.log_step": 1, "runner.eval_step": 2, "runner.save_step": 2}
DEMO_OVERRIDES: dict[str, dict[str, object]] = {
    "ood_asr_es": {
        **_FEW_STEPS,
        "downstream_expert.corpus.batch_size": 4,
        "downstream_expert.corpus.num_workers": 0,
        # the published 2 x BiLSTM 1024 (projection 1024) takes ~15 s a step on one CPU thread
        "downstream_expert.model.project_dim": 32,
        "downstream_expert.model.RNNs.dim": [32, 32],
    },
    "qbe": {"downstream_expert.datarc.num_workers": 0, "downstream_expert.max_workers": 1},
    "st": {
        **_FEW_STEPS,
        "runner.gradient_accumulate_steps": 1,  # 8 in the recipe: 8 batches a step, the demo has one batch
        "downstream_expert.datarc.num_workers": 0,
        "downstream_expert.generatorrc.beam": 2,  # 20: beam search of an untrained decoder to max length
        "downstream_expert.generatorrc.max_len_b": 20,  # 400
    },
    "se": {**_FEW_STEPS, "downstream_expert.loaderrc.num_workers": 0},
    "ss": {**_FEW_STEPS, "downstream_expert.loaderrc.num_workers": 0},
    "vc": {
        **_FEW_STEPS,
        "runner.eval_dataloaders": ["dev"],  # [dev, test]: run_task evaluates test once, after training
        "downstream_expert.datarc.num_workers": 0,
        # Taco2-AR's 2 LSTMP layers of 1024 run frame by frame (~235 steps an utterance): ~8 s a batch on a CPU
        "downstream_expert.modelrc.hidden_dim": 256,
    },
}

OOD_ASR_CORPORA = {  # sub-corpus -> (recipe, clips folder, list folder, vocabulary file) under ood_asr/
    "es": ("ood_asr_es", "cv-corpus-7.0/es/clips", "common_voice/es", "cv_vocab/es_char.txt"),
    "zh": ("ood_asr_zh", "cv-corpus-7.0/zh-CN/clips", "common_voice/zh-CN", "cv_vocab/zh-CN_char.txt"),
    "ar": ("ood_asr_ar", "cv-corpus-7.0/ar/clips", "common_voice/ar", "cv_vocab/ar_char.txt"),
    "sbcsae": ("ood_asr_sbcsae", "SBCSAE/wav", "sbcsae", "cv_vocab/en_char.txt"),
}


def ood_asr_corpus(root: str | Path, corpus: str = "es") -> dict[str, object]:
    """The run-time paths of an OOD-ASR recipe (``corpus``: a key of :data:`OOD_ASR_CORPORA`) for a
    corpus folder in the demo layout."""
    root = Path(root)
    _, clips, lists, vocab = OOD_ASR_CORPORA[corpus]
    paths = {f"corpus.{split}": [str(root / lists / f"{split}.tsv")] for split in ("train", "dev", "test")}
    return paths | {"corpus.path": str(root / clips), "text.vocab_file": str(root / vocab)}


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
    upstream_ckpt: str | None = None,
) -> Path:
    """Train ``recipe`` with s3prl's legacy runner on ``upstream`` (an s3prl hub name, e.g.
    ``spear_tiny``); returns ``expdir``.

    With a ``states-*.ckpt`` in ``expdir`` s3prl resumes from the newest one and, as s3prl does,
    keeps the config saved in that checkpoint (``overrides`` then no longer apply); ``total_steps``
    is passed as s3prl's own ``-o config.runner.total_steps=N``, which applies to resumed runs too.
    ``upstream_ckpt``: the upstream's weights (s3prl's ``-k``); random init without.
    """
    downstream = legacy_recipe(recipe).downstream
    expdir = Path(expdir)
    config = write_run_config(recipe, corpus, expdir.parent / f"{expdir.name}.config.yaml", overrides)
    argv = ["-m", "train", "-a", "-u", upstream, "-d", downstream, "-c", str(config)]
    argv += ["-p", str(expdir), "--device", device, "--seed", str(seed)]
    if upstream_ckpt is not None:
        argv += ["-k", str(upstream_ckpt)]
    if total_steps is not None:
        argv += ["-o", f"config.runner.total_steps={int(total_steps)}"]
    run_downstream(argv)
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
    upstream_ckpt: str | None = None,
    seed: int = 1337,
) -> Path:
    """s3prl's ``-m evaluate -t <split>`` of ``recipe`` without a trained checkpoint (QbE: DTW on
    the upstream's features of hidden layer ``layer``; the expert writes
    ``<expdir>/benchmark.stdlist.xml``). Returns ``expdir``."""
    downstream = legacy_recipe(recipe).downstream
    expdir = Path(expdir)
    config = write_run_config(recipe, corpus, expdir.parent / f"{expdir.name}.config.yaml", overrides)
    argv = ["-m", "evaluate", "-t", split, "-u", upstream, "-d", downstream, "-c", str(config)]
    if layer is not None:
        argv += ["-l", str(int(layer))]
    if upstream_ckpt is not None:
        argv += ["-k", str(upstream_ckpt)]
    run_downstream([*argv, "-p", str(expdir), "--device", device, "--seed", str(seed)])
    return expdir


def run_downstream(argv: list[str]) -> None:
    """s3prl's legacy runner (``run_downstream.py``'s ``main``) with ``argv``, this project's
    upstreams registered and every shim applied: the one wrapper around s3prl's legacy runner.

    ``python -m spear_bench.superb.legacy -m train -u spear_base -d <downstream> -c <config> -p <expdir>``
    runs it from a shell. It imports ``s3prl.run_downstream`` as a module and calls its ``main()``
    (run as ``__main__``, through ``python run_downstream.py`` or ``runpy``, the runner's own
    ``torch.load`` of its checkpoints, on resume and ``-e``, is not recognised as s3prl's, so torch
    >= 2.6's ``weights_only=True`` refuses the pickled args and config)."""
    register()
    s3prl_legacy.apply()
    import s3prl.run_downstream as runner  # as a module, not __main__: its torch.load calls are s3prl's

    saved, sys.argv = sys.argv, ["run_downstream.py", *argv]
    try:
        runner.main()
    finally:
        sys.argv = saved


if __name__ == "__main__":
    run_downstream(sys.argv[1:])
