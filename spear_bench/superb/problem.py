"""The nine ``s3prl.problem`` SUPERB tasks, run by s3prl's own class: the one wrapper around ``Problem.run``.

The class (SuperbPR, SuperbASR, SuperbKS, SuperbIC, SuperbSID, SuperbER, SuperbSF, SuperbASV,
SuperbSD) prepares the corpus with s3prl's readers, builds ``S3PRLUpstream`` (the model's hub
entry, registered by :func:`spear_bench.upstreams.register`) + the weighted-sum ``Featurizer`` +
the recipe's head, trains with the recipe's optimiser, sampler, augmentation and schedule, keeps
the best validation checkpoint and tests it (``Problem.run``). spear-bench only fills in the
corpus paths, the upstream, the device and where to write (:func:`spear_bench.superb.recipes.run_config`),
hands the recipe one shared frozen upstream (:func:`share_frozen_upstream`) and reads s3prl's
``result.yaml`` back.

* Resume: each fold runs in its own folder, keyed by :func:`spear_bench.superb.runs.run_folder_key`;
  s3prl resumes training from its latest ``step_*`` checkpoint there, and a fold whose
  ``result.yaml`` exists is not run again.
* One upstream per process: the recipe builds ``S3PRLUpstream(name, path_or_url)`` three times
  per fold (to read its frame rate, to train, to load the best checkpoint for testing); the
  upstream is frozen (``upstream_trainable: False``: eval mode, no gradients) and its hub entry
  seeds its own generator, so the caller builds it once (the same call, the same weights) and
  hands that one to every build; s3prl's checkpoints leave out its tensors (the same in every
  checkpoint) and take them back from it when loaded.
"""

from __future__ import annotations

import os
import shutil
import types
from dataclasses import dataclass
from pathlib import Path

import torch
import yaml

from spear_bench.errors import ConfigError
from spear_bench.superb.recipe_files import recipe_files
from spear_bench.superb.recipes import Fold, ProblemRecipe, problem_class, recipe_for, run_config
from spear_bench.superb.runs import run_folder_key
from spear_bench.task_registry import SuperbTaskSpec


def _results(target_dir: Path, pattern: str) -> dict[str, float] | None:
    files = sorted(target_dir.glob(pattern))
    if not files:
        return None
    return yaml.safe_load(files[0].read_text())


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


def replay_upstream_init(s3prl_upstream: torch.nn.Module) -> None:
    """Leave the random streams as building ``s3prl_upstream`` (an ``S3PRLUpstream``, or a module holding one
    as ``.upstream``) leaves them in s3prl's own run.

    ``S3PRLUpstream.__init__`` (s3prl 0.4.18, ``s3prl/nn/upstream.py``), after the hub entry built
    the model (ours seed their own generator and leave the global streams alone), runs the model
    in eval mode on ``get_pseudo_wavs()`` to count its layers: that calls ``random.seed(0)`` and
    ``torch.manual_seed(0)`` and draws two wave lengths and two waves, then sets train mode.
    ``Problem.train`` builds the upstream right after seeding with ``train.seed``, so the head is
    initialised from this state, not from the seed: a shared upstream must do the same, or the
    head starts elsewhere (issue 23). The very statements, on the shared model's device.
    """
    from s3prl.nn import S3PRLUpstream  # heavy optional dependency (s3prl), SUPERB only
    from s3prl.util.pseudo_data import get_pseudo_wavs

    if not isinstance(s3prl_upstream, S3PRLUpstream):  # a wrapper (bench's hidden-state cache) holds it
        s3prl_upstream = s3prl_upstream.upstream
    expert = s3prl_upstream.upstream
    device = next(expert.parameters()).device
    expert.eval()
    with torch.no_grad():
        expert([wav.to(device) for wav in get_pseudo_wavs()])
    expert.train()


def share_frozen_upstream(problem, upstream: torch.nn.Module, config: dict, what: str) -> None:
    """Hand ``problem`` this process's upstream instead of building its own; its checkpoints leave it out.

    Three methods of this ``problem`` instance (named shims; the class is untouched):

    - ``build_upstream`` returns ``upstream`` (the recipe asks for the same hub entry and weights
      three times per fold; a checkpoint naming another upstream is an error), after doing to the
      random streams what building it does in s3prl's own run (:func:`replay_upstream_init`);
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
        replay_upstream_init(upstream)
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


def dumped_config(target_dir: Path) -> Path:
    """s3prl's own dump of a fold's run config (``Problem.run`` writes ``<target_dir>/configs/<time>.yaml``;
    a resumed run dumps again: the newest). It is what s3prl's own entry point reruns the fold from."""
    dumps = sorted((Path(target_dir) / "configs").glob("*.yaml"))
    if not dumps:
        raise ConfigError(f"{target_dir}: no s3prl config dump under configs/ (not an s3prl.problem run folder)")
    return dumps[-1]


def default_num_workers() -> int:
    """DataLoader workers: none on a machine with 2 cores or fewer (they would compete with the model), else <= 6."""
    cores = os.cpu_count() or 1
    return min(6, cores) if cores > 2 else 0


@dataclass(frozen=True)
class FoldRun:
    """One fold as run: s3prl's raw test metrics, in spear-bench's units, and its run folder."""

    name: str
    raw: dict
    scores: dict[str, float]
    target_dir: Path


def run_problem_task(
    spec: SuperbTaskSpec,
    root: Path,
    upstream: torch.nn.Module,
    build_upstream: dict,
    device: str,
    seed: int,
    runs_dir: Path,
    model_identity: dict,
    code: dict,
) -> tuple[ProblemRecipe, list[FoldRun]]:
    """Every fold of ``spec``'s recipe on the corpus folder ``root`` with the shared ``upstream``
    (``build_upstream``: what the recipe's config names); each fold in ``runs_dir/<task>-<fold>-<key>``."""
    recipe = recipe_for(spec)
    folds = []
    for fold in recipe.folds(root):
        arguments = (build_upstream, device, seed, default_num_workers())
        key = run_folder_key(run_config(spec, fold, Path("."), *arguments), model_identity, code, seed)
        target_dir = Path(runs_dir) / f"{spec.name}-{fold.name}-{key}"
        raw = run_fold(spec, fold, run_config(spec, fold, target_dir, *arguments), upstream)
        scores = {ours: recipe.scale * float(raw[theirs]) for theirs, ours in recipe.metrics.items()}
        folds.append(FoldRun(fold.name, raw, scores, target_dir))
    return recipe, folds
