"""WER (corpus-level, via jiwer) and AudioSet mAP (macro AP over classes with positives)."""

import jiwer
import numpy as np
import pytest
from sklearn.metrics import average_precision_score

import spear_bench  # noqa: F401
from spear_bench.finetune.metrics import (
    chance_mean_average_precision,
    mean_average_precision,
    word_error_rate,
    word_errors,
)


def test_wer_is_corpus_level_not_a_mean_of_utterance_rates():
    refs = ["the cat sat", "a dog ran in the park today"]
    hyps = ["the cat", "a dog ran in the park today"]
    # 1 deletion over 10 reference words; the mean of per-utterance rates would be 16.7 %.
    assert word_error_rate(refs, hyps) == pytest.approx(10.0)
    assert word_error_rate(refs, hyps) == pytest.approx(100 * jiwer.wer(refs, hyps))


def test_wer_counts_substitutions_deletions_insertions():
    stats = word_errors(["A B C D"], ["A X C D E"])
    assert (stats.substitutions, stats.deletions, stats.insertions, stats.reference_words) == (1, 0, 1, 4)


def test_wer_normalises_case_and_punctuation_like_librispeech():
    assert word_error_rate(["IT'S A TEST"], ["it's a test."]) == 0.0


def test_wer_can_exceed_100_percent_and_handles_empty_hypotheses():
    assert word_error_rate(["A B"], ["C D E F"]) == pytest.approx(200.0)
    assert word_error_rate(["A B"], [""]) == pytest.approx(100.0)


def test_map_is_the_macro_mean_of_sklearn_average_precision():
    rng = np.random.default_rng(0)
    labels = (rng.random((40, 5)) < 0.3).astype(int)
    labels[0] = 1  # every class has a positive
    scores = rng.random((40, 5))
    expected = np.mean([average_precision_score(labels[:, c], scores[:, c]) for c in range(5)])
    result = mean_average_precision(labels, scores)
    assert result.mAP == pytest.approx(expected)
    assert result.num_classes_scored == 5


def test_map_excludes_classes_without_positives():
    labels = np.array([[1, 0, 0], [0, 1, 0], [1, 1, 0]])
    scores = np.array([[0.9, 0.1, 0.5], [0.2, 0.8, 0.5], [0.7, 0.6, 0.5]])
    result = mean_average_precision(labels, scores)
    assert result.num_classes_scored == 2 and np.isnan(result.per_class_ap[2])
    assert result.mAP == pytest.approx(1.0)


def test_perfect_scores_give_map_one_and_chance_is_near_label_prevalence():
    rng = np.random.default_rng(1)
    labels = (rng.random((400, 4)) < np.array([0.1, 0.2, 0.4, 0.6])).astype(int)
    assert mean_average_precision(labels, labels + 0.0).mAP == pytest.approx(1.0)
    chance = chance_mean_average_precision(labels, draws=10)
    assert chance == pytest.approx(labels.mean(axis=0).mean(), abs=0.05)
