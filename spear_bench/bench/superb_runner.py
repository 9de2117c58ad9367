"""SUPERB behind the runner contract: :class:`SuperbRunner` runs a (model, task) unit through
:mod:`spear_bench.superb` (s3prl's own recipes and runners) and returns a :class:`TaskResult`.

What lives here is what SUPERB needs from the benchmark (this package), not from s3prl:

* The model as one ``S3PRLUpstream`` per process (:class:`Upstream`), handed to every build of the
  recipe (:func:`spear_bench.superb.problem.share_frozen_upstream`).
* Cache: the upstream's hidden states depend only on the waveform it is given. Where the corpus
  fits the cache budget, a :class:`CachedUpstream` stores them on disk (bench's embedding cache)
  keyed by a hash of that waveform (after s3prl's own loading and augmentation, so augmented or
  cropped audio is simply a new key) in float32: the recipe, and the numbers, are the same with
  and without the cache. Entries live per corpus folder, so the tasks reading one corpus share them
  (ASR and PR the LibriSpeech files, SID and SV the VoxCeleb1 files).
* The run folders under ``<cache>/superb_runs/<model>``, keyed by
  :func:`spear_bench.superb.runs.run_folder_key` with this code's version.

(This adapter stays in ``bench/`` because ``bench.orchestrate`` picks the runner of a task kind and
``spear_bench.superb`` must not import ``bench``: the packages form a DAG.)
"""

from __future__ import annotations

import dataclasses
import hashlib
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
import yaml

from spear_bench import upstreams
from spear_bench.bench.cache import EmbeddingCache
from spear_bench.bench.extract import precision, timed
from spear_bench.bench.fingerprint import code_version, embedding_settings
from spear_bench.bench.runner import EmbedStats, RunContext, TaskResult
from spear_bench.bench.scored_model import BenchModel
from spear_bench.compat.s3prl import s3prl_patches
from spear_bench.errors import ConfigError
from spear_bench.hashing import state_dict_hash
from spear_bench.superb.legacy_tasks import TASK_FOLDERS as LEGACY_TASK_FOLDERS
from spear_bench.superb.legacy_tasks import legacy_run_config, run_legacy_unit
from spear_bench.superb.problem import run_problem_task
from spear_bench.superb.recipe_files import check_task_files
from spear_bench.superb.recipes import default_config, recipe_for
from spear_bench.superb.runs import TRAIN_DIR, prune_checkpoints, run_folder_key, tested_checkpoint
from spear_bench.task_registry import SuperbTaskSpec

DEFAULT_CACHE_BUDGET_BYTES = 8 * 1024**3


# --- upstream ---------------------------------------------------------------------------------------


def require_s3prl_upstream(model: BenchModel) -> None:
    """SUPERB runs a model through its s3prl hub entry; a HEAR-only module has none (one-line error)."""
    if model.s3prl_upstream is None:
        raise ConfigError(
            f"model {model.name!r} has no s3prl upstream (HEAR-only module); SUPERB needs a registered model"
        )


class Upstream:
    """The model as an s3prl upstream (``S3PRLUpstream``), built once on first use."""

    def __init__(self, model: BenchModel, device: str = "cpu", dtype: str = "float32"):
        require_s3prl_upstream(model)
        self.model = model
        self.device = device
        self.dtype = dtype  # float32 | bfloat16 | float16 (autocast around the upstream, spear_bench.bench.extract)
        self._upstream = None
        self._hash: str | None = None

    def load(self):
        """The S3PRLUpstream, built the way the recipe's ``build_upstream`` builds it (eval mode)."""
        if self._upstream is None:
            upstreams.register()  # the s3prl hub entries of this project's models (after the compatibility shims)
            with s3prl_patches():
                from s3prl.nn import S3PRLUpstream  # heavy optional dependency, loaded with the first upstream

                upstream = S3PRLUpstream(self.model.s3prl_upstream, path_or_url=self.model.s3prl_ckpt)
            self._upstream = upstream.eval()
        return self._upstream

    @property
    def build_arguments(self) -> dict:
        """``build_upstream`` of the recipe's config for this model."""
        return {
            "name": self.model.s3prl_upstream,
            **({"path_or_url": self.model.s3prl_ckpt} if self.model.s3prl_ckpt else {}),
        }

    @property
    def weights_hash(self) -> str:
        if self._hash is None:
            self._hash = state_dict_hash(self.load())
        return self._hash


# --- hidden-state cache ------------------------------------------------------------------------------


def waveform_key(wave: torch.Tensor) -> str:
    return hashlib.sha256(wave.detach().float().cpu().contiguous().numpy().tobytes()).hexdigest()[:32]


class CachedUpstream(torch.nn.Module):
    """An S3PRLUpstream whose hidden states for a waveform seen before, in a batch of the same shape, are read
    from disk.

    Equal by construction: an entry is one row of a batch the upstream computed (all its padded frames,
    float32, and its lengths), keyed by the waveform and the batch's shape (size x padded length); a
    batch is read from disk only when every row is cached, so it is the tensor the upstream gave for
    that input. A waveform in a batch of another shape (another padded length changes the padded
    frames a head may read) is computed again. Fixed-length corpora (KS's 1 s clips) hit in training
    too; variable-length ones mostly on the repeated validation and test batches.
    ``cache`` None: the upstream alone (with the run's precision and the stage clock).
    """

    def __init__(self, upstream: torch.nn.Module, cache: EmbeddingCache | None, corpus: str, dtype: str = "float32"):
        super().__init__()
        self.upstream = upstream
        self.cache = cache
        self.corpus = corpus  # the cache's task folder: the corpus folder's name
        self.dtype = dtype

    def __getattr__(self, name):
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(self.upstream, name)  # num_layers, hidden_sizes, downsample_rates

    def _compute(self, wav: torch.Tensor, wav_len: torch.Tensor):
        with timed("superb"), precision(self.dtype, wav.device):
            hs, hs_len = self.upstream(wav, wav_len)
        return [h.float() for h in hs], hs_len

    def forward(self, wav: torch.Tensor, wav_len: torch.Tensor):
        if self.cache is None:
            return self._compute(wav, wav_len)
        shape = f"{wav.shape[0]}x{wav.shape[1]}"
        keys = [f"{waveform_key(wav[i, : int(n)])}-{shape}" for i, n in enumerate(wav_len)]
        cached = [self.cache.get(self.corpus, "all", key, key) for key in keys]
        if all(c is not None for c in cached):
            states = torch.stack([torch.from_numpy(c["hidden_states"]) for c in cached], dim=1)  # (L, B, T, D)
            lengths = torch.stack([torch.from_numpy(c["lengths"]) for c in cached], dim=1)  # (L, B)
            layers = [h.to(wav.device) for h in states.unbind(0)]
            return layers, [n.to(wav.device) for n in lengths.unbind(0)]
        hs, hs_len = self._compute(wav, wav_len)
        for i, key in enumerate(keys):
            state = torch.stack([h[i] for h in hs]).detach().float().cpu()
            lengths = torch.stack([n[i] for n in hs_len]).detach().cpu()
            self.cache.put(self.corpus, "all", key, key, {"hidden_states": state.numpy(), "lengths": lengths.numpy()})
        return hs, hs_len


def estimated_cache_bytes(root: Path, upstream: Upstream) -> float:
    """float32 hidden states of every audio file under the corpus folder (an upper bound)."""
    up = upstream.load()
    seconds = 0.0
    for path in Path(root).rglob("*"):
        if path.suffix.lower() in (".wav", ".flac"):
            seconds += sf.info(str(path)).duration
    frames = seconds * 16000 / up.downsample_rates[0]
    return frames * up.num_layers * up.hidden_sizes[0] * 4


# --- what a trained recipe leaves: its dev score and its layer weights ----------------------------------

FEATURIZER_WEIGHTS = "featurizer.weights"  # s3prl.nn.Featurizer's layer weights (before softmax) in the state dict


def learned_layer_weights(target_dir: Path) -> list[float]:
    """The weighted sum's layer weights of the tested checkpoint, softmaxed (they sum to 1); [] when the
    recipe selected a single layer (no weights) or left no checkpoint."""
    checkpoint = tested_checkpoint(target_dir)
    path = checkpoint / "model" / "state_dict.pt" if checkpoint else None
    if path is None or not path.is_file():
        return []
    state = torch.load(path, map_location="cpu")
    keys = [k for k in state if k == FEATURIZER_WEIGHTS or k.endswith("." + FEATURIZER_WEIGHTS)]
    if len(keys) != 1:
        return []
    return torch.softmax(state[keys[0]].detach().double(), dim=-1).tolist()


def legacy_layer_weights(run_dir: Path) -> list[float]:
    """The layer weights of a legacy-runner task (s3prl's ``run_downstream`` checkpoint's ``Featurizer``),
    softmaxed: from its dev-best checkpoint, else its newest ``states-*.ckpt``; [] when there is none."""
    run_dir = Path(run_dir)
    best = sorted(run_dir.rglob("dev*-best.ckpt")) or sorted(run_dir.rglob("*-best.ckpt"))
    states = sorted(run_dir.rglob("states-*.ckpt"), key=lambda p: int(p.stem.split("-")[-1]))
    path = best[0] if best else states[-1] if states else None
    if path is None:
        return []
    # s3prl's own checkpoint of this run (it pickles its argparse Namespace and config): not weights-only
    featurizer = torch.load(path, map_location="cpu", weights_only=False).get("Featurizer") or {}
    if "weights" not in featurizer:
        return []
    return torch.softmax(featurizer["weights"].detach().double(), dim=-1).tolist()


def mean_layer_weights(per_fold: list[list[float]]) -> list[float]:
    """The folds' layer weights averaged (still summing to 1); [] when a fold has none."""
    if not per_fold or any(not w for w in per_fold) or len({len(w) for w in per_fold}) != 1:
        return []
    return [float(sum(column) / len(per_fold)) for column in zip(*per_fold)]


def dev_score(target_dir: Path, valid_metric: str) -> float | None:
    """The recipe's dev score of its ``valid_best`` checkpoint (s3prl's ``training_stats.yaml``); None if absent."""
    stats = Path(target_dir) / TRAIN_DIR / "valid_best" / "training_stats.yaml"
    if not stats.is_file():
        return None
    value = (yaml.safe_load(stats.read_text()) or {}).get("valid_best_metrics", {}).get(valid_metric)
    return None if value is None else float(value)


def search_learning_rate(
    spec: SuperbTaskSpec,
    root: Path,
    arguments: tuple,
    runs_dir: Path,
    identity: dict,
    code: dict,
    grid: tuple[float, ...],
):
    """Run the recipe once per rate (the protocol's ``lr`` replaced; each rate in a run folder of its own,
    so each resumes on its own) and keep the rate with the best dev score, in the direction the recipe
    selects its ``valid_best`` checkpoint (``train.valid_metric``, ``valid_higher_better``); folds are
    averaged. The test scores are never looked at to choose. Returns (recipe, the chosen rate's folds,
    the search: grid, chosen rate, dev metric, dev and primary test score per rate, every rate's run
    folders)."""
    train = default_config(recipe_for(spec).problem)["train"]
    metric, higher = train.get("valid_metric"), bool(train.get("valid_higher_better", True))
    runs, dev = [], []
    for lr in grid:
        at_rate = dataclasses.replace(spec, protocol=dataclasses.replace(spec.protocol, lr=float(lr)))
        recipe, folds = run_problem_task(at_rate, root, *arguments, runs_dir, identity, code)
        scores = [dev_score(fold.target_dir, metric) for fold in folds] if metric else [None]
        if any(s is None for s in scores):
            raise ConfigError(
                f"--lr-grid: SUPERB task {spec.name}: its recipe ({recipe.problem}) kept no dev score "
                f"({metric or 'no valid_metric'}) to choose a rate on"
            )
        runs.append((recipe, folds))
        dev.append(float(np.mean(scores)))
    best = max(range(len(grid)), key=lambda i: dev[i] if higher else -dev[i])  # ties: the first rate
    test = [float(np.mean([f.scores.get(spec.metric, np.nan) for f in folds])) for _, folds in runs]
    search = {
        "grid": [float(r) for r in grid],
        "chosen": float(grid[best]),
        "dev_metric": metric,
        "dev_higher_is_better": higher,
        "dev": dev,
        "test_metric": spec.metric,
        "test": test,
    }
    return runs[best][0], runs[best][1], search, [fold.target_dir for _, folds in runs for fold in folds]


# --- running a task ----------------------------------------------------------------------------------


def run_superb_task(
    spec: SuperbTaskSpec,
    data_root: Path,
    upstream: Upstream,
    cache_root: Path | None,
    seed: int = 42,
    cache_budget_bytes: float = DEFAULT_CACHE_BUDGET_BYTES,
    runs_root: Path | None = None,
    lr_grid: tuple[float, ...] = (),
) -> TaskResult:
    """Train and test ``spec`` with s3prl's recipe; scores in percent, averaged over folds.

    ``lr_grid``: train once per learning rate and keep the rate whose run scores best on the recipe's
    own dev metric (:func:`search_learning_rate`); empty: the recipe's rate. The result's details
    carry the weighted sum's learned layer weights (``layer_weights``, softmaxed, mean over folds).

    ``runs_root`` holds s3prl's experiment folders (checkpoints, logs, result.yaml): by default
    ``<cache_root>/../superb_runs``, or a temporary folder (no resume) without a cache root.
    """
    recipe_for(spec, upstream.model.s3prl_upstream)  # a task without a recipe: the one-line error naming s3prl's runner
    root = check_task_files(spec, data_root)
    cache = None
    if cache_root is not None and estimated_cache_bytes(root, upstream) <= cache_budget_bytes:
        cache = EmbeddingCache(
            Path(cache_root),
            upstream.model.name,
            upstream.weights_hash,
            "all_hidden_states_f32",
            settings=embedding_settings(upstream.model, upstream.load()),
        )
        cache.describe({"s3prl_upstream": upstream.model.s3prl_upstream, "ckpt": upstream.model.s3prl_ckpt})
    shared = CachedUpstream(upstream.load(), cache, spec.layout.root, upstream.dtype)
    temporary = None
    if runs_root is None:
        if cache_root is not None:
            runs_root = Path(cache_root).parent / "superb_runs"
        else:
            temporary = tempfile.TemporaryDirectory(prefix="spear-bench-superb-")
            runs_root = Path(temporary.name)
    arguments = (shared, upstream.build_arguments, upstream.device, seed)
    runs_dir = Path(runs_root) / upstream.model.name
    identity, code = upstream.model.identity(), code_version()
    try:
        if lr_grid:
            recipe, folds, search, run_dirs = search_learning_rate(
                spec, root, arguments, runs_dir, identity, code, lr_grid
            )
        else:
            recipe, folds = run_problem_task(spec, root, *arguments, runs_dir, identity, code)
            search, run_dirs = None, [fold.target_dir for fold in folds]
    finally:
        if temporary is not None:
            temporary.cleanup()
    fold_scores = {fold.name: fold.scores for fold in folds}
    metrics = [m.name for m in spec.metrics if all(m.name in s for s in fold_scores.values())]
    means = {m: float(np.mean([s[m] for s in fold_scores.values()])) for m in metrics}
    weights = [learned_layer_weights(fold.target_dir) for fold in folds]
    return TaskResult(
        task=spec.name,
        scores=means,
        fold_scores=fold_scores,
        details={
            "folds": {
                fold.name: {"s3prl": fold.raw, "target_dir": str(fold.target_dir), "layer_weights": w}
                for fold, w in zip(folds, weights)
            },
            "s3prl_problem": recipe.problem,
            "features": "cached" if cache else "per batch",
            "protocol": spec.protocol.__dict__,
            "device": upstream.device,
            "layer_weights": mean_layer_weights(weights),
            "run_dirs": [str(folder) for folder in run_dirs],  # every fold of every rate searched
            **({"lr_search": search} if search else {}),
        },
        embed=EmbedStats(hits=cache.hits if cache else 0, misses=cache.misses if cache else 0),
    )


class SuperbRunner:
    """SUPERB tasks behind the runner contract: s3prl's recipe with the model as its upstream (built once per
    process), hidden states cached under ``<cache>/superb`` (``<cache>/superb/<dtype>`` below float32) within
    the cache budget, s3prl's run folders under ``<cache>/superb_runs``."""

    kind = "superb"

    def run(self, spec: SuperbTaskSpec, model: BenchModel, context: RunContext) -> TaskResult:
        if spec.s3prl_entry == "legacy":
            return run_legacy_superb_task(spec, model, context)
        upstream = context.models.get(
            ("superb", repr(model), context.device, context.dtype),
            lambda: Upstream(model, context.device, context.dtype),
        )
        cache_root = Path(context.cache_dir) / "superb" / ("" if context.dtype == "float32" else context.dtype)
        result = run_superb_task(
            spec,
            context.data_root,
            upstream,
            cache_root,
            seed=context.seed,
            cache_budget_bytes=context.cache_budget_bytes,
            runs_root=Path(context.cache_dir) / "superb_runs",
            lr_grid=tuple(context.lr_grid),
        )
        # scored (each fold's result.yaml written) and its layer weights read: the checkpoints can go
        freed = sum(prune_checkpoints(Path(folder), context.keep_checkpoints) for folder in result.details["run_dirs"])
        result.details["checkpoints"] = {"kept": context.keep_checkpoints, "freed_bytes": freed}
        return result


def run_legacy_superb_task(spec: SuperbTaskSpec, model: BenchModel, context: RunContext) -> TaskResult:
    """One of the six tasks s3prl runs only through its legacy runner (OOD-ASR, QbE, ST, SE, SS, VC):
    :func:`spear_bench.superb.legacy_tasks.run_task` trains and tests it with s3prl's ``run_downstream``
    and the task's expert, with the run's seed, in this process (its patches scoped, nothing left behind), in
    ``<cache>/superb_runs/<model>/<task>-<key>`` (s3prl resumes from its checkpoints there). A demo
    task (one with a ``base``) runs the demo schedule of ``superb.legacy.DEMO_OVERRIDES``; VC's scorers
    that were not given are random-init stand-ins there, stored as the rows ``stand_in_vocoder`` /
    ``stand_in_asr`` = 1."""
    require_s3prl_upstream(model)
    if context.lr_grid:
        raise ConfigError(
            f"--lr-grid: SUPERB task {spec.name} runs s3prl's legacy runner; the search covers the s3prl.problem tasks"
        )
    task = spec.base_name
    folder = check_task_files(spec, context.data_root)
    if folder.name != LEGACY_TASK_FOLDERS[task]:
        raise ConfigError(
            f"SUPERB task {spec.name}: its corpus folder must be named {LEGACY_TASK_FOLDERS[task]!r} "
            f"(s3prl's layout), got {folder}"
        )
    demo = spec.base is not None
    arguments = {
        "task": task,
        "upstream": model.s3prl_upstream,
        "data_root": str(folder.parent),
        "device": context.device,
        "demo": demo,
        "upstream_ckpt": model.s3prl_ckpt,
        "vocoder": context.vc_vocoder,
        "asr_model": context.vc_asr_model,
        "seed": context.seed,
    }
    keyed = {"task": spec.name, "run": legacy_run_config(task, demo), "arguments": arguments}
    key = run_folder_key(keyed, model.identity(), code_version(), context.seed)
    run_dir = Path(context.cache_dir) / "superb_runs" / model.name / f"{spec.name}-{key}"
    scores = run_legacy_unit({**arguments, "run_dir": str(run_dir)})
    stored = {m.name: float(scores[m.name]) for m in spec.metrics if m.name in scores}
    layer_weights = legacy_layer_weights(run_dir)  # read from a checkpoint: before they are pruned
    freed = prune_checkpoints(run_dir, context.keep_checkpoints)  # scored: every unit's metrics.json written
    return TaskResult(
        task=spec.name,
        scores=stored,
        out_dir=run_dir,
        details={
            "s3prl_legacy": scores,
            "s3prl_downstream": spec.s3prl_downstream,
            "run_dir": str(run_dir),
            "device": context.device,
            "demo_schedule": demo,
            "seed": context.seed,
            "layer_weights": layer_weights,
            "checkpoints": {"kept": context.keep_checkpoints, "freed_bytes": freed},
        },
    )
