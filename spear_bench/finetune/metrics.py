"""Fine-tuning metrics: word error rate (jiwer) and AudioSet mAP (sklearn).

WER is corpus-level: (substitutions + deletions + insertions) / reference words, summed
over all utterances (not a mean of per-utterance rates), as LibriSpeech results are
reported. mAP is the macro average over classes of sklearn's ``average_precision_score``;
a class without a positive clip in the evaluated set has no defined AP and is left out
of the average (the number of classes used is returned with it).
"""

from __future__ import annotations

from dataclasses import dataclass

import jiwer
import numpy as np

from spear_bench.finetune.tokenizer import normalize_transcript


@dataclass(frozen=True)
class WerStats:
    substitutions: int
    deletions: int
    insertions: int
    reference_words: int

    @property
    def errors(self) -> int:
        return self.substitutions + self.deletions + self.insertions

    @property
    def wer(self) -> float:
        """Word error rate in percent."""
        return 100.0 * self.errors / max(1, self.reference_words)


def word_errors(references: list[str], hypotheses: list[str]) -> WerStats:
    """Corpus-level word errors after LibriSpeech normalisation (upper case, letters, apostrophes)."""
    if len(references) != len(hypotheses):
        raise ValueError(f"{len(references)} references but {len(hypotheses)} hypotheses")
    refs = [normalize_transcript(r) for r in references]
    hyps = [normalize_transcript(h) for h in hypotheses]
    subs = dels = ins = words = 0
    for ref, hyp in zip(refs, hyps):
        if not ref:  # jiwer rejects empty references: every hypothesis word is an insertion
            ins += len(hyp.split())
            continue
        out = jiwer.process_words(ref, hyp)
        subs, dels, ins = subs + out.substitutions, dels + out.deletions, ins + out.insertions
        words += len(ref.split())
    return WerStats(subs, dels, ins, words)


def word_error_rate(references: list[str], hypotheses: list[str]) -> float:
    """WER in percent (see :func:`word_errors`)."""
    return word_errors(references, hypotheses).wer


@dataclass(frozen=True)
class MapResult:
    mAP: float  # macro mean of per-class AP, as a fraction in [0, 1]
    num_classes_scored: int
    per_class_ap: np.ndarray  # NaN for classes without positives


def mean_average_precision(labels: np.ndarray, scores: np.ndarray) -> MapResult:
    """Macro mAP over classes with at least one positive. labels (N, C) in {0, 1}, scores (N, C)."""
    from sklearn.metrics import average_precision_score  # heavy (~2 s): only mAP needs it

    labels = np.asarray(labels)
    scores = np.asarray(scores, dtype=np.float64)
    if labels.shape != scores.shape or labels.ndim != 2:
        raise ValueError(f"labels {labels.shape} and scores {scores.shape} must be the same (N, C) shape")
    per_class = np.full(labels.shape[1], np.nan)
    for c in np.flatnonzero(labels.sum(axis=0) > 0):
        per_class[c] = average_precision_score(labels[:, c] > 0, scores[:, c])
    scored = ~np.isnan(per_class)
    if not scored.any():
        raise ValueError("mAP: no class has a positive example")
    return MapResult(float(per_class[scored].mean()), int(scored.sum()), per_class)


def chance_mean_average_precision(labels: np.ndarray, seed: int = 0, draws: int = 20) -> float:
    """mAP of uniformly random scores on the same labels, averaged over ``draws`` draws (the chance level)."""
    rng = np.random.default_rng(seed)
    return float(np.mean([mean_average_precision(labels, rng.random(labels.shape)).mAP for _ in range(draws)]))
