"""The SUPERB recipes: one table (:data:`RECIPES`) of s3prl's own recipes for the 15 tasks.

* The nine ``s3prl.problem`` tasks (:class:`ProblemRecipe`, by task name): a task's run config is
  the class's ``default_config()`` (s3prl's recipe: optimiser, learning rate, batch sampler,
  accumulation, steps, augmentation, head) with only these filled in (:func:`run_config`):

  - the corpus paths (``prepare_data``), the upstream name and checkpoint (``build_upstream``);
  - where to write (``target_dir``, a per-run ``cache_dir``), the device, the DataLoader workers
    (and, for LibriSpeech and VoxCeleb1 SID, as many corpus-parsing jobs), the seed (run options,
    not recipe values);
  - the fields of the task's ``protocol`` in ``tasks/*.yaml`` (optimiser learning rate, train
    batch size, accumulation, total/eval/save steps, clipping). For the real suite these
    equal the class defaults (tests/test_bench_superb.py checks every one); the demo suite
    overrides the schedule explicitly (few steps, small batches) in ``tasks/demo.yaml``.

* The six legacy-runner tasks' configs (:class:`LegacyRecipe`, by config name): each
  ``recipes/<name>.yaml`` is s3prl's own config (its header names the repository, file and
  commit it was written from). Corpus paths, which in s3prl's files point at the authors'
  machines or at s3prl's git tree, are ``null`` there; :func:`recipe_config` fills them.

Files the recipes download at run time are supplied by the corpus folder
(:mod:`spear_bench.superb.recipe_files`).
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import yaml

from spear_bench.compat.s3prl import apply_s3prl_compat
from spear_bench.errors import ConfigError
from spear_bench.task_registry import SuperbProtocol, SuperbTaskSpec

G2P_LEXICON_URLS = (
    "https://huggingface.co/datasets/s3prl/g2p/raw/main/lexicon/librispeech-lexicon-200k-g2p.txt",
    "https://huggingface.co/datasets/s3prl/g2p/raw/main/lexicon/librispeech-lexicon-allothers-g2p.txt",
)
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
class ProblemRecipe:
    """A task that s3prl runs as an ``s3prl.problem`` class."""

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


PROBLEM_RECIPES: dict[str, ProblemRecipe] = {
    "pr": ProblemRecipe("SuperbPR", _librispeech_phones, {"per": "per"}, parsing_jobs=True),
    "asr": ProblemRecipe("SuperbASR", _librispeech, {"wer": "wer", "cer": "cer"}, parsing_jobs=True),
    "ks": ProblemRecipe("SuperbKS", _speech_commands, {"accuracy": "acc"}),
    "ic": ProblemRecipe("SuperbIC", _fluent, {"accuracy": "acc"}),
    "sid": ProblemRecipe("SuperbSID", _voxceleb1_sid, {"accuracy": "acc"}, parsing_jobs=True),
    "er": ProblemRecipe("SuperbER", _iemocap, {"accuracy": "acc"}),
    # SuperbASV tests every saved checkpoint and reports the lowest test EER (its stage 4).
    "sv": ProblemRecipe("SuperbASV", _voxceleb1_sv, {"EER": "eer"}, result_glob="evaluate/*/best_result.yaml"),
    # SuperbSD's stage 3 scores RTTMs over thresholds x median filters; dscore.yaml holds the best DER, in percent.
    "sd": ProblemRecipe(
        "SuperbSD", _librimix, {"der": "der"}, result_glob="evaluate/valid_best/*/dscore.yaml", scale=1.0
    ),
    "sf": ProblemRecipe("SuperbSF", _snips, {"slot_type_f1": "slot_type_f1", "slot_value_cer": "slot_value_cer"}),
}


RECIPE_DIR = Path(__file__).with_name("recipes")


@dataclass(frozen=True)
class LegacyRecipe:
    """A config of a task that s3prl runs only through its legacy runner (``run_downstream.py`` + an expert)."""

    task: str  # SUPERB task name (tasks/superb.yaml)
    downstream: str  # s3prl.downstream.<name>
    file: str  # recipes/<file>
    metric: str  # what the task reports


LEGACY_RECIPES: dict[str, LegacyRecipe] = {
    "ood_asr_es": LegacyRecipe("ood_asr", "ctc", "ood_asr_cv_es.yaml", "WER"),
    "ood_asr_zh": LegacyRecipe("ood_asr", "ctc", "ood_asr_cv_zh.yaml", "CER"),
    "ood_asr_ar": LegacyRecipe("ood_asr", "ctc", "ood_asr_cv_ar.yaml", "WER"),
    "ood_asr_sbcsae": LegacyRecipe("ood_asr", "ctc", "ood_asr_sbcsae.yaml", "WER"),
    "qbe": LegacyRecipe("qbe", "quesst14_dtw", "qbe_quesst14_dtw.yaml", "MTWV"),
    "st": LegacyRecipe("st", "speech_translation", "st_covost2_en_de.yaml", "BLEU"),
    "se": LegacyRecipe("se", "enhancement_stft", "se_voicebank.yaml", "PESQ/STOI"),
    "ss": LegacyRecipe("ss", "separation_stft", "ss_libri2mix.yaml", "SI-SDRi"),
    "vc": LegacyRecipe("vc", "a2o-vc-vcc2020", "vc_vcc2020_taco2_ar.yaml", "MCD/WER/ASV"),
}


def recipe_source(name: str) -> str:
    """The header's 'Source:' line of a recipe file (repository, path, commit)."""
    text = _recipe_path(name).read_text()
    lines = [line.lstrip("# ").strip() for line in text.splitlines() if line.startswith("#")]
    joined = " ".join(lines)
    start = joined.find("Source:")
    return joined[start : joined.find("(", start)].strip() if start >= 0 else ""


def _recipe_path(name: str) -> Path:
    return RECIPE_DIR / legacy_recipe(name).file


def load_recipe(name: str) -> dict:
    """The published config of recipe ``name``, as s3prl's runner reads it (run-time paths null)."""
    path = _recipe_path(name)
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as err:
        raise ConfigError(f"{path}: cannot read the recipe ({err})") from err
    if not isinstance(data, dict) or "downstream_expert" not in data:
        raise ConfigError(f"{path}: not an s3prl downstream config (no downstream_expert)")
    return data


def recipe_config(name: str, corpus: dict[str, object]) -> dict:
    """The recipe with its run-time paths filled: ``corpus`` maps dotted keys under
    ``downstream_expert`` (e.g. ``"loaderrc.train_dir"``) to values; each must name a null field."""
    config = copy.deepcopy(load_recipe(name))
    for dotted, value in corpus.items():
        node = config["downstream_expert"]
        *parents, leaf = dotted.split(".")
        for key in parents:
            if not isinstance(node.get(key), dict):
                raise ConfigError(f"recipe {name}: no section downstream_expert.{dotted.rsplit('.', 1)[0]}")
            node = node[key]
        if leaf not in node:
            raise ConfigError(f"recipe {name}: no field downstream_expert.{dotted}")
        if node[leaf] is not None:
            raise ConfigError(f"recipe {name}: downstream_expert.{dotted} is a recipe value, not a run-time path")
        node[leaf] = value
    return config


def recipe_summary(name: str) -> dict[str, object]:
    """The recipe values docs/superb_legacy.md tabulates: optimiser, lr, steps, batch, accumulation,
    scheduler, augmentation, head."""
    cfg = load_recipe(name)
    runner, optim, expert = cfg.get("runner") or {}, cfg.get("optimizer") or {}, cfg["downstream_expert"]
    downstream = legacy_recipe(name).downstream
    if downstream == "ctc":
        rnn = expert["model"]["RNNs"]
        batch = expert["corpus"]["batch_size"]
        head = f"{len(rnn['dim'])}-layer Bi{rnn['module']} {rnn['dim'][0]}, CTC ({expert['text']['mode']})"
    elif downstream in ("enhancement_stft", "separation_stft"):
        m = expert["modelrc"]
        batch = expert["loaderrc"]["train_batchsize"]
        head = f"{m['model']}: {m['rnn_layers']}-layer Bi{m['rnn']} {m['hidden_size']}, {m['mask_type']} mask"
    elif downstream == "speech_translation":
        m = expert["modelrc"]
        batch = f"max_tokens {expert['datarc']['max_tokens']}"
        head = f"{m['arch']} ({m['encoder_layers']} enc + {m['decoder_layers']} dec layers)"
    elif downstream == "a2o-vc-vcc2020":
        m = expert["modelrc"]
        batch = expert["datarc"]["train_batch_size"]
        head = f"{m['encoder_type']} AR={m['ar']}, hidden {m['hidden_dim']}"
    else:  # quesst14_dtw: nothing is trained
        d = expert["dtwrc"]
        batch = None
        head = f"DTW ({d['dist_method']}, {d['step_pattern']}, subsequence={d['subsequence']})"
    optimiser = optim.get("torch_optim_name") or optim.get("name")
    scheduler = cfg.get("scheduler") or {}
    return {
        "optimiser": optimiser,
        "lr": optim.get("lr"),
        "steps": runner.get("total_steps"),
        "batch": batch,
        "accumulation": runner.get("gradient_accumulate_steps"),
        "scheduler": scheduler.get("name"),
        "augmentation": "SpecAugment on features" if cfg.get("specaug") else None,
        "head": head,
    }


# The one table of SUPERB recipes: the s3prl.problem tasks by task name, the legacy-runner configs by name.
RECIPES: dict[str, ProblemRecipe | LegacyRecipe] = {**PROBLEM_RECIPES, **LEGACY_RECIPES}


def legacy_recipe(name: str) -> LegacyRecipe:
    """The legacy-runner recipe ``name`` (one-line ConfigError naming the known ones)."""
    if name not in LEGACY_RECIPES:
        raise ConfigError(f"unknown legacy SUPERB recipe {name!r} (known: {', '.join(LEGACY_RECIPES)})")
    return LEGACY_RECIPES[name]


def recipe_for(spec: SuperbTaskSpec, upstream_name: str = "<upstream>") -> ProblemRecipe:
    if spec.s3prl_entry is None or spec.base_name not in PROBLEM_RECIPES:
        raise ConfigError(
            f"SUPERB task {spec.name} ({spec.short}) is defined but not run by spear-bench yet; run it with s3prl: "
            f"run_downstream.py -m train -u {upstream_name} -d {spec.s3prl_downstream} "
            "(after spear_bench.upstreams.register())"
        )
    recipe = PROBLEM_RECIPES[spec.base_name]
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
