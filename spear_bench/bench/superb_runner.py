"""SUPERB for one (model, task): s3prl's own recipe, the task's ``s3prl.problem`` class, runs it.

The class (SuperbPR, SuperbASR, SuperbKS, SuperbIC, SuperbSID, SuperbER, ...) prepares the
corpus with s3prl's readers, builds ``S3PRLUpstream`` (the model's hub entry, registered by
:func:`spear_bench.upstreams.register`) + the weighted-sum ``Featurizer`` + the recipe's head,
trains with the recipe's optimiser, sampler, augmentation and schedule, keeps the best
validation checkpoint and tests it (``Problem.run``). spear-bench only fills in the corpus
paths, the upstream, the device and where to write (spear_bench/bench/superb_recipes.py), and
reads s3prl's ``result.yaml`` back in the paper's units (percent).

* Device: ``Problem.run(device=...)`` moves the whole task (upstream, Featurizer, head) there.
* Resume: each fold runs in its own folder under ``<cache>/../superb_runs``, keyed by the full
  run config; s3prl resumes training from its latest ``step_*`` checkpoint there, and a fold
  whose ``result.yaml`` exists is not run again.
* Cache: the upstream is frozen and in eval mode, so its hidden states depend only on the
  waveform it is given. Where the corpus fits the cache budget, a :class:`CachedUpstream`
  stores them on disk keyed by a hash of that waveform (after s3prl's own loading and
  augmentation, so augmented or cropped audio is simply a new key) in float32: the recipe,
  and the numbers, are the same with and without the cache.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
import types
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import yaml

from spear_bench.bench.cache import EmbeddingCache, state_dict_hash
from spear_bench.bench.models import BenchModel
from spear_bench.bench.superb_recipes import (
    Fold, check_fold_files, problem_class, recipe_for, run_config, write_kaldi_dirs,
)
from spear_bench.bench.tasks import SuperbTaskSpec
from spear_bench.errors import ConfigError

DEFAULT_CACHE_BUDGET_BYTES = 8 * 1024**3


@dataclass
class SuperbTaskResult:
    scores: dict[str, float]  # metric -> test value in percent (mean over folds)
    fold_scores: dict[str, dict[str, float]]
    details: dict = field(default_factory=dict)
    embed_hits: int = 0
    embed_misses: int = 0


class Upstream:
    """The model as an s3prl upstream: its hub name and checkpoint, and the device to run on."""

    def __init__(self, model: BenchModel, device: str = "cpu"):
        if model.s3prl_upstream is None:
            raise ConfigError(
                f"model {model.name!r} has no s3prl upstream (HEAR-only module); SUPERB needs a registered model"
            )
        self.model = model
        self.device = device
        self._upstream = None
        self._hash: str | None = None

    def load(self):
        """The S3PRLUpstream on the CPU (for its weights fingerprint and sizes; s3prl builds its own to train)."""
        if self._upstream is None:
            import spear_bench.upstreams as upstreams

            upstreams.register()
            from s3prl.nn import S3PRLUpstream

            self._upstream = S3PRLUpstream(self.model.s3prl_upstream, path_or_url=self.model.s3prl_ckpt).eval()
        return self._upstream

    @property
    def weights_hash(self) -> str:
        if self._hash is None:
            self._hash = state_dict_hash(self.load())
        return self._hash


# --- hidden-state cache ------------------------------------------------------------------------------

def waveform_key(wave: torch.Tensor) -> str:
    return hashlib.sha256(wave.detach().float().cpu().contiguous().numpy().tobytes()).hexdigest()[:32]


class CachedUpstream(torch.nn.Module):
    """An S3PRLUpstream whose hidden states for a waveform seen before are read from disk.

    A batch is computed by the upstream unless every waveform in it is cached (so padding
    never differs from an uncached run); states are stored per waveform, unpadded, float32.
    """

    def __init__(self, upstream: torch.nn.Module, cache: EmbeddingCache, corpus: str):
        super().__init__()
        self.upstream = upstream
        self.cache = cache
        self.corpus = corpus

    def __getattr__(self, name):
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(self.upstream, name)  # num_layers, hidden_sizes, downsample_rates

    def forward(self, wav: torch.Tensor, wav_len: torch.Tensor):
        keys = [waveform_key(wav[i, : int(n)]) for i, n in enumerate(wav_len)]
        cached = [self.cache.get(self.corpus, "all", key, key) for key in keys]
        if all(c is not None for c in cached):
            states = [torch.from_numpy(c["hidden_states"]) for c in cached]  # (L, T_i, D)
            lengths = torch.tensor([s.shape[1] for s in states], device=wav.device)
            per_frame = [s.transpose(0, 1) for s in states]
            padded = torch.nn.utils.rnn.pad_sequence(per_frame, batch_first=True)  # (B, T, L, D)
            layers = [h.to(wav.device) for h in padded.permute(2, 0, 1, 3).unbind(0)]
            return layers, [lengths] * len(layers)
        hs, hs_len = self.upstream(wav, wav_len)
        for i, key in enumerate(keys):
            state = torch.stack([h[i, : int(n[i])] for h, n in zip(hs, hs_len)]).detach().float().cpu()
            self.cache.put(self.corpus, "all", key, key, {"hidden_states": state.numpy()})
        return hs, hs_len


def estimated_cache_bytes(spec_root: Path, upstream: Upstream) -> float:
    """float32 hidden states of every audio file under the corpus folder (an upper bound)."""
    import soundfile as sf

    up = upstream.load()
    seconds = 0.0
    for path in Path(spec_root).rglob("*"):
        if path.suffix.lower() in (".wav", ".flac"):
            seconds += sf.info(str(path)).duration
    frames = seconds * 16000 / up.downsample_rates[0]
    return frames * up.num_layers * up.hidden_sizes[0] * 4


# --- running a recipe ---------------------------------------------------------------------------------

def _config_key(config: dict) -> str:
    relevant = {k: v for k, v in config.items() if k not in ("target_dir", "cache_dir", "num_workers")}
    return hashlib.sha256(json.dumps(relevant, sort_keys=True, default=str).encode()).hexdigest()[:12]


def _results(target_dir: Path, pattern: str) -> dict[str, float] | None:
    files = sorted(target_dir.glob(pattern))
    if not files:
        return None
    return yaml.safe_load(files[0].read_text())


@contextlib.contextmanager
def recipe_files(spec: SuperbTaskSpec, fold: Fold, cache_dir: Path):
    """The files the recipe would download, taken from the corpus (one-line error when one is missing)."""
    from spear_bench.s3prl_compat import s3prl_local_files

    check_fold_files(spec, fold)
    cache_dir.mkdir(parents=True, exist_ok=True)
    for name, source in fold.cache_files.items():
        shutil.copyfile(source, cache_dir / name)
    if fold.kaldi_data_dir is not None:
        write_kaldi_dirs(fold.kaldi_data_dir, cache_dir / "kaldi_data")
    with s3prl_local_files(fold.local_files, voxceleb1_cache=cache_dir):
        yield


def prepare_data(spec: SuperbTaskSpec, data_root: Path, target_dir: Path) -> dict[str, tuple]:
    """s3prl's own corpus preparation (the recipe's stage 0) per fold: fold -> (train, valid, tests) csv paths."""
    recipe = recipe_for(spec)
    out = {}
    for fold in recipe.folds(spec.check_data(data_root)):
        folder = Path(target_dir) / fold.name
        folder.mkdir(parents=True, exist_ok=True)
        problem = problem_class(recipe.problem)()
        config = run_config(spec, fold, folder, "unused", None, "cpu", 0, 0)
        with recipe_files(spec, fold, folder / "s3prl_cache"):
            # Paths, as Problem.run passes them (SuperbASV's preparation joins them with "/")
            out[fold.name] = problem.prepare_data(config["prepare_data"], folder, folder / "s3prl_cache",
                                                  get_path_only=False)
    return out


def run_fold(spec: SuperbTaskSpec, fold: Fold, config: dict, cache: EmbeddingCache | None) -> dict[str, float]:
    """Run s3prl's recipe for one fold (resuming what a killed run left); s3prl's test metrics."""
    target_dir = Path(config["target_dir"])
    recipe = recipe_for(spec)
    done = _results(target_dir, recipe.result_glob)
    if done is not None:
        return done
    problem = problem_class(recipe.problem)()
    if cache is not None:
        build_upstream = problem.build_upstream
        def cached_upstream(self, conf):
            return CachedUpstream(build_upstream(conf), cache, spec.layout.root)

        problem.build_upstream = types.MethodType(cached_upstream, problem)
    with recipe_files(spec, fold, Path(config["cache_dir"])):
        problem.run(**config)
    results = _results(target_dir, recipe.result_glob)
    if results is None:
        raise ConfigError(f"SUPERB task {spec.name}: s3prl wrote no result.yaml under {target_dir / 'evaluate'}")
    return results


def default_num_workers() -> int:
    return min(6, os.cpu_count() or 1) if os.cpu_count() and os.cpu_count() > 2 else 0


def run_superb_task(
    spec: SuperbTaskSpec,
    data_root: Path,
    upstream: Upstream,
    cache_root: Path | None,
    seed: int = 42,
    cache_budget_bytes: float = DEFAULT_CACHE_BUDGET_BYTES,
    progress_factory=None,
    runs_root: Path | None = None,
) -> SuperbTaskResult:
    """Train and test ``spec`` with s3prl's recipe; scores in percent, averaged over folds.

    ``runs_root`` holds s3prl's experiment folders (checkpoints, logs, result.yaml): by default
    ``<cache_root>/../superb_runs``, or a temporary folder (no resume) without a cache root.
    """
    recipe = recipe_for(spec, upstream.model.s3prl_upstream)
    root = spec.check_data(data_root)
    cache = None
    if cache_root is not None and estimated_cache_bytes(root, upstream) <= cache_budget_bytes:
        cache = EmbeddingCache(Path(cache_root), upstream.model.name, upstream.weights_hash, "all_hidden_states_f32")
        cache.describe({"s3prl_upstream": upstream.model.s3prl_upstream, "ckpt": upstream.model.s3prl_ckpt})
    temporary = None
    if runs_root is None:
        if cache_root is not None:
            runs_root = Path(cache_root).parent / "superb_runs"
        else:
            temporary = tempfile.TemporaryDirectory(prefix="spear-bench-superb-")
            runs_root = Path(temporary.name)
    fold_scores, fold_details = {}, {}
    try:
        for fold in recipe.folds(root):
            model = upstream.model
            arguments = (model.s3prl_upstream, model.s3prl_ckpt, upstream.device, seed, default_num_workers())
            key = _config_key(run_config(spec, fold, Path("."), *arguments))  # the recipe, wherever it runs
            target_dir = Path(runs_root) / upstream.model.name / f"{spec.name}-{fold.name}-{key}"
            config = run_config(spec, fold, target_dir, *arguments)
            raw = run_fold(spec, fold, config, cache)
            fold_scores[fold.name] = {ours: recipe.scale * float(raw[th]) for th, ours in recipe.metrics.items()}
            fold_details[fold.name] = {"s3prl": raw, "target_dir": str(target_dir)}
    finally:
        if temporary is not None:
            temporary.cleanup()
    metrics = [m.name for m in spec.metrics if all(m.name in s for s in fold_scores.values())]
    means = {m: float(np.mean([s[m] for s in fold_scores.values()])) for m in metrics}
    return SuperbTaskResult(
        scores=means, fold_scores=fold_scores,
        details={"folds": fold_details, "s3prl_problem": recipe.problem, "features": "cached" if cache else "per batch",
                 "protocol": spec.protocol.__dict__, "device": upstream.device},
        embed_hits=cache.hits if cache else 0, embed_misses=cache.misses if cache else 0,
    )
