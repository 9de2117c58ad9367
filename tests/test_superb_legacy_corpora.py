"""The legacy-runner SUPERB demo corpora are read by s3prl's own downstream dataset classes.

QbE, SE, SS, VC and OOD-ASR: the classes of s3prl 0.4.18's ``s3prl.downstream`` read the
generated folders (OOD-ASR through s3prl's ``ctc/data.py`` loader, whose missing corpus module
spear_bench.compat.s3prl_legacy supplies). ST: a layout check against the format s3prl's
fairseq-based dataset reads (tests/test_superb_legacy_tasks.py runs that dataset end to end).
"""

import csv
import importlib
import shutil

import numpy as np
import pytest
import soundfile as sf

from spear_bench.compat import s3prl_legacy
from spear_bench.errors import DatasetError
from spear_bench.superb.mtwv import read_groundtruth
from spear_bench.superb_legacy.demo_corpora import (
    CV_ES_SENTENCES,
    SE_TEST_SNRS,
    SE_TRAIN_SNRS,
    STAMP,
    generate_legacy_demo,
)

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")

VC_FBANK = dict(fs=24000, n_mels=80, n_fft=1024, n_shift=256, win_length=None, window="hann", fmin=80, fmax=7600)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    s3prl_legacy.apply()
    return generate_legacy_demo(tmp_path_factory.mktemp("legacy") / "demo", log=lambda _: None)


def _s3prl(module):
    return importlib.import_module(f"s3prl.downstream.{module}")


def test_qbe_quesst14_dataset_reads_queries_and_english_documents(demo):
    root = demo / "quesst14Database"
    dataset_module = _s3prl("quesst14_dtw.dataset")
    for split in ("dev", "eval"):
        dataset = dataset_module.QUESST14Dataset(split, dataset_root=str(root))
        assert (dataset.n_queries, dataset.n_docs) == (3, 12)  # the Albanian document is not English
        wav, name = dataset[0]
        assert name == f"quesst14_{split}_0001"
        frames_8k = sf.info(str(root / f"{split}_queries" / f"{name}.wav")).frames
        assert wav.dtype == np.float32 and abs(len(wav) - 2 * frames_8k) <= 2  # sox resampled 8 -> 16 kHz
        assert dataset[len(dataset) - 1][1] == "quesst14_00012"
        documents, targets = read_groundtruth(root / "scoring" / f"groundtruth_quesst14_{split}")
        assert len(documents) == 13 and sorted(len(t) for t in targets.values()) == [2, 2, 2]


def test_se_voicebank_read_by_enhancement_dataset(demo):
    dataset_module = _s3prl("enhancement_stft.dataset")
    sizes = {}
    for part in ("train", "dev", "test"):
        folder = demo / "voicebank_demand" / "voicebank" / "wav16k" / part
        dataset = dataset_module.SeparationDataset(str(folder), src=["noisy"], tgt=["clean"], hop_length=320)
        sizes[part] = len(dataset)
        reco, noisy, noisy_stft, (clean,), _ = dataset[0]
        assert noisy.shape == clean.shape and noisy_stft.shape[1] == 257
        snr = 10 * np.log10(np.sum(clean**2) / np.sum((noisy - clean) ** 2))
        snrs = SE_TEST_SNRS if part == "test" else SE_TRAIN_SNRS
        assert min(abs(snr - s) for s in snrs) < 0.5, (reco, snr)
        batch = dataset.collate_fn([dataset[0], dataset[1]])
        assert batch[3].shape[0] == 2 and len(batch[1]) == 2  # padded noisy waveforms, utterance names
    assert sizes == {"train": 6, "dev": 6, "test": 6}


def test_ss_libri2mix_read_by_separation_dataset(demo):
    dataset_module = _s3prl("separation_stft.dataset")
    prepared = demo / "libri2mix" / "Libri2Mix_prepared" / "wav16k" / "min"
    sizes = {}
    for part in ("train-100", "dev_1000", "test"):
        dataset = dataset_module.SeparationDataset(str(prepared / part), src=["mix_clean"], tgt=["s1", "s2"])
        sizes[part] = len(dataset)
        _, mix, _, (s1, s2), _ = dataset[0]
        assert np.abs(mix - (s1 + s2)).max() < 2e-4  # the mixture is the sum of its sources (16-bit rounding)
        assert np.abs(s1).max() > 0.01 and np.abs(s2).max() > 0.01
    assert sizes == {"train-100": 4, "dev_1000": 2, "test": 2}
    metadata = demo / "libri2mix" / "Libri2Mix" / "wav16k" / "min" / "metadata" / "mixture_train-100_mix_clean.csv"
    assert len(metadata.read_text().splitlines()) == 5


def test_vc_vcc2020_read_by_vcc2020_dataset(demo):
    dataset_module = _s3prl("a2o-vc-vcc2020.dataset")
    kwargs = dict(data_root=str(demo / "vcc2020" / "vcc2020"), lists_root=str(demo / "vcc2020" / "lists"))
    sizes = {}
    for split in ("train", "dev", "test"):
        dataset = dataset_module.VCC2020Dataset(split, "TEF1", fbank_config=VC_FBANK, **kwargs)
        sizes[split] = len(dataset)
        wav_16k, wav_24k, logmel, path = dataset[0]
        assert logmel.shape[1] == 80 and abs(len(wav_24k) / len(wav_16k) - 1.5) < 0.01
        assert ("/SE" if split == "test" else "/TEF1/") in path
    assert sizes == {"train": 4, "dev": 2, "test": 8}  # test: 2 eval sentences x 4 source speakers


@pytest.mark.parametrize(
    "name,clips,lists,vocab",
    [
        ("common_voice", "cv-corpus-7.0/es/clips", "common_voice/es", "es_char.txt"),
        ("sbcsae", "SBCSAE/wav", "sbcsae", "en_char.txt"),
    ],
)
def test_ood_asr_read_by_s3prl_ctc_loader(demo, name, clips, lists, vocab):
    data, text = _s3prl("ctc.data"), _s3prl("ctc.text")
    tokenizer = text.load_text_encoder("character", str(demo / "ood_asr" / "cv_vocab" / vocab))
    base = demo / "ood_asr"
    corpus = dict(name=name, path=str(base / clips), bucketing=True, batch_size=4, num_workers=0)
    corpus.update({split: [str(base / lists / f"{split}.tsv")] for split in ("train", "dev", "test")})
    wavs, labels, files = next(iter(data.load_dataset("train", tokenizer, corpus)))
    assert corpus["num_workers"] == 0  # shim ctc_load_dataset_keeps_num_workers: s3prl popped it
    assert len(wavs) == 4 and len(files) == 4
    assert all(len(a) >= len(b) for a, b in zip(wavs, wavs[1:]))  # longest first, as s3prl sorts
    decoded = tokenizer.decode(list(labels[0]))
    assert "<unk>" not in decoded and decoded.strip()
    if name == "common_voice":
        assert decoded in CV_ES_SENTENCES
    wavs, labels, files = next(iter(data.load_dataset("test", tokenizer, corpus)))
    assert len(wavs) == 1  # s3prl evaluates one utterance at a time


def test_st_covost2_layout(demo):
    """The files s3prl's S3prl_SpeechToTextTask reads (its run: tests/test_superb_legacy_tasks.py):
    <split>.tsv (csv.QUOTE_NONE, columns id, audio, n_frames, sr, src_text, tgt_text), the fairseq
    data config.yaml, spm-*.model and spm-*.txt."""
    import sentencepiece
    import yaml

    try:
        importlib.import_module("fairseq")
        reason = None
    except ImportError as err:
        reason = f"fairseq not importable ({err}); layout check only"
    print(f"ST (speech_translation): {reason or 'fairseq present'}")
    prepared = demo / "covost2" / "covost_en_de"
    config = yaml.safe_load((prepared / "config.yaml").read_text())
    assert config["use_audio_input"] is True and config["vocab_filename"] == "spm-tgt_text.txt"
    spm = sentencepiece.SentencePieceProcessor(model_file=config["bpe_tokenizer"]["sentencepiece_model"])
    dictionary = {line.split()[0] for line in (prepared / "spm-tgt_text.txt").read_text().splitlines()}
    for split, expected in (("train", 18), ("dev", 6), ("test", 6)):
        with open(prepared / f"{split}.tsv") as handle:
            rows = list(csv.DictReader(handle, delimiter="\t", quotechar=None, quoting=csv.QUOTE_NONE))
        assert len(rows) == expected
        assert list(rows[0]) == ["id", "audio", "n_frames", "sr", "src_text", "tgt_text"]
        assert [int(r["n_frames"]) for r in rows] == sorted(int(r["n_frames"]) for r in rows)
        for row in rows:
            assert sf.info(f"{config['audio_root']}/{row['audio']}").frames == int(row["n_frames"])
            pieces = spm.encode(row["tgt_text"], out_type=str)
            assert spm.unk_id() not in spm.encode(row["tgt_text"]) and set(pieces) <= dictionary
    for side in ("src_text", "tgt_text"):
        assert (prepared / f"spm-{side}.model").is_file() and (prepared / f"spm-{side}.txt").is_file()


def test_generation_reuses_a_complete_tree_and_rejects_unknown_tasks(demo, tmp_path):
    messages = []
    generate_legacy_demo(demo, tasks=["qbe"], log=messages.append)
    assert (demo / STAMP).is_file() and messages == [f"legacy SUPERB demo data: reusing {demo}"]
    with pytest.raises(DatasetError, match="no legacy SUPERB demo corpus for \\['asr'\\]"):
        generate_legacy_demo(tmp_path / "x", tasks=["asr"])


def test_generation_is_deterministic(demo, tmp_path):
    again = generate_legacy_demo(tmp_path / "again", tasks=["vc"], log=lambda _: None)
    for rel in ("vcc2020/vcc2020/TEF1/E20001.wav", "vcc2020/lists/E_train_list.txt"):
        assert (again / rel).read_bytes() == (demo / rel).read_bytes()
