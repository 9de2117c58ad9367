"""Tiny demo corpora for the six legacy-runner SUPERB tasks, in the layouts s3prl's experts read.

Generated on the machine (espeak-ng voices as speakers, synthetic noise), deterministic, a few
seconds of audio per file and a handful of files per split. Each maker writes, under its folder,
the corpus as distributed (where s3prl reads it directly) and the files s3prl's own preparation
scripts would derive from it (kaldi ``wav.scp`` folders, prepared ``.tsv`` lists, SentencePiece
models), so that the experts' dataset classes read them unchanged:

================  ==========================================================================
QbE  (QUESST14)   ``quesst14Database/{Audio,dev_queries,eval_queries}/*.wav`` (8 kHz) and
                  ``scoring/language_key_{utterances,dev,eval}.lst`` +
                  ``scoring/groundtruth_quesst14_{dev,eval}/quesst14{.ecf.xml,_<split>.rttm,_<split>.tlist.xml}``
ST   (CoVoST2)    ``cv-corpus/en/clips/*.wav``, ``covost_tsv/covost_v2.en_de.<split>.tsv`` and the
                  prepared ``covost_en_de/{<split>.tsv,spm-{src,tgt}_text.{model,vocab,txt},config.yaml}``
SE   (VB-DEMAND)  ``noisy-vctk-16k/{clean,noisy}_{trainset_28spk,testset}_wav_16k/*.wav`` + texts,
                  and ``voicebank/wav16k/{train,dev,test}/{clean,noisy}/wav.scp``
SS   (Libri2Mix)  ``Libri2Mix/wav16k/min/{train-100,dev,test}/{mix_clean,s1,s2}/*.wav`` + metadata,
                  and ``Libri2Mix_prepared/wav16k/min/{train-100,dev_1000,test}/{mix_clean,s1,s2}/wav.scp``
VC   (VCC2020)    ``vcc2020/{SEF1,SEF2,SEM1,SEM2,TEF1,TEF2,TEM1,TEM2}/E*.wav`` (24 kHz, targets with
                  the eval sentences' ground truth), ``vcc2020/prompts/Eng_transcriptions.txt`` and
                  ``lists/{E_train_list,E_dev_list,eval_list}.txt``
OOD-ASR           Common Voice es: ``cv-corpus-7.0/es/clips/*.wav`` + prepared
                  ``common_voice/es/{train,dev,test}.tsv, train.txt`` + ``cv_vocab/es_char.txt``;
                  SBCSAE: ``SBCSAE/wav/*.wav`` + ``sbcsae/{train,dev,test}.tsv`` + ``cv_vocab/en_char.txt``
================  ==========================================================================

Deviations from the real corpora, all for size or because nothing can be downloaded: audio is
WAV where Common Voice ships MP3 (s3prl's preparation converts to WAV anyway for OOD-ASR); the
OOD-ASR vocabulary files list the demo texts' characters, not s3prl's ``cv_vocab`` files; the
kaldi folders hold absolute paths, as s3prl's preparation scripts write them.
"""

from __future__ import annotations

import json
import random
import shutil
import time
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import torch
import yaml

from spear_bench.audio import SAMPLE_RATE
from spear_bench.audio.io import resample
from spear_bench.audio.synth import SENTENCES, VOICES, Speaker, Utterance, noise, write_wav
from spear_bench.errors import DatasetError

GENERATOR_VERSION = "superb-legacy-demo-v2"
STAMP = f".complete-{GENERATOR_VERSION}"


def _rms(wave: torch.Tensor) -> float:
    return float(wave.pow(2).mean().sqrt().clamp_min(1e-8))


def _scale_to(wave: torch.Tensor, rms: float) -> torch.Tensor:
    return wave * (rms / _rms(wave))


def _atomic_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    tmp.replace(path)


def _write_scp(folder: Path, entries: list[tuple[str, Path]]) -> None:
    _atomic_text(folder / "wav.scp", "".join(f"{utt} {path.resolve()}\n" for utt, path in sorted(entries)))


def _write_tsv(path: Path, header: list[str], rows: list[list]) -> None:
    """Tab-separated, no quoting (as s3prl's preparation scripts write with csv.QUOTE_NONE)."""
    lines = ["\t".join(header)] + ["\t".join(str(v) for v in row) for row in rows]
    _atomic_text(path, "\n".join(lines) + "\n")


# --- QbE: QUESST 2014 ------------------------------------------------------------------------------

QBE_DOC_VOICES = (VOICES[0], VOICES[2])
QBE_QUERIES = {"dev": ("cat", "bird", "market"), "eval": ("car", "book", "window")}
QBE_QUERY_VOICE = VOICES[5]
QUESST_RATE = 8000  # QUESST 2014's audio is 8 kHz; s3prl's dataset resamples it with sox


def _qbe_utterances() -> list[Utterance]:
    docs = [Utterance(s, v) for v in QBE_DOC_VOICES for s in SENTENCES]
    queries = [Utterance(w, QBE_QUERY_VOICE, speed=140) for ws in QBE_QUERIES.values() for w in ws]
    return docs + queries + [Utterance("mirëmëngjes shqipëri", "sq")]


def make_quesst14(root: Path, speaker: Speaker) -> Path:
    """``root/quesst14Database``: 12 English documents (+1 Albanian), 3 dev and 3 eval queries, each
    query occurring in 2 documents."""
    base = root / "quesst14Database"
    speaker.say_all(_qbe_utterances())
    docs, lst = [], []
    for i, (voice, sentence) in enumerate(((v, s) for v in QBE_DOC_VOICES for s in SENTENCES), start=1):
        name = f"quesst14_{i:05d}"
        write_wav(
            base / "Audio" / f"{name}.wav",
            resample(speaker(Utterance(sentence, voice)), SAMPLE_RATE, QUESST_RATE),
            QUESST_RATE,
        )
        docs.append((name, sentence))
        lst.append(f"quesst14Database/Audio/{name}.wav nnenglish")
    other = f"quesst14_{len(docs) + 1:05d}"  # a non-English document: s3prl's dataset skips it, the ECF keeps it
    albanian = resample(speaker(Utterance("mirëmëngjes shqipëri", "sq")), SAMPLE_RATE, QUESST_RATE)
    write_wav(base / "Audio" / f"{other}.wav", albanian, QUESST_RATE)
    lst.append(f"quesst14Database/Audio/{other}.wav albanian")
    all_docs = [name for name, _ in docs] + [other]
    _atomic_text(base / "scoring" / "language_key_utterances.lst", "\n".join(lst) + "\n")
    for split, words in QBE_QUERIES.items():
        lines, rttm, terms = [], [], []
        for j, word in enumerate(words, start=1):
            query = f"quesst14_{split}_{j:04d}"
            wave = resample(speaker(Utterance(word, QBE_QUERY_VOICE, speed=140)), SAMPLE_RATE, QUESST_RATE)
            write_wav(base / f"{split}_queries" / f"{query}.wav", wave, QUESST_RATE)
            lines.append(f"quesst14Database/{split}_queries/{query}.wav nnenglish")
            terms.append(query)
            rttm += [f"LEXEME {doc} 1 0.00 1.00 {query} lex <NA> <NA>" for doc, text in docs if word in text.split()]
        _atomic_text(base / "scoring" / f"language_key_{split}.lst", "\n".join(lines) + "\n")
        truth = base / "scoring" / f"groundtruth_quesst14_{split}"
        _atomic_text(truth / f"quesst14_{split}.rttm", "\n".join(rttm) + "\n")
        ecf = ElementTree.Element("ecf", source_signal_duration=str(len(all_docs)), language="multiple", version="1")
        for doc in all_docs:
            ElementTree.SubElement(ecf, "excerpt", audio_filename=f"Audio/{doc}.wav", channel="1", tbeg="0.000")
        _atomic_text(truth / "quesst14.ecf.xml", ElementTree.tostring(ecf, encoding="unicode") + "\n")
        tlist = ElementTree.Element("termlist", ecf_filename="quesst14.ecf.xml", language="multiple", version="1")
        for query in terms:
            ElementTree.SubElement(ElementTree.SubElement(tlist, "term", termid=query), "termtext").text = query
        _atomic_text(truth / f"quesst14_{split}.tlist.xml", ElementTree.tostring(tlist, encoding="unicode") + "\n")
    return base


# --- ST: CoVoST2 en->de ----------------------------------------------------------------------------

# Made-up German translations of demo_data.SENTENCES (the demo needs a target side, not a good one).
TRANSLATIONS = (
    "Die Katze saß auf der Matte.",
    "Ein Vogel kann über den Hügel fliegen.",
    "Wir gingen heute auf den Markt.",
    "Das rote Auto ist sehr schnell.",
    "Sie liest nachts ein Buch.",
    "Öffne bitte das Fenster.",
)
ST_VOICES = {"train": VOICES[:3], "dev": VOICES[6:7], "test": VOICES[8:9]}


def _st_utterances() -> list[Utterance]:
    return [Utterance(s, v) for vs in ST_VOICES.values() for v in vs for s in SENTENCES]


def _sentencepiece_char_model(texts: list[str], prefix: Path) -> None:
    """s3prl's prepare_gen_fairseq_vocab.py: a char SentencePiece model with fairseq's special ids
    (bos 0, pad 1, eos 2, unk 3) and ``<prefix>.txt`` listing the other pieces as ``piece 1``."""
    import sentencepiece  # heavy optional dependency of the ST recipe only

    text_file = prefix.with_suffix(".input.txt")
    text_file.write_text("\n".join(texts) + "\n")
    sentencepiece.SentencePieceTrainer.train(
        input=str(text_file),
        model_prefix=str(prefix),
        vocab_size=1000,  # s3prl's default; a char model keeps only the characters it sees
        model_type="char",
        character_coverage=1.0,
        hard_vocab_limit=False,
        unk_id=3,
        bos_id=0,
        eos_id=2,
        pad_id=1,
        minloglevel=2,
    )
    text_file.unlink()
    model = sentencepiece.SentencePieceProcessor(model_file=f"{prefix}.model")
    pieces = [model.IdToPiece(i) for i in range(model.GetPieceSize())]
    special = {"<unk>", "<s>", "</s>", "<pad>"}
    _atomic_text(prefix.with_suffix(".txt"), "".join(f"{p} 1\n" for p in pieces if p not in special))


def make_covost2(root: Path, speaker: Speaker) -> Path:
    """``root/covost2``: Common Voice en clips, CoVoST2 en->de tsv files, and s3prl's prepared
    ``covost_en_de`` folder (what prepare_covo.sh writes)."""
    base = root / "covost2"
    speaker.say_all(_st_utterances())
    clips = base / "cv-corpus" / "en" / "clips"
    prepared = base / "covost_en_de"
    for split, voices in ST_VOICES.items():
        raw, rows = [], []
        for voice in voices:
            for sentence, translation in zip(SENTENCES, TRANSLATIONS):
                clip = f"common_voice_en_{VOICES.index(voice):02d}{SENTENCES.index(sentence):03d}.wav"
                wave = speaker(Utterance(sentence, voice))
                write_wav(clips / clip, wave)
                source = sentence.capitalize() + "."
                raw.append([clip, source, translation, f"client{VOICES.index(voice):02d}"])
                rows.append([clip.split(".")[0], clip, wave.numel(), SAMPLE_RATE, source, translation])
        _write_tsv(
            base / "covost_tsv" / f"covost_v2.en_de.{split}.tsv", ["path", "sentence", "translation", "client_id"], raw
        )
        rows.sort(key=lambda r: r[2])  # prepare_data.py sorts by n_frames
        _write_tsv(prepared / f"{split}.tsv", ["id", "audio", "n_frames", "sr", "src_text", "tgt_text"], rows)
    sources = [s.capitalize() + "." for s in SENTENCES]
    _sentencepiece_char_model(sources, prepared / "spm-src_text")
    _sentencepiece_char_model(list(TRANSLATIONS), prepared / "spm-tgt_text")
    config = {
        "bpe_tokenizer": {
            "bpe": "sentencepiece",
            "sentencepiece_model": str((prepared / "spm-tgt_text.model").resolve()),
        },
        "vocab_filename": "spm-tgt_text.txt",
        "audio_root": str(clips.resolve()),
        "use_audio_input": True,
    }
    _atomic_text(prepared / "config.yaml", yaml.safe_dump(config))
    return base


# --- SE: VoiceBank-DEMAND ------------------------------------------------------------------------

SE_SPEAKERS = {"p226": VOICES[0], "p287": VOICES[1], "p227": VOICES[2], "p228": VOICES[3]}  # train (p226, p287: dev)
SE_TEST_SPEAKERS = {"p232": VOICES[8], "p257": VOICES[9]}
SE_DEV_SPEAKERS = ("p226", "p287")  # SpeechBrain's voicebank_prepare: the first 2 of TRAIN_SPEAKERS are valid
SE_TRAIN_SNRS, SE_TEST_SNRS = (15.0, 10.0, 5.0, 0.0), (17.5, 12.5, 7.5, 2.5)  # VoiceBank-DEMAND's SNRs (dB)
SE_SENTENCES = SENTENCES[:3]


def _se_utterances() -> list[Utterance]:
    return [Utterance(s, v) for v in {**SE_SPEAKERS, **SE_TEST_SPEAKERS}.values() for s in SE_SENTENCES]


def _noisy(clean: torch.Tensor, snr_db: float, seed: int) -> torch.Tensor:
    colour = ("white", "pink", "brown")[seed % 3]
    n = noise(clean.numel() / SAMPLE_RATE, seed, amplitude=1.0, color=colour)[: clean.numel()]
    return clean + _scale_to(n, _rms(clean) / 10 ** (snr_db / 20))


def make_voicebank(root: Path, speaker: Speaker) -> Path:
    """``root/voicebank_demand``: the 16 kHz VoiceBank-DEMAND folders (clean/noisy pairs, synthetic
    noise at the corpus' SNRs) and s3prl's kaldi folders ``voicebank/wav16k/{train,dev,test}``."""
    base = root / "voicebank_demand"
    corpus = base / "noisy-vctk-16k"
    speaker.say_all(_se_utterances())
    scp: dict[str, dict[str, list]] = {p: {"clean": [], "noisy": []} for p in ("train", "dev", "test")}
    for test, speakers in ((False, SE_SPEAKERS), (True, SE_TEST_SPEAKERS)):
        tag = "testset" if test else "trainset_28spk"
        snrs = SE_TEST_SNRS if test else SE_TRAIN_SNRS
        for s_i, (spk, voice) in enumerate(speakers.items()):
            for u_i, sentence in enumerate(SE_SENTENCES, start=1):
                utt = f"{spk}_{u_i:03d}"
                clean = _scale_to(speaker(Utterance(sentence, voice)), 0.05)
                noisy = _noisy(clean, snrs[(s_i + u_i) % len(snrs)], seed=1000 * s_i + u_i + (500 if test else 0))
                peak = float(noisy.abs().max())
                if peak > 0.99:  # keep both in range with the same gain, so the pair stays aligned
                    clean, noisy = clean * 0.99 / peak, noisy * 0.99 / peak
                clean_path = write_wav(corpus / f"clean_{tag}_wav_16k" / f"{utt}.wav", clean)
                noisy_path = write_wav(corpus / f"noisy_{tag}_wav_16k" / f"{utt}.wav", noisy)
                _atomic_text(corpus / ("testset_txt" if test else "trainset_28spk_txt") / f"{utt}.txt", sentence + "\n")
                part = "test" if test else ("dev" if spk in SE_DEV_SPEAKERS else "train")
                scp[part]["clean"].append((utt, clean_path))
                scp[part]["noisy"].append((utt, noisy_path))
    for part, conds in scp.items():
        for cond, entries in conds.items():
            _write_scp(base / "voicebank" / "wav16k" / part / cond, entries)
    return base


# --- SS: Libri2Mix (16 kHz, min, mix_clean) ------------------------------------------------------

SS_PLAN = {"train-100": (VOICES[:4], 4), "dev": (VOICES[6:8], 2), "test": (VOICES[8:10], 2)}  # voices, mixtures


def _ss_jobs() -> list[tuple[str, str, str, str, str, int]]:
    """(split, voice1, text1, voice2, text2, index) for every mixture (fixed seed)."""
    rng = random.Random(2468)
    jobs = []
    for split, (voices, count) in SS_PLAN.items():
        for i in range(count):
            v1, v2 = rng.sample(list(voices), 2)
            t1, t2 = rng.sample(list(SENTENCES), 2)
            jobs.append((split, v1, t1, v2, t2, i))
    return jobs


def make_libri2mix(root: Path, speaker: Speaker) -> Path:
    """``root/libri2mix``: Libri2Mix 16 kHz ``min`` mixtures of two espeak-ng speakers
    (``mix_clean``, ``s1``, ``s2`` + metadata csv) and s3prl's kaldi folders (``train-100``,
    ``dev_1000``, ``test``) as its data_prepare.py + subsample.py write them."""
    base = root / "libri2mix"
    corpus = base / "Libri2Mix" / "wav16k" / "min"
    jobs = _ss_jobs()
    speaker.say_all([Utterance(t, v) for _, v1, t1, v2, t2, _ in jobs for v, t in ((v1, t1), (v2, t2))])
    rng = random.Random(1357)
    scp: dict[str, dict[str, list]] = {}
    meta: dict[str, list] = {}
    for split, v1, t1, v2, t2, i in jobs:
        ids = [f"{100 + VOICES.index(v)}-{1000 + SENTENCES.index(t)}-{i:04d}" for v, t in ((v1, t1), (v2, t2))]
        mix_id = "_".join(ids)
        s1, s2 = speaker(Utterance(t1, v1)), speaker(Utterance(t2, v2))
        n = min(s1.numel(), s2.numel())  # "min" mode: the mixture stops with the shorter source
        s1, s2 = _scale_to(s1[:n], rng.uniform(0.02, 0.06)), _scale_to(s2[:n], rng.uniform(0.02, 0.06))
        mix = s1 + s2
        gain = min(1.0, 0.9 / float(mix.abs().max()))
        paths = {}
        for cond, wave in (("mix_clean", mix), ("s1", s1), ("s2", s2)):
            paths[cond] = write_wav(corpus / split / cond / f"{mix_id}.wav", wave * gain)
            part = {"dev": "dev_1000"}.get(split, split)
            scp.setdefault(part, {}).setdefault(cond, []).append((mix_id, paths[cond]))
        meta.setdefault(split, []).append(
            [mix_id, paths["mix_clean"].resolve(), paths["s1"].resolve(), paths["s2"].resolve(), n]
        )
    for split, rows in meta.items():
        header = ["mixture_ID", "mixture_path", "source_1_path", "source_2_path", "length"]
        lines = [",".join(header)] + [",".join(str(v) for v in row) for row in rows]
        _atomic_text(corpus / "metadata" / f"mixture_{split}_mix_clean.csv", "\n".join(lines) + "\n")
    for part, conds in scp.items():
        for cond, entries in conds.items():
            _write_scp(base / "Libri2Mix_prepared" / "wav16k" / "min" / part / cond, entries)
    return base


# --- VC: VCC2020 task 1 (English) ------------------------------------------------------------------

VC_RATE = 24000  # VCC2020's audio is 24 kHz; the recipe's fbank_config.fs
VC_SOURCES = {"SEF1": VOICES[2], "SEF2": VOICES[4], "SEM1": VOICES[1], "SEM2": VOICES[3]}
VC_TARGETS = {"TEF1": VOICES[6], "TEF2": VOICES[9], "TEM1": VOICES[7], "TEM2": VOICES[10]}
VC_LISTS = {"train": ("E20001", "E20002", "E20003", "E20004"), "dev": ("E10051", "E10052")}
VC_EVAL = ("E30001", "E30002")


def _vc_text(number: str) -> str:
    return SENTENCES[int(number[-2:]) % len(SENTENCES)]


def _vc_utterances() -> list[Utterance]:
    numbers = VC_LISTS["train"] + VC_LISTS["dev"] + VC_EVAL
    out = [Utterance(_vc_text(n), v) for v in VC_TARGETS.values() for n in numbers]
    return out + [Utterance(_vc_text(n), v) for v in VC_SOURCES.values() for n in VC_EVAL]


def make_vcc2020(root: Path, speaker: Speaker) -> Path:
    """``root/vcc2020``: VCC2020 task-1 folders at 24 kHz (4 target speakers with train/dev
    utterances and the eval sentences' ground truth, 4 source speakers with eval utterances), the
    English prompts s3prl's ``evaluate.py`` reads (``prompts/Eng_transcriptions.txt``: ``30001 text``,
    the number without its ``E``) and s3prl's ``lists`` folder."""
    base = root / "vcc2020"
    speaker.say_all(_vc_utterances())
    for spk, voice in VC_TARGETS.items():
        for n in VC_LISTS["train"] + VC_LISTS["dev"] + VC_EVAL:
            write_wav(
                base / "vcc2020" / spk / f"{n}.wav",
                resample(speaker(Utterance(_vc_text(n), voice)), SAMPLE_RATE, VC_RATE),
                VC_RATE,
            )
    for spk, voice in VC_SOURCES.items():
        for n in VC_EVAL:
            write_wav(
                base / "vcc2020" / spk / f"{n}.wav",
                resample(speaker(Utterance(_vc_text(n), voice)), SAMPLE_RATE, VC_RATE),
                VC_RATE,
            )
    prompts = [f"{n[1:]} {_vc_text(n).capitalize()}." for n in VC_LISTS["train"] + VC_LISTS["dev"] + VC_EVAL]
    _atomic_text(base / "vcc2020" / "prompts" / "Eng_transcriptions.txt", "\n".join(prompts) + "\n")
    for split, numbers in VC_LISTS.items():
        _atomic_text(base / "lists" / f"E_{split}_list.txt", "\n".join(numbers) + "\n")
    _atomic_text(base / "lists" / "eval_list.txt", "\n".join(VC_EVAL) + "\n")
    return base


# --- OOD-ASR: Common Voice 7.0 es and SBCSAE ----------------------------------------------------

CV_ES_SENTENCES = (
    "EL GATO DUERME EN LA CASA",
    "MAÑANA VAMOS AL MERCADO",
    "LA NIÑA LEE UN LIBRO",
    "ABRE LA VENTANA POR FAVOR",
)
CV_ES_VOICES = {"train": ("es", "es-419"), "dev": ("es+f2",), "test": ("es-419+m3",)}
SBCSAE_LINES = ("YEAH I KNOW WHAT YOU MEAN", "UM WE WENT TO THE MARKET", "SO THE CAR IS RED", "RIGHT OKAY")
SBCSAE_VOICES = {"train": (VOICES[0], VOICES[2]), "dev": (VOICES[6],), "test": (VOICES[8],)}


def _ood_utterances() -> list[Utterance]:
    out = [Utterance(s.lower(), v) for vs in CV_ES_VOICES.values() for v in vs for s in CV_ES_SENTENCES]
    return out + [Utterance(s.lower(), v) for vs in SBCSAE_VOICES.values() for v in vs for s in SBCSAE_LINES]


def _char_vocab(path: Path, texts: list[str]) -> None:
    """s3prl's ctc character vocabulary: one character per line (space included)."""
    _atomic_text(path, "".join(f"{c}\n" for c in sorted(set("".join(texts)))))


def make_ood_asr(root: Path, speaker: Speaker) -> Path:
    """``root/ood_asr``: Common Voice es clips with s3prl's prepared tsv lists (``path``,
    ``sentence``: upper-cased, punctuation removed), and SBCSAE-like segments in the same format."""
    base = root / "ood_asr"
    speaker.say_all(_ood_utterances())
    for name, sentences, plan, clips, lists in (
        ("es", CV_ES_SENTENCES, CV_ES_VOICES, base / "cv-corpus-7.0" / "es" / "clips", base / "common_voice" / "es"),
        ("sbcsae", SBCSAE_LINES, SBCSAE_VOICES, base / "SBCSAE" / "wav", base / "sbcsae"),
    ):
        for split, voices in plan.items():
            rows = []
            for voice in voices:
                for i, sentence in enumerate(sentences):
                    wave = speaker(Utterance(sentence.lower(), voice))
                    clip = f"{'common_voice_es' if name == 'es' else 'sbc'}_{voice.replace('+', '_')}_{i:03d}.wav"
                    write_wav(clips / clip, wave)
                    rows.append((wave.numel(), clip, sentence))
            rows.sort(reverse=True)  # s3prl's common_voice_preprocess sorts by length, longest first
            _write_tsv(lists / f"{split}.tsv", ["path", "sentence"], [[clip, text] for _, clip, text in rows])
            if split == "train":
                _atomic_text(lists / "train.txt", "".join(f"{text}\n" for _, _, text in rows))
        _char_vocab(base / "cv_vocab" / ("es_char.txt" if name == "es" else "en_char.txt"), list(sentences))
    return base


# --- all of it ---------------------------------------------------------------------------------------

MAKERS = {
    "qbe": make_quesst14,
    "st": make_covost2,
    "se": make_voicebank,
    "ss": make_libri2mix,
    "vc": make_vcc2020,
    "ood_asr": make_ood_asr,
}


def legacy_demo_ready(root: Path) -> bool:
    return (Path(root) / STAMP).is_file()


def generate_legacy_demo(root: Path, tasks=None, force: bool = False, workers: int = 4, log=print) -> Path:
    """Generate the demo corpora of ``tasks`` (default: all six) under ``root``; reuse a complete tree.

    The kaldi folders hold absolute paths, so the corpora are written in place (not renamed from a
    temporary folder); the stamp is written last, and a tree without it is wiped and regenerated.
    """
    root = Path(root)
    tasks = list(MAKERS) if tasks is None else list(tasks)
    unknown = [t for t in tasks if t not in MAKERS]
    if unknown:
        raise DatasetError(f"no legacy SUPERB demo corpus for {unknown} (known: {', '.join(MAKERS)})")
    stamp = root / STAMP
    if stamp.is_file() and not force and set(tasks) <= set(json.loads(stamp.read_text())["tasks"]):
        log(f"legacy SUPERB demo data: reusing {root}")
        return root
    start = time.perf_counter()
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    speaker = Speaker(workers=workers)
    utterances = {
        "qbe": _qbe_utterances,
        "st": _st_utterances,
        "se": _se_utterances,
        "ss": lambda: [Utterance(t, v) for _, v1, t1, v2, t2, _ in _ss_jobs() for v, t in ((v1, t1), (v2, t2))],
        "vc": _vc_utterances,
        "ood_asr": _ood_utterances,
    }
    speaker.say_all([u for t in tasks for u in utterances[t]()])  # one parallel espeak-ng pass
    for task in tasks:
        folder = MAKERS[task](root, speaker)
        log(f"legacy SUPERB demo data: {task} -> {folder}")
    seconds = round(time.perf_counter() - start, 1)
    _atomic_text(stamp, json.dumps({"generator": GENERATOR_VERSION, "tasks": tasks, "seconds": seconds}))
    return root
