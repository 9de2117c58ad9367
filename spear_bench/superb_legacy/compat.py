"""Named shims for s3prl 0.4.18's legacy downstream experts on this stack.

On top of :func:`spear_bench.s3prl_compat.apply_s3prl_compat` (torchaudio backends, sox effects,
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
- ``runner_as_module``: run as ``__main__`` (``python run_downstream.py``, or ``runpy`` as
  ``spear_bench.upstreams.run_s3prl_downstream`` does), the legacy runner's own ``torch.load`` of
  its checkpoints (resume, ``-e``) is not recognised as s3prl's, so torch >= 2.6's
  ``weights_only=True`` refuses the pickled args and config -> :func:`run_downstream` imports
  ``s3prl.run_downstream`` as a module and calls its ``main()``, so its loads are s3prl's.

Not shimmed (missing packages; the import error names them): ``speech_translation`` imports
fairseq (not installed here; installing it beside torch 2.13 was not tried); ``quesst14_dtw``'s
expert imports ``dtw`` (dtw-python) and ``lxml``; ``ctc``'s metric imports ``editdistance``
(pinned on branch i15); the ``enhancement_stft`` / ``separation_stft`` experts import
``asteroid`` (PIT loss and metrics; PESQ/STOI need ``pesq``, ``pystoi``); VC's objective
evaluation imports ``parallel_wavegan``, ``pyworld``, ``pysptk``, ``fastdtw``, ``resemblyzer``.
"""

from __future__ import annotations

import csv
import sys
import types
from os.path import join

from torch.utils.data import Dataset

from spear_bench.s3prl_compat import apply_s3prl_compat
from spear_bench.upstreams import register

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


def run_downstream(argv: list[str]) -> None:
    """s3prl's legacy runner (``run_downstream.py``'s ``main``) with ``argv``, this project's
    upstreams registered and every shim applied (the ``runner_as_module`` shim: see above)."""
    register()
    apply()
    import s3prl.run_downstream as runner  # as a module, not __main__: its torch.load calls are s3prl's

    saved, sys.argv = sys.argv, ["run_downstream.py", *argv]
    try:
        runner.main()
    finally:
        sys.argv = saved
