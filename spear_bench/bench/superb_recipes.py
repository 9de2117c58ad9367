"""SUPERB tasks as s3prl's own recipes: one ``s3prl.problem`` class per task, its published defaults.

A task's run config is the class's ``default_config()`` (s3prl's recipe: optimiser, learning
rate, batch sampler, accumulation, steps, augmentation, head) with only these filled in:

* the corpus paths (``prepare_data``), the upstream name and checkpoint (``build_upstream``);
* where to write (``target_dir``, a per-run ``cache_dir``), the device, the DataLoader workers
  (and, for LibriSpeech and VoxCeleb1 SID, as many corpus-parsing jobs), the seed (run options,
  not recipe values);
* the fields of the task's ``protocol`` in ``tasks/*.yaml`` (optimiser learning rate, train
  batch size, accumulation, total/eval/save steps, clipping). For the real suite these
  equal the class defaults (tests/test_bench_superb.py checks every one); the demo suite
  overrides the schedule explicitly (few steps, small batches) in ``tasks/demo.yaml``.

Files the recipes download at run time (VoxCeleb1's ``iden_split.txt``, IEMOCAP's per-fold
split lists, the LibriSpeech g2p lexicon) come from the corpus folder when it has them, else
from s3prl's URLs, fetched once into the cache (:mod:`spear_bench.bench.superb_downloads`, in
the pre-run check :func:`check_fold_files`); :func:`spear_bench.s3prl_compat.s3prl_local_files`
points s3prl at them.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from spear_bench.bench.superb_downloads import G2P_LEXICON_URLS, fetched_recipe_files
from spear_bench.errors import ConfigError, DatasetError
from spear_bench.s3prl_compat import apply_s3prl_compat
from spear_bench.task_registry import SuperbProtocol, SuperbTaskSpec

IEMOCAP_SPLIT_DIR = "s3prl_iemocap_split"  # Session<n>/{train,test}_meta_data.json (hf.co/datasets/s3prl/iemocap_split)


@dataclass(frozen=True)
class Fold:
    """One s3prl run of a task: its ``prepare_data`` and the local files its recipe would download."""

    name: str
    prepare_data: dict
    local_files: dict[str, Path] = field(default_factory=dict)  # URL -> corpus file (s3prl_local_files)
    cache_files: dict[str, Path] = field(default_factory=dict)  # file name in the run's cache_dir -> corpus file
    kaldi_data_dir: Path | None = None  # SD: <dir>/{train,dev,test} copied with wav.scp paths made absolute


@dataclass(frozen=True)
class Recipe:
    problem: str  # s3prl.problem class name
    folds: Callable[[Path], list[Fold]]
    metrics: dict[str, str]  # s3prl result.yaml key -> spear-bench metric (reported x100, in percent)
    result_glob: str = "evaluate/valid_best/*/result.yaml"  # where the class writes its test metrics
    scale: float = 100.0  # s3prl's value -> percent
    parsing_jobs: bool = False  # prepare_data takes n_jobs (joblib processes that parse the corpus)


def _librispeech(root: Path) -> list[Fold]:
    return [Fold("test", {"dataset_root": str(root)})]


def _librispeech_phones(root: Path) -> list[Fold]:
    lexicon = root / "librispeech-lexicon.txt"
    return [Fold("test", {"dataset_root": str(root)}, local_files={url: lexicon for url in G2P_LEXICON_URLS})]


def _speech_commands(root: Path) -> list[Fold]:
    paths = {"gsc1": root / "speech_commands_v0.01", "gsc1_test": root / "speech_commands_test_set_v0.01"}
    return [Fold("test", {name: str(path) for name, path in paths.items()})]


def _fluent(root: Path) -> list[Fold]:
    return [Fold("test", {"dataset_root": str(root)})]


def _voxceleb1_sid(root: Path) -> list[Fold]:
    return [Fold("test", {"dataset_root": str(root)}, cache_files={"iden_split.txt": root / "iden_split.txt"})]


def _iemocap(root: Path) -> list[Fold]:
    folds = []
    for n in range(1, 6):
        split_dir = root / IEMOCAP_SPLIT_DIR / f"Session{n}"
        folds.append(
            Fold(
                f"fold{n}",
                {"iemocap": str(root), "test_fold": n - 1},
                cache_files={
                    f"test_session{n}_train_metadata.json": split_dir / "train_meta_data.json",
                    f"test_session{n}_test_metadata.json": split_dir / "test_meta_data.json",
                },
            )
        )
    return folds


def _snips(root: Path) -> list[Fold]:
    return [Fold("test", {"dataset_root": str(root)})]


def _voxceleb1_sv(root: Path) -> list[Fold]:
    return [
        Fold(
            "test",
            {"dataset_root": str(root)},
            cache_files={name: root / name for name in ("iden_split.txt", "voxceleb1_test_v2.txt")},
        )
    ]


def _librimix(root: Path) -> list[Fold]:
    return [Fold("test", {}, kaldi_data_dir=root / "data")]


RECIPES: dict[str, Recipe] = {
    "pr": Recipe("SuperbPR", _librispeech_phones, {"per": "per"}, parsing_jobs=True),
    "asr": Recipe("SuperbASR", _librispeech, {"wer": "wer", "cer": "cer"}, parsing_jobs=True),
    "ks": Recipe("SuperbKS", _speech_commands, {"accuracy": "acc"}),
    "ic": Recipe("SuperbIC", _fluent, {"accuracy": "acc"}),
    "sid": Recipe("SuperbSID", _voxceleb1_sid, {"accuracy": "acc"}, parsing_jobs=True),
    "er": Recipe("SuperbER", _iemocap, {"accuracy": "acc"}),
    # SuperbASV tests every saved checkpoint and reports the lowest test EER (its stage 4).
    "sv": Recipe("SuperbASV", _voxceleb1_sv, {"EER": "eer"}, result_glob="evaluate/*/best_result.yaml"),
    # SuperbSD's stage 3 scores RTTMs over thresholds x median filters; dscore.yaml holds the best DER, in percent.
    "sd": Recipe("SuperbSD", _librimix, {"der": "der"}, result_glob="evaluate/valid_best/*/dscore.yaml", scale=1.0),
    "sf": Recipe("SuperbSF", _snips, {"slot_type_f1": "slot_type_f1", "slot_value_cer": "slot_value_cer"}),
}


def recipe_for(spec: SuperbTaskSpec, upstream_name: str = "<upstream>") -> Recipe:
    if spec.runner is None or spec.base_name not in RECIPES:
        raise ConfigError(
            f"SUPERB task {spec.name} ({spec.short}) is defined but not run by spear-bench yet; run it with s3prl: "
            f"run_downstream.py -m train -u {upstream_name} -d {spec.s3prl_downstream} "
            "(after spear_bench.upstreams.register())"
        )
    recipe = RECIPES[spec.base_name]
    if recipe.problem != spec.s3prl_problem:
        raise ConfigError(
            f"SUPERB task {spec.name}: tasks file names {spec.s3prl_problem}, the recipe is {recipe.problem}"
        )
    return recipe


def problem_class(name: str):
    """An ``s3prl.problem`` class, imported after the compatibility shims."""
    apply_s3prl_compat()
    import s3prl.problem  # heavy optional dependency (seconds to import), loaded with the first SUPERB task

    return getattr(s3prl.problem, name)


def default_config(problem: str) -> dict:
    return problem_class(problem)().default_config()


def protocol_of(config: dict) -> dict:
    """The SuperbProtocol fields as an s3prl.problem config holds them."""
    train = config["train"]
    return {
        "optimizer": config["build_optimizer"]["name"],
        "lr": config["build_optimizer"]["conf"]["lr"],
        "batch_size": config["build_batch_sampler"]["train"]["batch_size"],
        "gradient_accumulate": train["gradient_accumulate"],
        "total_steps": train["total_steps"],
        "eval_step": train["eval_step"],
        "save_step": train["save_step"],
        "gradient_clipping": train["gradient_clipping"],
    }


def apply_protocol(config: dict, protocol: SuperbProtocol) -> dict:
    """``config`` with the protocol's schedule written in (a copy)."""
    config = copy.deepcopy(config)
    values = dataclasses.asdict(protocol)
    if values["optimizer"] != config["build_optimizer"]["name"]:
        recipe_optimizer = config["build_optimizer"]["name"]
        raise ConfigError(f"protocol optimizer {values['optimizer']} differs from the recipe's {recipe_optimizer}")
    config["build_optimizer"]["conf"]["lr"] = values["lr"]
    config["build_batch_sampler"]["train"]["batch_size"] = values["batch_size"]
    for key in ("gradient_accumulate", "total_steps", "eval_step", "save_step", "gradient_clipping"):
        config["train"][key] = values[key]
    return config


KALDI_FILES = ("wav.scp", "segments", "utt2spk", "reco2dur")


def check_fold_files(spec: SuperbTaskSpec, fold: Fold) -> Fold:
    """``fold`` with the files its recipe downloads taken from the corpus folder or fetched into the cache
    (superb_downloads), once every file it reads is there; else a one-line DatasetError naming the first missing."""
    fold = fetched_recipe_files(f"SUPERB task {spec.name}", fold)
    splits = ("train", "dev", "test") if fold.kaldi_data_dir else ()
    kaldi = [fold.kaldi_data_dir / split / name for split in splits for name in KALDI_FILES]
    for path in [*fold.local_files.values(), *fold.cache_files.values(), *kaldi]:
        if not Path(path).is_file():
            raise DatasetError(
                f"SUPERB task {spec.name}: expected {path} "
                "(s3prl's recipe downloads it; the corpus folder must supply it offline)"
            )
    return fold


def check_task_files(spec: SuperbTaskSpec, data_root: Path) -> Path:
    """The corpus folder, once every path the task's recipe reads is there (its layout's required paths
    and each fold's offline files): a one-line DatasetError naming the first missing one, before any model loads."""
    root = spec.check_data(data_root)
    if spec.runner == "s3prl_legacy":
        return root  # spear_bench.superb_legacy checks every list and audio file before s3prl starts
    for fold in recipe_for(spec).folds(root):
        check_fold_files(spec, fold)
    return root


def write_kaldi_dirs(source: Path, target: Path) -> None:
    """Copy <source>/{train,dev,test} to ``target``, wav.scp paths relative to the corpus folder made absolute."""
    corpus = source.parent
    for split in ("train", "dev", "test"):
        (target / split).mkdir(parents=True, exist_ok=True)
        for name in KALDI_FILES:
            text = (source / split / name).read_text()
            if name == "wav.scp":
                entries = (line.split(" ", 1) for line in text.splitlines() if line.strip())
                text = "".join(f"{reco} {(corpus / path).resolve()}\n" for reco, path in entries)
            (target / split / name).write_text(text)


def run_config(
    spec: SuperbTaskSpec, fold: Fold, target_dir: Path, build_upstream: dict, device: str, seed: int, num_workers: int
) -> dict:
    """The full keyword arguments of ``Problem.run`` for one fold (``build_upstream``: name, path_or_url)."""
    recipe = recipe_for(spec)
    config = apply_protocol(default_config(recipe.problem), spec.protocol)
    config["target_dir"] = str(target_dir)
    config["cache_dir"] = str(target_dir / "s3prl_cache")
    config["prepare_data"].update(fold.prepare_data)
    if fold.kaldi_data_dir is not None:
        config["prepare_data"]["data_dir"] = str(target_dir / "s3prl_cache" / "kaldi_data")
    config["build_upstream"] = dict(build_upstream)
    config["device"] = device
    config["num_workers"] = num_workers
    if recipe.parsing_jobs:  # a run option like num_workers: processes joblib starts to parse the corpus
        config["prepare_data"]["n_jobs"] = max(1, num_workers)
    config["train"]["seed"] = seed
    return config
