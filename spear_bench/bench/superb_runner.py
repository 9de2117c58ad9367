"""SUPERB for one (model, task): s3prl's own recipe, the task's ``s3prl.problem`` class, runs it.

The class (SuperbPR, SuperbASR, SuperbKS, SuperbIC, SuperbSID, SuperbER, SuperbSF, SuperbASV,
SuperbSD) prepares the corpus with s3prl's readers, builds ``S3PRLUpstream`` (the model's hub
entry, registered by :func:`spear_bench.upstreams.register`) + the weighted-sum ``Featurizer`` +
the recipe's head, trains with the recipe's optimiser, sampler, augmentation and schedule, keeps
the best validation checkpoint and tests it (``Problem.run``). spear-bench only fills in the
corpus paths, the upstream, the device and where to write (spear_bench/bench/superb_recipes.py),
and reads s3prl's ``result.yaml`` back in the paper's units (percent).

* Device: ``Problem.run(device=...)`` moves the whole task (upstream, Featurizer, head) there.
* Resume: each fold runs in its own folder under ``<cache>/superb_runs``, keyed by the full run
  config, the model and the code version; s3prl resumes training from its latest ``step_*``
  checkpoint there, and a fold whose ``result.yaml`` exists is not run again.
* One upstream per process: the recipe builds ``S3PRLUpstream(name, path_or_url)`` three times
  per fold (to read its frame rate, to train, to load the best checkpoint for testing); the
  upstream is frozen (``upstream_trainable: False``: eval mode, no gradients) and its hub entry
  seeds its own generator, so this process builds it once (the same call, the same weights) and
  hands that one to every build; s3prl's checkpoints leave out its tensors (the same in every
  checkpoint) and take them back from it when loaded (:func:`share_frozen_upstream`).
* Cache: the upstream's hidden states depend only on the waveform it is given. Where the corpus
  fits the cache budget, a :class:`CachedUpstream` stores them on disk keyed by a hash of that
  waveform (after s3prl's own loading and augmentation, so augmented or cropped audio is simply
  a new key) in float32: the recipe, and the numbers, are the same with and without the cache.
  Entries live per corpus folder, so the tasks reading one corpus share them (ASR and PR the
  LibriSpeech files, SID and SV the VoxCeleb1 files).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import types
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
import yaml

from spear_bench import errors, upstreams
from spear_bench.bench.cache import EmbeddingCache
from spear_bench.bench.extract import precision, timed
from spear_bench.bench.fingerprint import code_version, embedding_settings
from spear_bench.bench.runner import EmbedStats, RunContext, TaskResult
from spear_bench.bench.scored_model import BenchModel
from spear_bench.bench.superb_recipes import (
    Fold,
    check_fold_files,
    check_task_files,
    problem_class,
    recipe_for,
    run_config,
    write_kaldi_dirs,
)
from spear_bench.errors import ConfigError
from spear_bench.hashing import state_dict_hash
from spear_bench.s3prl_compat import s3prl_local_files
from spear_bench.superb_legacy.tasks import TASK_FOLDERS as LEGACY_TASK_FOLDERS
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
    """An S3PRLUpstream whose hidden states for a waveform seen before are read from disk.

    A batch is computed by the upstream unless every waveform in it is cached (so padding
    never differs from an uncached run); states are stored per waveform, unpadded, float32.
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
        keys = [waveform_key(wav[i, : int(n)]) for i, n in enumerate(wav_len)]
        cached = [self.cache.get(self.corpus, "all", key, key) for key in keys]
        if all(c is not None for c in cached):
            states = [torch.from_numpy(c["hidden_states"]) for c in cached]  # (L, T_i, D)
            lengths = torch.tensor([s.shape[1] for s in states], device=wav.device)
            per_frame = [s.transpose(0, 1) for s in states]
            padded = torch.nn.utils.rnn.pad_sequence(per_frame, batch_first=True)  # (B, T, L, D)
            layers = [h.to(wav.device) for h in padded.permute(2, 0, 1, 3).unbind(0)]
            return layers, [lengths] * len(layers)
        hs, hs_len = self._compute(wav, wav_len)
        for i, key in enumerate(keys):
            state = torch.stack([h[i, : int(n[i])] for h, n in zip(hs, hs_len)]).detach().float().cpu()
            self.cache.put(self.corpus, "all", key, key, {"hidden_states": state.numpy()})
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


# --- running a recipe ---------------------------------------------------------------------------------


def _config_key(config: dict, model: BenchModel) -> str:
    """The run folder's key: the recipe (wherever it runs), the model and the code that runs it."""
    relevant = {k: v for k, v in config.items() if k not in ("target_dir", "cache_dir", "num_workers")}
    keyed = {"config": relevant, "model": model.identity(), "code": code_version()}
    return hashlib.sha256(json.dumps(keyed, sort_keys=True, default=str).encode()).hexdigest()[:12]


def _results(target_dir: Path, pattern: str) -> dict[str, float] | None:
    files = sorted(target_dir.glob(pattern))
    if not files:
        return None
    return yaml.safe_load(files[0].read_text())


@contextlib.contextmanager
def recipe_files(spec: SuperbTaskSpec, fold: Fold, cache_dir: Path):
    """The files the recipe would download, from the corpus or fetched into the cache (one-line error if neither)."""
    fold = check_fold_files(spec, fold)
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
        config = run_config(spec, fold, folder, {"name": "unused"}, "cpu", 0, 0)
        with recipe_files(spec, fold, folder / "s3prl_cache"):
            # Paths, as Problem.run passes them (SuperbASV's preparation joins them with "/")
            out[fold.name] = problem.prepare_data(
                config["prepare_data"], folder, folder / "s3prl_cache", get_path_only=False
            )
    return out


UPSTREAM_PREFIX = "upstream."  # UpstreamDownstreamModel's upstream, in its state dict


def share_frozen_upstream(problem, upstream: torch.nn.Module, config: dict, what: str) -> None:
    """Hand ``problem`` this process's upstream instead of building its own; its checkpoints leave it out.

    Three methods of this ``problem`` instance (named shims; the class is untouched):

    - ``build_upstream`` returns ``upstream`` (the recipe asks for the same hub entry and weights
      three times per fold; a checkpoint naming another upstream is an error);
    - ``save_model`` writes s3prl's model folder (``problem_name``, ``state_dict.pt``,
      ``arguments.yaml``, ``extra_conf.yaml``) with the state dict less the frozen upstream's tensors
      (hundreds of MB per checkpoint for a Base model, the same values in every one);
    - ``load_model`` builds the model as s3prl does and loads that state dict, the upstream's tensors
      coming from ``upstream`` itself: any other missing or unexpected key is an error.
    """
    if config["build_model"].get("upstream_trainable"):
        raise ConfigError(f"{what}: the recipe trains its upstream; spear-bench shares only a frozen one")
    expected = config["build_upstream"]

    def build_upstream(self, build_upstream: dict):
        if build_upstream != expected:  # a checkpoint of another model in this run folder
            raise ConfigError(f"{what}: {config['target_dir']} asks for upstream {build_upstream}, not {expected}")
        return upstream

    def save_model(self, save_model: dict, model_ckpt_dir, build_model_all_args: dict, model: torch.nn.Module):
        folder = Path(model_ckpt_dir)
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        (folder / "problem_name").write_text(type(self).__name__)
        state = {k: v for k, v in model.state_dict().items() if not k.startswith(UPSTREAM_PREFIX)}
        torch.save(state, folder / "state_dict.pt")
        (folder / "arguments.yaml").write_text(yaml.safe_dump(build_model_all_args))
        if save_model:
            (folder / "extra_conf.yaml").write_text(yaml.safe_dump(save_model))

    def load_model(self, model_ckpt_dir):
        folder = Path(model_ckpt_dir)
        model = self.build_model(**yaml.safe_load((folder / "arguments.yaml").read_text()))
        state = torch.load(folder / "state_dict.pt", map_location="cpu")
        missing, unexpected = model.load_state_dict(state, strict=False)
        if unexpected or any(not key.startswith(UPSTREAM_PREFIX) for key in missing):
            raise ConfigError(f"{what}: {folder / 'state_dict.pt'} does not fit the model ({missing}, {unexpected})")
        return model

    for method in (build_upstream, save_model, load_model):
        setattr(problem, method.__name__, types.MethodType(method, problem))


def run_fold(spec: SuperbTaskSpec, fold: Fold, config: dict, upstream: torch.nn.Module) -> dict[str, float]:
    """Run s3prl's recipe for one fold (resuming what a killed run left) with ``upstream``; s3prl's test metrics."""
    target_dir = Path(config["target_dir"])
    recipe = recipe_for(spec)
    done = _results(target_dir, recipe.result_glob)
    if done is not None:
        return done
    problem = problem_class(recipe.problem)()
    share_frozen_upstream(problem, upstream, config, f"SUPERB task {spec.name}")
    with recipe_files(spec, fold, Path(config["cache_dir"])):
        problem.run(**config)
    results = _results(target_dir, recipe.result_glob)
    if results is None:
        raise ConfigError(f"SUPERB task {spec.name}: s3prl wrote no result.yaml under {target_dir / 'evaluate'}")
    return results


def default_num_workers() -> int:
    """DataLoader workers: none on a machine with 2 cores or fewer (they would compete with the model), else <= 6."""
    cores = os.cpu_count() or 1
    return min(6, cores) if cores > 2 else 0


def run_superb_task(
    spec: SuperbTaskSpec,
    data_root: Path,
    upstream: Upstream,
    cache_root: Path | None,
    seed: int = 42,
    cache_budget_bytes: float = DEFAULT_CACHE_BUDGET_BYTES,
    runs_root: Path | None = None,
) -> TaskResult:
    """Train and test ``spec`` with s3prl's recipe; scores in percent, averaged over folds.

    ``runs_root`` holds s3prl's experiment folders (checkpoints, logs, result.yaml): by default
    ``<cache_root>/../superb_runs``, or a temporary folder (no resume) without a cache root.
    """
    recipe = recipe_for(spec, upstream.model.s3prl_upstream)
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
    fold_scores, fold_details = {}, {}
    try:
        for fold in recipe.folds(root):
            arguments = (upstream.build_arguments, upstream.device, seed, default_num_workers())
            key = _config_key(run_config(spec, fold, Path("."), *arguments), upstream.model)
            target_dir = Path(runs_root) / upstream.model.name / f"{spec.name}-{fold.name}-{key}"
            config = run_config(spec, fold, target_dir, *arguments)
            raw = run_fold(spec, fold, config, shared)
            fold_scores[fold.name] = {ours: recipe.scale * float(raw[th]) for th, ours in recipe.metrics.items()}
            fold_details[fold.name] = {"s3prl": raw, "target_dir": str(target_dir)}
    finally:
        if temporary is not None:
            temporary.cleanup()
    metrics = [m.name for m in spec.metrics if all(m.name in s for s in fold_scores.values())]
    means = {m: float(np.mean([s[m] for s in fold_scores.values()])) for m in metrics}
    return TaskResult(
        task=spec.name,
        scores=means,
        fold_scores=fold_scores,
        details={
            "folds": fold_details,
            "s3prl_problem": recipe.problem,
            "features": "cached" if cache else "per batch",
            "protocol": spec.protocol.__dict__,
            "device": upstream.device,
        },
        embed=EmbedStats(hits=cache.hits if cache else 0, misses=cache.misses if cache else 0),
    )


class SuperbRunner:
    """SUPERB tasks behind the runner contract: s3prl's recipe with the model as its upstream (built once per
    process), hidden states cached under ``<cache>/superb`` (``<cache>/superb/<dtype>`` below float32) within
    the cache budget, s3prl's run folders under ``<cache>/superb_runs``."""

    kind = "superb"

    def run(self, spec: SuperbTaskSpec, model: BenchModel, context: RunContext) -> TaskResult:
        if spec.runner == "s3prl_legacy":
            return run_legacy_superb_task(spec, model, context)
        upstream = context.models.get(
            ("superb", repr(model), context.device, context.dtype),
            lambda: Upstream(model, context.device, context.dtype),
        )
        cache_root = Path(context.cache_dir) / "superb" / ("" if context.dtype == "float32" else context.dtype)
        return run_superb_task(
            spec,
            context.data_root,
            upstream,
            cache_root,
            seed=context.seed,
            cache_budget_bytes=context.cache_budget_bytes,
            runs_root=Path(context.cache_dir) / "superb_runs",
        )


def run_legacy_superb_task(spec: SuperbTaskSpec, model: BenchModel, context: RunContext) -> TaskResult:
    """One of the six tasks s3prl runs only through its legacy runner (OOD-ASR, QbE, ST, SE, SS, VC):
    :func:`spear_bench.superb_legacy.run_task` trains and tests it with s3prl's ``run_downstream`` and
    the task's expert, in ``<cache>/superb_runs/<model>/<task>-<key>`` (s3prl resumes from its
    checkpoints there). A demo task (one with a ``base``) runs the demo schedule of
    ``superb_legacy.train.DEMO_OVERRIDES``; VC's scorers that were not given are random-init stand-ins
    there, stored as the rows ``stand_in_vocoder`` / ``stand_in_asr`` = 1."""
    require_s3prl_upstream(model)
    task = spec.base_name
    folder = check_task_files(spec, context.data_root)
    if folder.name != LEGACY_TASK_FOLDERS[task]:
        raise ConfigError(
            f"SUPERB task {spec.name}: its corpus folder must be named {LEGACY_TASK_FOLDERS[task]!r} "
            f"(s3prl's layout), got {folder}"
        )
    key = hashlib.sha256(
        json.dumps([spec.name, task, model.s3prl_upstream, model.s3prl_ckpt, model.fingerprint]).encode()
    ).hexdigest()[:12]
    run_dir = Path(context.cache_dir) / "superb_runs" / model.name / f"{spec.name}-{key}"
    # s3prl's legacy runner leaves process-wide state behind: after one legacy unit, this process
    # saw isinstance(defaultdict(), dict) turn False, so SuperbSF then wrote its corpus csv wrongly
    # (KeyError 'iob'). Each legacy unit runs in a process of its own (python -m
    # spear_bench.superb_legacy), which leaves the orchestrator's process as it was; its output is
    # shown as it comes, and a spear-bench error comes back as the same one-line error.
    arguments = {
        "task": task,
        "upstream": model.s3prl_upstream,
        "data_root": str(folder.parent),
        "run_dir": str(run_dir),
        "device": context.device,
        "demo": spec.base is not None,
        "upstream_ckpt": model.s3prl_ckpt,
        "vocoder": context.vc_vocoder,
        "asr_model": context.vc_asr_model,
    }
    done = subprocess.run([sys.executable, "-m", "spear_bench.superb_legacy", json.dumps(arguments)])
    if done.returncode != 0:
        error_file = run_dir / "error.json"
        if error_file.is_file():
            error = json.loads(error_file.read_text())
            raise getattr(errors, error["type"], errors.SpearBenchError)(error["message"])
        raise errors.SpearBenchError(
            f"SUPERB task {spec.name}: s3prl's legacy runner exited with code {done.returncode} (its output is above)"
        )
    scores = json.loads((run_dir / f"{task}.json").read_text())["metrics"]
    stored = {m.name: float(scores[m.name]) for m in spec.metrics if m.name in scores}
    return TaskResult(
        task=spec.name,
        scores=stored,
        out_dir=run_dir,
        details={
            "s3prl_legacy": scores,
            "s3prl_downstream": spec.s3prl_downstream,
            "run_dir": str(run_dir),
            "device": context.device,
            "demo_schedule": spec.base is not None,
        },
    )
