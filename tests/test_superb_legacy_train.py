"""Legacy recipes run through s3prl's own runner with spear_tiny on CPU, on the demo corpora:
OOD-ASR (ctc expert) trains and resumes from s3prl's checkpoint; QbE (quesst14_dtw expert)
writes its detections, which the MTWV scorer reads."""

import shutil

import pytest
import torch
import yaml

from spear_bench.superb.legacy import (
    DEMO_OVERRIDES,
    evaluate_legacy_downstream,
    ood_asr_corpus,
    run_legacy_downstream,
)
from spear_bench.superb.mtwv import read_stdlist, score_quesst
from spear_bench.superb.recipes import load_recipe
from spear_bench.superb_legacy.demo_corpora import generate_legacy_demo

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


@pytest.mark.slow  # about 20 s: s3prl import, spear_tiny on 15 files, 36 DTW alignments
def test_qbe_dtw_output_is_scored(tmp_path):
    demo = generate_legacy_demo(tmp_path / "demo", tasks=["qbe"], log=lambda _: None)
    root = demo / "quesst14Database"
    corpus = {"datarc.dataset_root": str(root)}
    expdir = evaluate_legacy_downstream(
        "qbe", corpus, "spear_tiny", tmp_path / "qbe", split="dev", layer=-1, overrides=DEMO_OVERRIDES["qbe"]
    )
    scores, _ = read_stdlist(expdir / "benchmark.stdlist.xml")
    assert len(scores) == 3 * 12  # every dev query against every English document
    result = score_quesst(expdir / "benchmark.stdlist.xml", root / "scoring" / "groundtruth_quesst14_dev")
    assert (result.n_queries, result.n_documents) == (3, 13)  # the Albanian document: a default-score trial
    assert 0.0 <= result.mtwv <= 1.0 and result.atwv is not None
