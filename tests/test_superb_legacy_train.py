"""OOD-ASR's recipe runs through s3prl's own legacy runner (ctc expert) with spear_tiny, on CPU,
on the Common Voice demo corpus, and resumes from s3prl's checkpoint."""

import shutil

import pytest
import torch
import yaml

from spear_bench.superb_legacy.demo_corpora import generate_legacy_demo
from spear_bench.superb_legacy.recipes import load_recipe
from spear_bench.superb_legacy.train import DEMO_OVERRIDES, ood_asr_corpus, run_legacy_downstream

pytest.importorskip("editdistance", reason="s3prl's ctc metric imports editdistance (pinned on branch i15)")
pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")

# The published head (2-layer BiLSTM 1024, projection 1024) takes about 15 s a step on one CPU
# thread; this test shrinks it, and only it. The run path, data, loss, metric, checkpoints and
# resume are the recipe's.
SMALL_HEAD = {
    "downstream_expert.model.project_dim": 32,
    "downstream_expert.model.RNNs.dim": [32, 32],
}


@pytest.mark.slow  # about 30 s of CPU (s3prl import, 3 steps, one dev pass, two runner starts)
def test_ood_asr_trains_evaluates_and_resumes(tmp_path):
    torch.manual_seed(0)
    demo = generate_legacy_demo(tmp_path / "demo", tasks=["ood_asr"], log=lambda _: None)
    corpus = ood_asr_corpus(demo / "ood_asr")
    expdir = tmp_path / "exp"
    overrides = {**DEMO_OVERRIDES["ood_asr_es"], **SMALL_HEAD, "runner.eval_step": 2, "runner.save_step": 1}
    run_legacy_downstream("ood_asr_es", corpus, "spear_tiny", expdir, overrides=overrides, total_steps=2)
    assert (expdir / "states-2.ckpt").is_file() and (expdir / "dev-best.ckpt").is_file()

    config = yaml.safe_load((tmp_path / "exp.config.yaml").read_text())
    recipe = load_recipe("ood_asr_es")
    assert config["optimizer"] == recipe["optimizer"] and config["specaug"] == recipe["specaug"]
    assert config["downstream_expert"]["corpus"]["path"].endswith("cv-corpus-7.0/es/clips")

    # a longer schedule on the same folder: s3prl resumes from states-2 (its -a flag) and runs step 3 only
    run_legacy_downstream("ood_asr_es", corpus, "spear_tiny", expdir, overrides=overrides, total_steps=3)
    resumed = torch.load(expdir / "states-3.ckpt", map_location="cpu", weights_only=False)
    assert resumed["Step"] == 3
    assert "Featurizer" in resumed and "Downstream" in resumed
