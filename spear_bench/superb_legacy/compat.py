"""Named shims for s3prl 0.4.18's legacy downstream experts on this stack.

On top of :func:`spear_bench.s3prl_compat.apply_s3prl_compat` (torchaudio backends, sox effects,
torch.load, huggingface_hub), which :func:`apply` calls first. Nothing in site-packages is edited.

| shim | what breaks | what the shim does |
|---|---|---|
| ``ctc_corpus_common_voice`` | the wheel ships ``s3prl/downstream/ctc/{data,expert,text}.py`` but not the ``ctc/corpus/`` package they import (``from .corpus.common_voice import CommonVoiceDataset`` for the ``common_voice`` and ``sbcsae`` corpora), so OOD-ASR cannot build a dataset | registers ``s3prl.downstream.ctc.corpus.common_voice`` with a ``CommonVoiceDataset`` that reads the prepared tsv lists the way s3prl's does (header skipped, column 0 = clip path under ``path``, column 1 = transcript encoded by the tokenizer, buckets of ``bucket_size`` consecutive rows in training) |

Not shimmed (import errors name them): ``speech_translation`` needs fairseq (not installable
beside torch 2.13); ``quesst14_dtw``'s expert needs ``dtw-python`` and ``lxml``; the SE/SS
experts' metrics need ``pesq``, ``pystoi`` and ``asteroid``; VC's evaluation needs
``parallel_wavegan``, ``pyworld``, ``pysptk``, ``fastdtw``, ``resemblyzer``.
"""

from __future__ import annotations

import csv
import sys
import types
from os.path import join

from torch.utils.data import Dataset

from spear_bench.s3prl_compat import apply_s3prl_compat

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


def apply() -> list[str]:
    """Install the base s3prl shims and this module's (idempotent); returns the names in place."""
    names = apply_s3prl_compat()
    if "ctc_corpus_common_voice" not in _APPLIED:
        _ctc_corpus_common_voice()
        _APPLIED.append("ctc_corpus_common_voice")
    return names + list(_APPLIED)
