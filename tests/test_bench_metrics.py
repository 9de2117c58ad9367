"""HEAR score functions: known values, sklearn / sed_eval, and heareval 2021.1.3's own functions."""

import math

import numpy as np
import pytest

from spear_bench import hear_metrics as metrics
from spear_bench.hear_metrics import events_from_frame_predictions, get_metric


def _heareval():
    """heareval is a required test dependency (installed by scripts/bootstrap.sh from requirements-nodeps.txt)."""
    try:
        import heareval.predictions.task_predictions as predictions
        import heareval.score as score
    except ImportError as error:  # fail, never skip: the cross-check is part of the contract
        pytest.fail(
            f"heareval not importable ({error}); install: pip install --no-deps heareval==2021.1.3 "
            "pytorch-lightning==1.9.5 torchmetrics==1.4.3 lightning-utilities==0.11.9 "
            "more-itertools==11.2.1 torchinfo==1.8.0"
        )
    return score, predictions


def _random_predictions(seed, n=40, c=5, multilabel=False):
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(n, c))
    if multilabel:
        targets = (rng.random((n, c)) < 0.4).astype(np.float32)
        targets[0] = 1.0  # every class has a positive ...
        targets[1] = 0.0  # ... and a negative
        return 1 / (1 + np.exp(-logits)), targets
    targets = np.eye(c, dtype=np.float32)[np.arange(n) % c]
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    return probs, targets


def _events(seed, files=4, labels=("a", "b", "c")):
    rng = np.random.default_rng(seed)
    out = {}
    for f in range(files):
        events = []
        for _ in range(rng.integers(1, 5)):
            start = float(rng.uniform(0, 9000))
            events.append(
                {"label": str(rng.choice(labels)), "start": start, "end": start + float(rng.uniform(100, 1500))}
            )
        out[f"file{f}.wav"] = events
    return out


def test_registry_has_every_heareval_score_name():
    assert set(metrics.METRICS) == {
        "top1_acc",
        "pitch_acc",
        "chroma_acc",
        "mAP",
        "d_prime",
        "aucroc",
        "event_onset_200ms_fms",
        "event_onset_50ms_fms",
        "event_onset_offset_50ms_20perc_fms",
        "segment_1s_er",
    }
    assert not get_metric("segment_1s_er").higher_is_better and get_metric("mAP").higher_is_better


def test_top1_and_chroma_accuracy_known_values():
    targets = np.eye(24)[[0, 1, 2, 13]]
    predictions = np.eye(24)[[0, 5, 14, 1]]  # right, wrong, octave error (14 = 2 + 12), octave error
    assert get_metric("top1_acc")(predictions, targets) == pytest.approx(0.25)
    assert get_metric("pitch_acc")(predictions, targets) == pytest.approx(0.25)
    assert get_metric("chroma_acc")(predictions, targets) == pytest.approx(0.75)


def test_map_and_auc_match_sklearn_and_d_prime_formula():
    from scipy.stats import norm
    from sklearn.metrics import average_precision_score, roc_auc_score

    p, t = _random_predictions(0, multilabel=True)
    assert get_metric("mAP")(p, t) == pytest.approx(average_precision_score(t, p, average="macro"))
    assert get_metric("aucroc")(p, t) == pytest.approx(roc_auc_score(t, p, average="macro"))
    expected = np.mean(norm.ppf(roc_auc_score(t, p, average=None)) * np.sqrt(2))
    assert get_metric("d_prime")(p, t) == pytest.approx(expected)


def test_auc_metrics_are_nan_when_a_class_has_no_positive():
    p, t = _random_predictions(1, multilabel=True)
    t[:, 2] = 0
    assert math.isnan(get_metric("aucroc")(p, t)) and math.isnan(get_metric("d_prime")(p, t))


def test_event_onset_fms_known_value():
    # 2 reference events; one estimate within 200 ms of an onset, one far off: P = R = F = 0.5.
    reference = {
        "f.wav": [{"label": "a", "start": 1000.0, "end": 2000.0}, {"label": "a", "start": 5000.0, "end": 5500.0}]
    }
    estimated = {
        "f.wav": [{"label": "a", "start": 1150.0, "end": 1900.0}, {"label": "a", "start": 7000.0, "end": 7500.0}]
    }
    assert get_metric("event_onset_200ms_fms")(estimated, reference, ["a"]) == pytest.approx(0.5)
    assert get_metric("event_onset_50ms_fms")(estimated, reference, ["a"]) == pytest.approx(0.0)
    details = metrics.event_metric_details("event_onset_200ms_fms", estimated, reference, ["a"])
    assert details["precision"] == pytest.approx(0.5) and details["recall"] == pytest.approx(0.5)


def test_segment_error_rate_is_zero_for_perfect_and_positive_for_missed_events():
    reference = _events(3)
    assert get_metric("segment_1s_er")(reference, reference, ["a", "b", "c"]) == pytest.approx(0.0)
    empty = {f: [] for f in reference}
    assert get_metric("segment_1s_er")(empty, reference, ["a", "b", "c"]) == pytest.approx(1.0)


def test_events_from_frames_runs_thresholds_and_min_duration():
    timestamps = np.arange(0, 1000, 50.0)  # 20 frames, 50 ms hop
    probs = np.zeros((20, 2))
    probs[2:8, 0] = 0.9  # 100..350 ms: 250 ms long
    probs[12:13, 0] = 0.9  # a single frame: 0 ms long, dropped by min_duration
    probs[10:19, 1] = 0.6
    events = events_from_frame_predictions(probs, timestamps, ["x", "y"], median_filter_ms=0, min_duration=60)
    assert events == [{"label": "x", "start": 100.0, "end": 350.0}, {"label": "y", "start": 500.0, "end": 900.0}]


def test_label_metrics_equal_heareval_score_functions():
    score, _ = _heareval()
    for seed, multilabel in ((0, False), (1, True), (2, False)):
        p, t = _random_predictions(seed, c=24 if not multilabel else 5, n=60, multilabel=multilabel)
        label_to_idx = {str(i): i for i in range(t.shape[1])}
        for name in ("top1_acc", "pitch_acc", "chroma_acc", "mAP", "d_prime", "aucroc"):
            theirs = score.available_scores[name](label_to_idx=label_to_idx)(p, t)
            ours = get_metric(name)(p, t)
            assert ours == pytest.approx(theirs, nan_ok=True), name


def test_event_metrics_equal_heareval_score_functions():
    score, _ = _heareval()
    labels = ["a", "b", "c"]
    label_to_idx = {label: i for i, label in enumerate(labels)}
    for seed in range(3):
        reference, estimated = _events(seed), _events(seed + 100)
        estimated["file0.wav"] = reference["file0.wav"]  # some hits
        for name in (
            "event_onset_200ms_fms",
            "event_onset_50ms_fms",
            "event_onset_offset_50ms_20perc_fms",
            "segment_1s_er",
        ):
            theirs = score.available_scores[name](label_to_idx=label_to_idx)(estimated, reference)[0][1]
            assert get_metric(name)(estimated, reference, labels) == pytest.approx(theirs, nan_ok=True), name


def test_frame_postprocessing_equals_heareval():
    import torch

    _, predictions = _heareval()
    rng = np.random.default_rng(7)
    timestamps = np.arange(40) * 20.0 + 10.0
    probs = rng.random((40, 3)).astype(np.float32)
    for median_ms, min_ms in ((250, 125), (150, 50), (0, 0)):
        theirs = predictions.create_events_from_prediction(
            {float(t): torch.tensor(p) for t, p in zip(timestamps, probs)},
            {0: "a", 1: "b", 2: "c"},
            median_filter_ms=median_ms,
            min_duration=min_ms,
        )
        ours = events_from_frame_predictions(
            probs, timestamps, ["a", "b", "c"], median_filter_ms=median_ms, min_duration=min_ms
        )
        assert [(e["label"], float(e["start"]), float(e["end"])) for e in theirs] == [
            (e["label"], e["start"], e["end"]) for e in ours
        ]
