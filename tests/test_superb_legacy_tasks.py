"""superb.legacy_tasks.run_task: the six legacy-runner SUPERB tasks end to end on the demo corpora.

Fast: the one-line errors (unknown task, missing data root, a missing corpus file named with its
task, VC's missing pretrained models), the VC demo corpus additions, the readers of s3prl's
outputs and the jiwer shim. Slow: each task trains (where it trains) and is scored through s3prl's
runner with spear_tiny; the metric is finite and is the one in s3prl's output file; a second call
resumes (reads the scored unit back without running s3prl).
"""

from __future__ import annotations

import json
import math
import shutil

import pytest
import soundfile as sf

from spear_bench.compat import s3prl_legacy
from spear_bench.errors import ConfigError, DatasetError
from spear_bench.superb.legacy_tasks import TASK_FOLDERS, TASKS, run_task
from spear_bench.superb.vc_eval import VcScores
from spear_bench.superb_legacy.demo_corpora import VC_EVAL, VC_LISTS, generate_legacy_demo

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed")
    return generate_legacy_demo(tmp_path_factory.mktemp("legacy_tasks") / "demo", log=lambda _: None)


# --- errors ---------------------------------------------------------------------------------------------


def test_unknown_task_and_missing_data_root(tmp_path):
    with pytest.raises(ConfigError, match="unknown legacy SUPERB task 'asr' \\(known: ood_asr, qbe, st, se, ss, vc\\)"):
        run_task("asr", "spear_tiny", tmp_path, tmp_path / "run")
    with pytest.raises(DatasetError, match=f"task se: data root {tmp_path / 'nope'} does not exist"):
        run_task("se", "spear_tiny", tmp_path / "nope", tmp_path / "run")


FIRST_MISSING = {
    "ood_asr": "ood_asr/cv-corpus-7.0/es/clips",
    "qbe": "quesst14Database/scoring/language_key_utterances.lst",
    "st": "covost2/covost_en_de/train.tsv",
    "se": "voicebank_demand/voicebank/wav16k/train/clean/wav.scp",
    "ss": "libri2mix/Libri2Mix_prepared/wav16k/min/train-100/mix_clean/wav.scp",
    "vc": "vcc2020/lists/E_train_list.txt",
}


@pytest.mark.parametrize("task", TASKS)
def test_an_empty_corpus_folder_names_the_task_and_the_first_missing_file(task, tmp_path):
    (tmp_path / TASK_FOLDERS[task]).mkdir()
    with pytest.raises(DatasetError) as err:
        run_task(task, "spear_tiny", tmp_path, tmp_path / "run", demo=True)
    assert str(err.value) == f"task {task}: missing {tmp_path / FIRST_MISSING[task]}"
    assert "\n" not in str(err.value)


@needs_espeak
def test_a_missing_audio_file_of_a_list_is_named(tmp_path):
    root = generate_legacy_demo(tmp_path / "demo", tasks=["se"], log=lambda _: None)
    victim = root / "voicebank_demand" / "noisy-vctk-16k" / "noisy_testset_wav_16k" / "p257_002.wav"
    victim.unlink()
    with pytest.raises(DatasetError, match=f"^task se: missing {victim}$"):
        run_task("se", "spear_tiny", root, tmp_path / "run", demo=True)


def test_vc_outside_a_demo_needs_the_vocoder_and_the_asr_model(demo, tmp_path):
    with pytest.raises(ConfigError, match="task vc: no vocoder given .*pwg_task1.*vocoder_download.sh"):
        run_task("vc", "spear_tiny", demo, tmp_path / "run")
    with pytest.raises(ConfigError, match="task vc: no ASR model given .*facebook/wav2vec2-large-960h-lv60-self"):
        run_task("vc", "spear_tiny", demo, tmp_path / "run", vocoder=tmp_path)


# --- corpus and readers --------------------------------------------------------------------------------


def test_vc_demo_has_target_ground_truth_and_prompts(demo):
    corpus = demo / "vcc2020" / "vcc2020"
    for target in ("TEF1", "TEF2", "TEM1", "TEM2"):
        for number in VC_EVAL:  # evaluate.py compares each converted E3* file with the target's own
            assert sf.info(str(corpus / target / f"{number}.wav")).samplerate == 24000
    prompts = dict(
        line.split(" ", 1) for line in (corpus / "prompts" / "Eng_transcriptions.txt").read_text().splitlines()
    )
    assert set(prompts) == {n[1:] for n in VC_LISTS["train"] + VC_LISTS["dev"] + VC_EVAL}  # keys without the "E"
    assert prompts["30001"] == "A bird can fly over the hill."


def test_vc_scores_read_from_obj_log(tmp_path):
    log = tmp_path / "obj.log"
    log.write_text(
        "SEF1_E30001 9.10 30.00 0.10 0.20 80.0 100.0 False \tx | y\n"
        "Mean MCD, f0RMSE, f0CORR, DDUR, CER, WER, accept rate: 9.12 nan nan 0.250 81.3 100.0 12.50"
    )
    scores = VcScores.read(log, eer=0.0625)
    assert (scores.mcd, scores.ddur, scores.cer, scores.wer, scores.asv_accept, scores.asv_eer) == (
        9.12,
        0.25,
        81.3,
        100.0,
        12.5,
        6.25,
    )
    assert math.isnan(scores.f0rmse)
    log.write_text("number of utterances = 8\n")
    with pytest.raises(ConfigError, match="no 'Mean MCD, ...' line"):
        VcScores.read(log, eer=0.1)
    log.write_text(
        "SEF1_E30001 9.10 30.00 0.10 0.20 80.0 100.0 False \tx | y\nMean MCD, f0RMSE, f0CORR, DDUR, CER, WER, "
        "accept rate: 9.10 30.00 0.100 0.200 80.0 100.0 0.00"
    )
    with pytest.raises(ConfigError, match="evaluate.py scored 1 of 8 utterances"):  # a dead MCD worker's files
        VcScores.read(log, eer=0.1, utterances=8)


def test_jiwer_v2_counts_as_jiwer_2_did():
    jiwer = s3prl_legacy.JiwerV2()
    words = jiwer.compute_measures("A B C", "A X C D")
    assert {k: words[k] for k in ("hits", "substitutions", "deletions", "insertions")} == {
        "hits": 2,
        "substitutions": 1,
        "deletions": 0,
        "insertions": 1,
    }
    assert words["wer"] == pytest.approx(2 / 3)
    chars = jiwer.cer("ABC", "AC", return_dict=True)
    assert (chars["hits"], chars["deletions"], chars["cer"]) == (2, 1, pytest.approx(1 / 3))
    assert jiwer.cer("ABC", "AC") == pytest.approx(1 / 3)


# --- end to end (slow) ----------------------------------------------------------------------------------

# The OOD-ASR demo head is already small (tasks.DEMO); these shrink the heads the demo keeps as
# published, for the test only: SE/SS 3 x BiLSTM 896, VC's Taco2-AR 1024, ST's 3 + 3 layer transformer.
SMALL = {
    "se": {"downstream_expert.modelrc.hidden_size": 32},
    "ss": {"downstream_expert.modelrc.hidden_size": 32},
    "vc": {"downstream_expert.modelrc.hidden_dim": 64},
    "st": {},
    "ood_asr": {},
    "qbe": {},
}


def _s3prl_output(task, run_dir):
    """The file of s3prl's own output the metric was read from."""
    return {
        "ood_asr": run_dir / "ood_asr_es" / "test-hyp.ark",
        "qbe": run_dir / "qbe_test_layer-1" / "benchmark.stdlist.xml",
        "st": run_dir / "st" / "output-st-test.tsv",
        "se": run_dir / "se" / "test_metrics.txt",
        "ss": run_dir / "ss" / "test_metrics.txt",
        "vc": run_dir / "vc_TEF1" / "obj.log",
    }[task]


@pytest.mark.slow  # each task: s3prl import, 2 training steps, a dev and a test pass (VC: + s3prl's evaluate.py)
# s3prl's runner and experts warn on every step (and VC's decoder on every frame); recording them all
# costs more than the tiny models do
@pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::UserWarning")
@pytest.mark.parametrize("task", TASKS)
def test_task_runs_end_to_end_on_the_demo(task, demo, tmp_path, one_thread):
    run_dir = tmp_path / task
    metrics = run_task(task, "spear_tiny", demo, run_dir, demo=True, overrides=SMALL[task])
    assert metrics and all(math.isfinite(v) for k, v in metrics.items() if k not in ("f0rmse", "f0corr"))
    assert _s3prl_output(task, run_dir).is_file()
    if task in ("se", "ss"):
        written = dict(line.split() for line in _s3prl_output(task, run_dir).read_text().splitlines())
        assert metrics["si_sdri"] == pytest.approx(float(written["si_sdr"]))
        assert metrics["pesq"] == pytest.approx(float(written["pesq"]))
        assert metrics["stoi"] == pytest.approx(100 * float(written["stoi"]))
    if task == "vc":
        assert metrics["stand_in_vocoder"] == 1.0 and metrics["stand_in_asr"] == 1.0
        assert metrics["mcd"] > 0 and 0 <= metrics["asv"] <= 100
        mean = _s3prl_output(task, run_dir).read_text().splitlines()[-1]
        assert mean.startswith("Mean MCD") and f"{metrics['mcd']:.2f}" in mean
    if task == "st":
        assert 0 <= metrics["bleu"] <= 100
    if task == "qbe":
        assert 0 <= metrics["mtwv"] <= 1 and metrics["layer"] == -1
    if task == "ood_asr":
        assert metrics["wer"] == metrics["wer_es"] and metrics["wer"] >= 0
    same = json.dumps(metrics, sort_keys=True)  # NaN-aware: VC's F0 scores are NaN when no frame is voiced
    assert json.dumps(json.loads((run_dir / f"{task}.json").read_text())["metrics"], sort_keys=True) == same
    # resume: the scored units are read back; s3prl is not run again (its outputs stay as they were)
    stamp = _s3prl_output(task, run_dir).stat().st_mtime_ns
    assert (
        json.dumps(run_task(task, "spear_tiny", demo, run_dir, demo=True, overrides=SMALL[task]), sort_keys=True)
        == same
    )
    assert _s3prl_output(task, run_dir).stat().st_mtime_ns == stamp
