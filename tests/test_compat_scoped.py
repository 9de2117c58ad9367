"""Patches to third-party code are scoped: after a legacy SUPERB unit in this process, nothing is left.

s3prl's legacy runner is the worst case: it runs inside every s3prl patch (torchaudio I/O and
backends, sox effects, huggingface_hub, pandas, torch.load, the ctc corpus module) and its own
``main()`` replaces ``builtins.isinstance`` (a defaultdict stopped being a dict for the rest of
the process, and every later test ran about five times slower).
"""

from __future__ import annotations

import builtins
import collections
import shutil
import sys
import timeit

import pandas
import pytest
import torch
import torchaudio

from spear_bench.demo.superb_legacy_corpora import generate_legacy_demo
from spear_bench.superb.legacy_tasks import run_task


def _observable() -> dict:
    return {
        "isinstance": builtins.isinstance,
        "defaultdict is a dict": isinstance(collections.defaultdict(), dict),
        "torch.load": torch.load,
        "torchaudio": {name: getattr(torchaudio, name, None) for name in ("load", "save", "info", "set_audio_backend")},
        "torchaudio.sox_effects": sys.modules.get("torchaudio.sox_effects"),
        "pandas.Series.iteritems": getattr(pandas.Series, "iteritems", None),
        "ctc corpus module": sys.modules.get("s3prl.downstream.ctc.corpus"),
    }


def _isinstance_seconds() -> float:
    d = collections.defaultdict(list)
    return min(timeit.repeat(lambda: isinstance(d, dict), number=100_000, repeat=5))


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")
def test_a_legacy_unit_in_this_process_leaves_nothing_behind(tmp_path):
    root = generate_legacy_demo(tmp_path / "demo", tasks=["qbe"], log=lambda _: None)
    before, seconds = _observable(), _isinstance_seconds()
    assert before["pandas.Series.iteritems"] is None and before["torchaudio"]["set_audio_backend"] is None
    metrics = run_task("qbe", "spear_tiny", root, tmp_path / "run", demo=True)
    assert 0.0 <= metrics["mtwv"] <= 1.0  # it ran: s3prl's runner, DTW and the scorer
    assert _observable() == before
    assert _isinstance_seconds() < 2 * seconds  # s3prl's isinstance wrapper is gone, not only renamed
