"""Named shims for s3prl 0.4.18's legacy downstream experts on this stack.

On top of :func:`spear_bench.compat.s3prl.apply_s3prl_compat` (torchaudio backends, sox effects,
torch.load, huggingface_hub), which :func:`apply` calls first. Nothing in site-packages is edited.

Shims (name: what breaks -> what the shim does):

- ``ctc_corpus_common_voice``: the wheel ships ``s3prl/downstream/ctc/{data,expert,text}.py`` but
  not the ``ctc/corpus/`` package they import (``from .corpus.common_voice import
  CommonVoiceDataset`` for the ``common_voice`` and ``sbcsae`` corpora), so OOD-ASR cannot build a
  dataset -> registers ``s3prl.downstream.ctc.corpus.common_voice`` with a ``CommonVoiceDataset``
  that reads the prepared tsv lists as s3prl's does (header skipped, column 0 = clip path under
  ``path``, column 1 = transcript encoded by the tokenizer, buckets of ``bucket_size`` consecutive
  rows in training). A wheel that ships the module keeps its own.
- ``ctc_load_dataset_keeps_num_workers``: ``ctc/data.py``'s ``load_dataset`` pops ``num_workers``
  out of the expert's own corpus config, so every loader after the first (dev, test) falls back
  to 12 workers whatever the config says (on a 2-core machine each evaluation spends seconds
  starting them) -> ``load_dataset`` gets a copy of the corpus config: every split uses the
  configured ``num_workers``.
- ``vc_transformers_wav2vec2_tokenizer``: VC's ``vc_evaluate.py`` imports
  ``transformers.Wav2Vec2Tokenizer`` (raw audio in: normalised, padded, attention mask; CTC text
  out), which transformers 5 removed -> the same two halves from transformers 5's
  ``Wav2Vec2FeatureExtractor`` and ``Wav2Vec2CTCTokenizer`` under that name (only when missing).
- ``vc_jiwer_v2_measures``: ``vc_evaluate.calculate_measures`` calls jiwer 2's
  ``jiwer.cer(..., return_dict=True)`` and ``jiwer.compute_measures``, both gone in jiwer 4 ->
  ``vc_evaluate``'s own ``jiwer`` name gets those two (from jiwer 4's ``process_characters`` /
  ``process_words``: the same hit, substitution, deletion and insertion counts) beside jiwer's
  transforms; the ``jiwer`` module itself is not changed.
- ``vc_asv_threshold_task1``: ``vc_evaluate.calculate_threshold`` tests ``if task == "task1"``
  then ``if task == "task2" ... else: raise NotImplementedError``, so task 1 always raises, and
  it calls ``find_files``, whose import is commented out -> the same computation (embeddings
  of every ``E3*`` file of the 8 speakers, same-speaker pairs positive, others negative, EER and
  its threshold from ``calculate_equal_error_rate``) with ``elif`` and s3prl's ``utils.find_files``.
- ``vc_mcd_unvoiced_f0``: ``calculate_mcd_f0`` catches ``ValueError`` when an utterance has no
  voiced frame ("Skip f0rmse f0corr computation and set them to NaN"), but fastdtw 0.3.4 raises
  ``IndexError`` on an empty sequence, which kills evaluate.py's MCD worker process and silently
  drops every utterance that worker held -> ``vc_evaluate``'s ``fastdtw`` raises ``ValueError`` for an
  empty sequence (s3prl's NaN path), and :mod:`.vc_eval` checks that every utterance was scored.
- ``vc_asr_model``: not a breakage but the option: ``load_asr_model`` reads
  ``facebook/wav2vec2-large-960h-lv60-self`` from the hub, which this machine cannot reach ->
  it loads a local copy (a path), or, in a demo, a randomly initialised ``Wav2Vec2ForCTC`` of that
  model's published architecture (optionally fewer of its 24 transformer layers) with its
  32-symbol character vocabulary (flagged as a stand-in).

Not shimmed but installed (pinned in pyproject.toml / constraints.txt; the --no-deps ones in
requirements-nodeps.txt and scripts/bootstrap.sh): ``speech_translation`` imports fairseq
(fairseq-fixed 0.12.3.1, built against the venv's torch) and sacrebleu; ``quesst14_dtw``'s expert
``dtw`` (dtw-python) and ``lxml``; ``ctc``'s metric ``editdistance``; ``enhancement_stft`` /
``separation_stft`` import ``asteroid.metrics`` (pb_bss_eval, pesq, pystoi, mir_eval); VC's
evaluation imports ``pyworld``, ``pysptk``, ``fastdtw``, ``resemblyzer`` (and ``parallel_wavegan``
only with a vocoder, not installed).
"""

from __future__ import annotations

import csv
import json
import sys
import tempfile
import types
from contextlib import contextmanager
from os.path import join
from pathlib import Path

from torch.utils.data import Dataset

from spear_bench.compat.s3prl import apply_s3prl_compat

_APPLIED: list[str] = []


class CommonVoiceDataset(Dataset):
    """s3prl's ctc ``common_voice`` / ``sbcsae`` corpus: prepared tsv lists (``path``, ``sentence``).

    ``split`` is a list of tsv files; an item is ``(audio path, token ids)``, or in training
    (``bucket_size`` > 1) a list of ``bucket_size`` consecutive items, which s3prl's
    ``collect_audio_batch`` takes as one batch.
    """

    def __init__(self, split, tokenizer, bucket_size, path, ascending=False, ratio=1.0, offset=0, **kwargs):
        self.bucket_size = bucket_size
        files, texts = [], []
        for tsv in split:
            with open(tsv, newline="") as handle:
                rows = list(csv.reader(handle, delimiter="\t"))
            for row in rows[1:]:
                files.append(join(path, row[0]))
                texts.append(tokenizer.encode(row[1]))
        if ratio < 1.0:
            step = int(1.0 / ratio)
            files, texts = files[offset::step], texts[offset::step]
        self.file_list, self.text = files, texts

    def __getitem__(self, index):
        if self.bucket_size > 1:
            start = min(len(self.file_list) - self.bucket_size, index)
            stop = start + self.bucket_size
            return list(zip(self.file_list[start:stop], self.text[start:stop]))
        return self.file_list[index], self.text[index]

    def __len__(self):
        return len(self.file_list)


def _ctc_corpus_common_voice() -> None:
    import s3prl.downstream.ctc  # the wheel's package, whose corpus/ subpackage is missing

    try:
        import s3prl.downstream.ctc.corpus.common_voice  # noqa: F401

        return  # a future wheel ships it: use s3prl's own
    except ImportError:
        pass
    corpus = types.ModuleType("s3prl.downstream.ctc.corpus")
    corpus.__path__ = []  # a package, so that `from .corpus.common_voice import ...` resolves
    common_voice = types.ModuleType("s3prl.downstream.ctc.corpus.common_voice")
    common_voice.CommonVoiceDataset = CommonVoiceDataset
    corpus.common_voice = common_voice
    sys.modules[corpus.__name__] = corpus
    sys.modules[common_voice.__name__] = common_voice
    s3prl.downstream.ctc.corpus = corpus


def _ctc_load_dataset_keeps_num_workers() -> None:
    import s3prl.downstream.ctc.data as data

    original = data.load_dataset
    if getattr(original, "_spear_bench_copy_corpus", False):
        return

    def load_dataset(split, tokenizer, corpus):
        return original(split, tokenizer, dict(corpus))  # s3prl pops keys out of the dict it gets

    load_dataset._spear_bench_copy_corpus = True
    data.load_dataset = load_dataset
    expert = sys.modules.get("s3prl.downstream.ctc.expert")  # imported before the shim: it holds the old name
    if expert is not None:
        expert.load_dataset = load_dataset


# --- VC's objective evaluation (s3prl/downstream/a2o-vc-vcc2020/{evaluate,vc_evaluate,utils}.py) -------

# Top-level module names: s3prl's VC scripts import each other by these names.
VC_EXPERT_MODULES = ("utils", "vc_evaluate", "evaluate")
# wav2vec2-large-960h-lv60-self's published config.json (architecture only) and its vocab.json.
WAV2VEC2_LARGE_LV60_SELF = {
    "conv_dim": [512] * 7,
    "conv_kernel": [10, 3, 3, 3, 3, 2, 2],
    "conv_stride": [5, 2, 2, 2, 2, 2, 2],
    "conv_bias": True,
    "feat_extract_norm": "layer",
    "do_stable_layer_norm": True,
    "hidden_size": 1024,
    "intermediate_size": 4096,
    "num_hidden_layers": 24,
    "num_attention_heads": 16,
    "num_conv_pos_embeddings": 128,
    "num_conv_pos_embedding_groups": 16,
    "vocab_size": 32,
    "pad_token_id": 0,
    "bos_token_id": 1,
    "eos_token_id": 2,
}
WAV2VEC2_960H_VOCAB = ["<pad>", "<s>", "</s>", "<unk>", "|", *"ETAONIHSRDLUMWCFGYPBVK'XJQZ"]


class Wav2Vec2Tokenizer:
    """transformers < 5's ``Wav2Vec2Tokenizer``: raw 16 kHz audio in (zero-mean unit-variance,
    padded, with an attention mask), CTC ids out (``batch_decode``)."""

    def __init__(self, feature_extractor, tokenizer):
        self.feature_extractor, self.tokenizer = feature_extractor, tokenizer

    @classmethod
    def from_pretrained(cls, name, **kwargs):
        from transformers import Wav2Vec2CTCTokenizer, Wav2Vec2FeatureExtractor  # heavy; VC evaluation only

        extractor = Wav2Vec2FeatureExtractor.from_pretrained(name, **kwargs)
        return cls(extractor, Wav2Vec2CTCTokenizer.from_pretrained(name, **kwargs))

    def __call__(self, raw_speech, sampling_rate=None, return_tensors=None, padding=False, **kwargs):
        return self.feature_extractor(
            raw_speech,
            sampling_rate=sampling_rate,
            return_tensors=return_tensors,
            padding=padding,
            return_attention_mask=True,
        )

    def batch_decode(self, ids, **kwargs):
        return self.tokenizer.batch_decode(ids, **kwargs)


def _vc_transformers_wav2vec2_tokenizer() -> None:
    import transformers  # heavy; VC evaluation only

    try:
        transformers.Wav2Vec2Tokenizer  # noqa: B018 - transformers < 5 has its own
    except AttributeError:
        transformers.Wav2Vec2Tokenizer = Wav2Vec2Tokenizer


class JiwerV2:
    """The jiwer 2 calls of ``vc_evaluate.calculate_measures``, on jiwer 4; its transforms are jiwer's own."""

    def __init__(self):
        import jiwer

        self._jiwer = jiwer
        self.RemovePunctuation, self.RemoveWhiteSpace = jiwer.RemovePunctuation, jiwer.RemoveWhiteSpace
        self.RemoveMultipleSpaces, self.Strip = jiwer.RemoveMultipleSpaces, jiwer.Strip

    @staticmethod
    def _counts(output) -> dict:
        return {
            "hits": output.hits,
            "substitutions": output.substitutions,
            "deletions": output.deletions,
            "insertions": output.insertions,
        }

    def cer(self, reference, hypothesis, return_dict=False):
        output = self._jiwer.process_characters(reference, hypothesis)
        return {"cer": output.cer, **self._counts(output)} if return_dict else output.cer

    def compute_measures(self, truth, hypothesis):
        output = self._jiwer.process_words(truth, hypothesis)
        return {"wer": output.wer, "mer": output.mer, "wil": output.wil, "wip": output.wip, **self._counts(output)}


def _vc_asv_threshold_task1(vc_evaluate, utils):
    def calculate_threshold(data_root, task, device, query="E3*.wav"):
        if task == "task1":
            spks = vc_evaluate.SRCSPKS + vc_evaluate.TRGSPKS_TASK1
        elif task == "task2":
            spks = vc_evaluate.SRCSPKS + vc_evaluate.TRGSPKS_TASK2
        else:
            raise NotImplementedError(task)
        encoder = vc_evaluate.load_asv_model(device)
        embeddings = {
            spk: [vc_evaluate.get_embedding(path, encoder) for path in utils.find_files(join(data_root, spk), query)]
            for spk in spks
        }
        samples = []
        for spk in spks:
            samples += vc_evaluate.generate_sample(embeddings, spk, [spk], 1)
            samples += vc_evaluate.generate_sample(embeddings, spk, [s for s in spks if s != spk], 0)
        scores, labels = [x[0] for x in samples], [x[1] for x in samples]
        equal_error_rate, threshold = vc_evaluate.calculate_equal_error_rate(labels, scores)
        return float(equal_error_rate), float(threshold)

    return calculate_threshold


def _vc_asr_model(model_dir, stand_in_layers: int):
    def load_asr_model(device):
        import torch
        from transformers import Wav2Vec2Config, Wav2Vec2ForCTC  # heavy; VC evaluation only

        if model_dir is not None:
            print(f"[INFO]: Load the pre-trained ASR from {model_dir}.")
            model = Wav2Vec2ForCTC.from_pretrained(str(model_dir)).to(device).eval()
            return {"model": model, "tokenizer": Wav2Vec2Tokenizer.from_pretrained(str(model_dir))}
        from transformers import Wav2Vec2CTCTokenizer, Wav2Vec2FeatureExtractor

        print(
            "[INFO]: ASR stand-in: randomly initialised Wav2Vec2ForCTC "
            f"(wav2vec2-large-960h-lv60-self's architecture, {stand_in_layers} of its 24 transformer layers)"
        )
        torch.manual_seed(0)
        config = Wav2Vec2Config(**{**WAV2VEC2_LARGE_LV60_SELF, "num_hidden_layers": stand_in_layers})
        model = Wav2Vec2ForCTC(config).to(device).eval()
        with tempfile.TemporaryDirectory() as folder:
            vocab = Path(folder) / "vocab.json"
            vocab.write_text(json.dumps({token: i for i, token in enumerate(WAV2VEC2_960H_VOCAB)}))
            tokenizer = Wav2Vec2CTCTokenizer(str(vocab), word_delimiter_token="|")
        extractor = Wav2Vec2FeatureExtractor(do_normalize=True, return_attention_mask=True, sampling_rate=16000)
        return {"model": model, "tokenizer": Wav2Vec2Tokenizer(extractor, tokenizer)}

    return load_asr_model


def _vc_mcd_unvoiced_f0(fastdtw):
    def checked_fastdtw(x, y, *args, **kwargs):
        if len(x) == 0 or len(y) == 0:
            raise ValueError("fastdtw of an empty sequence (no voiced frame)")
        return fastdtw(x, y, *args, **kwargs)

    return checked_fastdtw


@contextmanager
def vc_evaluate_modules(asr_model=None, asr_stand_in_layers: int = 24):
    """s3prl's VC ``evaluate`` module, imported as its scripts expect (their folder first on
    ``sys.path``) with the ``vc_*`` shims on ``vc_evaluate``; the names are removed again afterwards."""
    import s3prl.downstream  # the wheel's folder, where a2o-vc-vcc2020/ lives

    apply()
    _vc_transformers_wav2vec2_tokenizer()
    folder = str(Path(s3prl.downstream.__file__).parent / "a2o-vc-vcc2020")
    saved = {name: sys.modules.pop(name) for name in VC_EXPERT_MODULES if name in sys.modules}
    sys.path.insert(0, folder)
    try:
        import utils
        import vc_evaluate

        vc_evaluate.jiwer = JiwerV2()  # vc_jiwer_v2_measures
        vc_evaluate.calculate_threshold = _vc_asv_threshold_task1(vc_evaluate, utils)
        vc_evaluate.load_asr_model = _vc_asr_model(asr_model, asr_stand_in_layers)
        vc_evaluate.fastdtw = _vc_mcd_unvoiced_f0(vc_evaluate.fastdtw)
        import evaluate  # its `from vc_evaluate import ...` takes the shimmed names

        yield evaluate
    finally:
        sys.path.remove(folder)
        for name in VC_EXPERT_MODULES:
            sys.modules.pop(name, None)
        sys.modules.update(saved)


def apply() -> list[str]:
    """Install the base s3prl shims and this module's (idempotent); returns the names in place."""
    names = apply_s3prl_compat()
    for name, shim in (
        ("ctc_corpus_common_voice", _ctc_corpus_common_voice),
        ("ctc_load_dataset_keeps_num_workers", _ctc_load_dataset_keeps_num_workers),
    ):
        if name not in _APPLIED:
            shim()
            _APPLIED.append(name)
    return names + list(_APPLIED)
