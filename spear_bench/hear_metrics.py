"""HEAR score functions, one registry (name -> :class:`Metric`) like heareval's ``available_scores``.

Label metrics take ``predictions`` (N, C) class probabilities and ``targets`` (N, C) one-hot
(multiclass) or multi-hot (multilabel) arrays. Event metrics take dicts ``file -> [{"label",
"start", "end"}]`` (milliseconds) and are computed with ``sed_eval`` exactly as heareval
2021.1.3 does (one ``evaluate`` call per file of the predictions, overall scores). Values
are fractions in [0, 1] (heareval's units), except ``d_prime``.

:func:`events_from_frame_predictions` turns frame-level probabilities into events the way
heareval's ``create_events_from_prediction`` does (median filter, 0.5 threshold, runs of
active frames, minimum duration).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import numpy as np

from spear_bench.errors import ConfigError

Events = Mapping[str, Sequence[Mapping[str, object]]]


@dataclass(frozen=True)
class Metric:
    name: str
    kind: str  # "label": (N, C) arrays | "event": file -> events
    higher_is_better: bool
    compute: Callable[..., float]  # (predictions, targets, labels) -> float
    unit: str = "fraction"  # heareval's scores are fractions in [0, 1]; d' has no unit ("")

    def __call__(self, predictions, targets, labels: Sequence[str] = ()) -> float:
        return float(self.compute(predictions, targets, labels))


def _check_2d(predictions: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    predictions, targets = np.asarray(predictions), np.asarray(targets)
    if predictions.ndim != 2 or targets.shape != predictions.shape:
        raise ConfigError(
            "label metrics need (N, C) predictions and targets of the same shape, "
            f"got {predictions.shape} and {targets.shape}"
        )
    return predictions, targets


def top1_accuracy(predictions, targets, labels=()) -> float:
    predictions, targets = _check_2d(predictions, targets)
    return float(np.mean(predictions.argmax(1) == targets.argmax(1)))


def chroma_accuracy(predictions, targets, labels=()) -> float:
    """Top-1 accuracy ignoring octave errors (class index modulo 12, as heareval)."""
    predictions, targets = _check_2d(predictions, targets)
    return float(np.mean(predictions.argmax(1) % 12 == targets.argmax(1) % 12))


def mean_average_precision(predictions, targets, labels=()) -> float:
    """Macro-averaged average precision (every class weighs the same)."""
    from sklearn.metrics import average_precision_score

    predictions, targets = _check_2d(predictions, targets)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # classes without positives: sklearn warns, heareval keeps its value
        return float(average_precision_score(targets, predictions, average="macro"))


def d_prime(predictions, targets, labels=()) -> float:
    """Mean over classes of sqrt(2) * Phi^-1(AUC); NaN when some class has one target value only."""
    from scipy import stats
    from sklearn.metrics import roc_auc_score

    predictions, targets = _check_2d(predictions, targets)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            auc = roc_auc_score(targets, predictions, average=None)
    except ValueError:
        return math.nan
    return float(np.mean(stats.norm().ppf(auc) * np.sqrt(2.0)))


def roc_auc(predictions, targets, labels=()) -> float:
    """Macro-averaged ROC AUC; NaN when some class has one target value only."""
    from sklearn.metrics import roc_auc_score

    predictions, targets = _check_2d(predictions, targets)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return float(roc_auc_score(targets, predictions, average="macro"))
    except ValueError:
        return math.nan


def _event_container(events: Events):
    from dcase_util.containers import MetaDataContainer

    rows = []
    for filename, file_events in events.items():
        for event in file_events:
            rows.append(
                {
                    "event_label": str(event["label"]),
                    "event_onset": float(event["start"]) / 1000.0,  # ms -> s for sed_eval
                    "event_offset": float(event["end"]) / 1000.0,
                    "file": filename,
                }
            )
    return MetaDataContainer(rows)


def sed_eval_scores(
    kind: str, predictions: Events, targets: Events, labels: Sequence[str], **params
) -> dict[str, float]:
    """sed_eval's overall scores (f_measure, precision, recall, error_rate, ...) for ``kind`` event|segment."""
    import sed_eval

    metric_class = {
        "event": sed_eval.sound_event.EventBasedMetrics,
        "segment": sed_eval.sound_event.SegmentBasedMetrics,
    }[kind]
    reference, estimated = _event_container(targets), _event_container(predictions)
    scores = metric_class(event_label_list=[str(label) for label in labels], **params)
    # As heareval: one evaluate() per file that has predictions (every test file does).
    for filename in predictions:
        scores.evaluate(
            reference_event_list=reference.filter(filename=filename),
            estimated_event_list=estimated.filter(filename=filename),
        )
    overall: dict[str, float] = {}
    for group in scores.results_overall_metrics().values():
        overall.update(group)
    return {k: float(v) for k, v in overall.items() if isinstance(v, (int, float))}


def _event_metric(kind: str, score: str, **params) -> Callable[..., float]:
    def compute(predictions: Events, targets: Events, labels: Sequence[str] = ()) -> float:
        return sed_eval_scores(kind, predictions, targets, labels, **params)[score]

    compute.params = dict(params)  # type: ignore[attr-defined]
    compute.kind = kind  # type: ignore[attr-defined]
    return compute


METRICS: dict[str, Metric] = {}


def register(metric: Metric) -> Metric:
    if metric.name in METRICS:
        raise ConfigError(f"metric {metric.name!r} registered twice")
    METRICS[metric.name] = metric
    return metric


for _metric in (
    Metric("top1_acc", "label", True, top1_accuracy),
    Metric("pitch_acc", "label", True, top1_accuracy),
    Metric("chroma_acc", "label", True, chroma_accuracy),
    Metric("mAP", "label", True, mean_average_precision),
    Metric("d_prime", "label", True, d_prime, unit=""),
    Metric("aucroc", "label", True, roc_auc),
    Metric(
        "event_onset_200ms_fms",
        "event",
        True,
        _event_metric("event", "f_measure", evaluate_onset=True, evaluate_offset=False, t_collar=0.2),
    ),
    Metric(
        "event_onset_50ms_fms",
        "event",
        True,
        _event_metric("event", "f_measure", evaluate_onset=True, evaluate_offset=False, t_collar=0.05),
    ),
    Metric(
        "event_onset_offset_50ms_20perc_fms",
        "event",
        True,
        _event_metric(
            "event", "f_measure", evaluate_onset=True, evaluate_offset=True, t_collar=0.05, percentage_of_length=0.2
        ),
    ),
    Metric("segment_1s_er", "event", False, _event_metric("segment", "error_rate", time_resolution=1.0)),
):
    register(_metric)


def get_metric(name: str) -> Metric:
    if name not in METRICS:
        raise ConfigError(f"unknown metric {name!r}; known: {', '.join(METRICS)}")
    return METRICS[name]


def event_metric_details(name: str, predictions: Events, targets: Events, labels: Sequence[str]) -> dict[str, float]:
    """All sed_eval overall scores behind event metric ``name`` (precision, recall, ...)."""
    compute = get_metric(name).compute
    return sed_eval_scores(compute.kind, predictions, targets, labels, **compute.params)  # type: ignore[attr-defined]


# --- frame predictions -> events (heareval's post-processing) ---------------------------------


def events_from_frame_predictions(
    probabilities: np.ndarray,
    timestamps: np.ndarray,
    labels: Sequence[str],
    median_filter_ms: float = 150.0,
    min_duration: float = 60.0,
    threshold: float = 0.5,
) -> list[dict]:
    """Events of one file from frame probabilities (T, C) at ``timestamps`` (T,) in ms.

    As heareval: median filter over ``round(median_filter_ms / mean hop)`` frames (scipy,
    reflect mode), probability > ``threshold`` is active, each run of active frames is one
    event from its first to its last timestamp, kept if at least ``min_duration`` ms long.
    """
    from scipy.ndimage import median_filter

    order = np.argsort(timestamps, kind="stable")
    timestamps = np.asarray(timestamps, dtype=np.float64)[order]
    probabilities = np.asarray(probabilities)[order]
    if median_filter_ms and len(timestamps) > 1:
        width = int(round(median_filter_ms / np.mean(np.diff(timestamps))))
        if width:
            probabilities = median_filter(probabilities, size=(width, 1))
    active = probabilities > threshold
    events = []
    padded = np.zeros((active.shape[0] + 2, active.shape[1]), dtype=np.int8)
    padded[1:-1] = active
    change = np.diff(padded, axis=0)
    for c in range(active.shape[1]):
        starts = np.flatnonzero(change[:, c] == 1)
        ends = np.flatnonzero(change[:, c] == -1) - 1
        for s, e in zip(starts, ends):
            start, end = timestamps[s], timestamps[e]
            if end - start >= min_duration:
                events.append({"label": labels[c], "start": float(start), "end": float(end)})
    events.sort(key=lambda event: event["start"])  # stable: ties keep label order, as heareval
    return events
