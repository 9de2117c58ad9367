"""The legacy-runner SUPERB recipes keep s3prl's published values and name their source."""

import pytest

from spear_bench.errors import ConfigError
from spear_bench.superb.recipes import LEGACY_RECIPES, load_recipe, recipe_config, recipe_source, recipe_summary

# (recipe, optimiser, lr, total steps, batch, accumulation) as published in s3prl's config files
PUBLISHED = [
    ("ood_asr_es", "Adam", 1.0e-4, 500000, 16, 1),
    ("ood_asr_zh", "Adam", 1.0e-4, 500000, 16, 1),
    ("ood_asr_ar", "Adam", 1.0e-4, 500000, 16, 1),
    ("ood_asr_sbcsae", "Adam", 1.0e-4, 500000, 16, 1),
    ("st", "Adam", 1.0e-3, 32000, "max_tokens 10000", 8),
    ("se", "AdamW", 1.0e-4, 150000, 8, 1),
    ("ss", "AdamW", 1.0e-4, 150000, 8, 1),
    ("vc", "AdamW", 1.0e-4, 10000, 6, 1),
]


@pytest.mark.parametrize("name,optimiser,lr,steps,batch,accumulation", PUBLISHED)
def test_published_schedule(name, optimiser, lr, steps, batch, accumulation):
    summary = recipe_summary(name)
    assert (summary["optimiser"], summary["lr"], summary["steps"]) == (optimiser, lr, steps)
    assert (summary["batch"], summary["accumulation"]) == (batch, accumulation)


def test_augmentation_and_heads():
    assert all(
        recipe_summary(n)["augmentation"] == "SpecAugment on features" for n in LEGACY_RECIPES if n.startswith("ood")
    )
    assert all(recipe_summary(n)["augmentation"] is None for n in ("st", "se", "ss", "vc", "qbe"))
    assert recipe_summary("se")["head"] == recipe_summary("ss")["head"] == "SepRNN: 3-layer BiLSTM 896, NPSM mask"
    assert load_recipe("qbe")["downstream_expert"]["dtwrc"]["dist_method"] == "cosine_exp"
    assert load_recipe("vc")["scheduler"] == {"name": "linear_schedule_with_warmup", "num_warmup_steps": 4000}
    assert load_recipe("ss")["downstream_expert"]["datarc"]["tgt"] == ["s1", "s2"]


@pytest.mark.parametrize("name", list(LEGACY_RECIPES))
def test_every_recipe_names_its_s3prl_source(name):
    source = recipe_source(name)
    assert source.startswith("Source: repository s3prl/s3prl, file s3prl/downstream/")
    assert f"/{LEGACY_RECIPES[name].downstream}/" in source and "commit " in source


def test_recipe_config_fills_only_run_time_paths():
    config = recipe_config("se", {"loaderrc.train_dir": "/data/train"})
    assert config["downstream_expert"]["loaderrc"]["train_dir"] == "/data/train"
    assert load_recipe("se")["downstream_expert"]["loaderrc"]["train_dir"] is None  # the file is untouched
    with pytest.raises(ConfigError, match="is a recipe value"):
        recipe_config("se", {"modelrc.hidden_size": 10})
    with pytest.raises(ConfigError, match="no field"):
        recipe_config("se", {"loaderrc.nope": 1})
    with pytest.raises(ConfigError, match="unknown legacy SUPERB recipe"):
        load_recipe("asr")
