"""Where each corpus a suite reads is published: what `spear-bench data check` prints beside a missing piece.

HEAR: every task folder is one archive of the HEAR 2021 Zenodo mirror named on
hearbenchmark.com's tasks page (record 5887964, tasks at 48000 Hz only; other rates in
requester-pays buckets), fetched by ``spear-bench data fetch hear``. SUPERB: the corpus pages
s3prl's SUPERB documentation (s3prl/downstream/docs/superb.md) points its users to, plus the
preparation s3prl's recipes expect. The demo suites' corpora are generated on the machine.
"""

from __future__ import annotations

from spear_bench.task_registry import HearTaskSpec, SuperbTaskSpec

HEAR_ZENODO_RECORD = "5887964"  # https://zenodo.org/record/5887964, linked from hearbenchmark.com/hear-tasks.html
HEAR_TASKS_PAGE = "https://hearbenchmark.com/hear-tasks.html"
DEMO_SOURCE = (
    "generated on this machine: spear-bench demo, or spear-bench run --suite demo|demo_superb without --data-root"
)

# SUPERB corpus folder (layout root, last part) -> where it is published and what to prepare.
SUPERB_SOURCES: dict[str, str] = {
    "LibriSpeech": "https://www.openslr.org/12 (train-clean-100, dev-clean, test-clean); "
    "lexicon https://www.openslr.org/resources/11/librispeech-lexicon.txt",
    "ood_asr": "Common Voice 7.0 https://commonvoice.mozilla.org/datasets (ar, es, zh-CN) and SBCSAE "
    "https://www.linguistics.ucsb.edu/research/santa-barbara-corpus, prepared by s3prl downstream/ctc's scripts",
    "speech_commands": "http://download.tensorflow.org/data/speech_commands_v0.01.tar.gz and "
    "http://download.tensorflow.org/data/speech_commands_test_set_v0.01.tar.gz",
    "quesst14Database": "QUESST 2014 https://speech.fit.vutbr.cz/software/quesst-2014-multilingual-query-by-example-speech-search",
    "covost2": "CoVoST 2 https://github.com/facebookresearch/covost (Common Voice 4 en clips), "
    "prepared by s3prl downstream/speech_translation/prepare_data/prepare_covo.sh",
    "fluent_speech_commands_dataset": "Fluent Speech Commands "
    "https://fluent.ai/fluent-speech-commands-a-dataset-for-spoken-language-understanding-research/",
    "SNIPS": "Audio SNIPS, the link in s3prl's SUPERB docs (downstream/docs/superb.md, SF: 'Audio SNIPS')",
    "VoxCeleb1": "https://www.robots.ox.ac.uk/~vgg/data/voxceleb/vox1.html (dev + test wav); "
    "iden_split.txt https://www.robots.ox.ac.uk/~vgg/data/voxceleb/meta/iden_split.txt; "
    "voxceleb1_test_v2.txt = https://www.robots.ox.ac.uk/~vgg/data/voxceleb/meta/veri_test2.txt",
    "LibriMix": "https://github.com/JorisCos/LibriMix (Libri2Mix), kaldi dirs by s3prl downstream/diarization's "
    "data preparation",
    "IEMOCAP_full_release": "IEMOCAP https://sail.usc.edu/iemocap/ (release form); "
    "folds https://huggingface.co/datasets/s3prl/iemocap_split",
    "voicebank_demand": "VoiceBank-DEMAND https://datashare.ed.ac.uk/handle/10283/2791, resampled to 16 kHz and "
    "listed by s3prl downstream/enhancement_stft/scripts/Voicebank/data_prepare.sh",
    "libri2mix": "https://github.com/JorisCos/LibriMix (Libri2Mix wav16k min), listed by "
    "s3prl downstream/separation_stft/scripts/LibriMix/data_prepare.sh",
    "vcc2020": "https://github.com/nii-yamagishilab/VCC2020-database (task 1), "
    "lists by s3prl downstream/a2o-vc-vcc2020",
}


def hear_archive_name(spec: HearTaskSpec, rate: int = 48000) -> str:
    """The task's archive in the HEAR Zenodo record: hear2021-<folder>-<rate>.tar.gz."""
    return f"hear2021-{spec.folder}-{rate}.tar.gz"


def hear_source(spec: HearTaskSpec, demo: bool = False) -> str:
    if demo:
        return DEMO_SOURCE
    return (
        f"spear-bench data fetch hear --tasks {spec.name} (Zenodo record {HEAR_ZENODO_RECORD}: "
        f"{hear_archive_name(spec)}; {HEAR_TASKS_PAGE})"
    )


def superb_source(spec: SuperbTaskSpec, demo: bool = False) -> str:
    if demo:
        return DEMO_SOURCE
    return SUPERB_SOURCES.get(spec.layout.root.rsplit("/", 1)[-1], f"see docs/superb.md ({spec.layout.description})")
