"""s3prl's published downstream configs for the six legacy-runner SUPERB tasks.

Each ``recipes/<name>.yaml`` is s3prl's own config (its header names the repository, file and
commit it was written from). Corpus paths, which in s3prl's files point at the authors' machines
or at s3prl's git tree, are ``null`` there; :func:`recipe_config` fills them for a corpus folder.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

import yaml

from spear_bench.errors import ConfigError

RECIPE_DIR = Path(__file__).with_name("recipes")


@dataclass(frozen=True)
class LegacyRecipe:
    task: str  # SUPERB task name (tasks/superb.yaml)
    downstream: str  # s3prl.downstream.<name>
    file: str  # recipes/<file>
    metric: str  # what the task reports


RECIPES: dict[str, LegacyRecipe] = {
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
    if name not in RECIPES:
        raise ConfigError(f"unknown legacy SUPERB recipe {name!r} (known: {', '.join(RECIPES)})")
    return RECIPE_DIR / RECIPES[name].file


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
    downstream = RECIPES[name].downstream
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
