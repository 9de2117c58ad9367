"""What the report knows about benchmark tasks and metrics: one registry per benchmark.

Each :class:`TaskSpec` names a paper column by the paper's abbreviation (``PR``, ``ESC``,
``LS-100``) and lists its metrics (:class:`MetricSpec`, with direction and the decimals
the paper prints); titles come from the task registry (``tasks/*.yaml``). A measured row
belongs to the column whose key is the row's own ``task_short`` (written from the task
registry when the row was stored); nothing is inferred from the stored task name. Metric
names are matched after :func:`normalise_name` (lower case, runs of non-alphanumerics
turned into ``_``) against the paper's header and the names the runners write.

Units: the report shows every metric in the paper's units (percent for accuracies, error
rates, mAP, F-measures, STOI). Each row says the unit of its value (``unit``): a
``fraction`` (heareval's scores) is shown in percent, anything else (``percent``, ``dB``,
no unit) as stored (:func:`display_value`). Nothing is guessed from the size of a value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field


def normalise_name(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


@dataclass(frozen=True)
class MetricSpec:
    key: str  # as the paper's header writes it: "PER", "Acc", "SI-SDRi"
    higher_is_better: bool
    decimals: int = 2
    aliases: tuple[str, ...] = ()  # normalised metric names the runners may write

    def matches(self, metric: str) -> bool:
        name = normalise_name(metric)
        return name == normalise_name(self.key) or name in self.aliases


@dataclass(frozen=True)
class TaskSpec:
    key: str  # the paper's abbreviation
    title: str
    group: str  # SUPERB category, HEAR group or fine-tuning kind
    metrics: tuple[MetricSpec, ...]
    splits: tuple[str, ...] = ("",)  # "" = one test split; else the named test splits shown

    def metric(self, metric: str, split: str = "") -> MetricSpec | None:
        """The column metric a stored metric name is; with a named ``split``, ``<name>_<split>`` too
        (fine-tuned ASR stores ``wer_test_clean`` with split ``test-clean``)."""
        found = next((m for m in self.metrics if m.matches(metric)), None)
        suffix = "_" + normalise_name(split)
        if found is None and split and normalise_name(metric).endswith(suffix):
            base = normalise_name(metric)[: -len(suffix)]
            found = next((m for m in self.metrics if m.matches(base)), None)
        return found


@dataclass(frozen=True)
class Column:
    """One column of a leaderboard: a task's metric on one split."""

    task: str
    metric: str
    split: str
    higher_is_better: bool
    decimals: int
    label: str
    group: str = ""


@dataclass
class Benchmark:
    """A named list of tasks (one registry per benchmark)."""

    name: str  # "superb" | "hear" | "finetune"
    suites: tuple[str, ...]  # store suites whose rows belong here
    tasks: list[TaskSpec] = field(default_factory=list)

    def task(self, key: str) -> TaskSpec:
        for spec in self.tasks:
            if spec.key == key:
                return spec
        raise KeyError(f"{self.name}: unknown task {key!r}")

    def find_task(self, short: str) -> TaskSpec | None:
        """The task whose key is ``short`` (a row's ``task_short``), or None."""
        return next((spec for spec in self.tasks if short and spec.key == short), None)

    def columns(self) -> list[Column]:
        out = []
        for spec in self.tasks:
            for metric in spec.metrics:
                for split in spec.splits:
                    parts = (
                        [spec.key]
                        + ([split] if split else [])
                        + ([metric.key] if len(spec.metrics) > 1 or self.name != "hear" else [])
                    )
                    out.append(
                        Column(
                            spec.key,
                            metric.key,
                            split,
                            metric.higher_is_better,
                            metric.decimals,
                            " ".join(parts),
                            spec.group,
                        )
                    )
        return out


def _m(key: str, up: bool, decimals: int = 2, *aliases: str) -> MetricSpec:
    return MetricSpec(key, up, decimals, tuple(aliases))


def _title(suite: str, short: str) -> str:
    """A task's title from the task registry (tasks/<suite>.yaml), by its short name."""
    from spear_bench.bench.tasks import load_suite

    return next(spec.title for spec in load_suite(suite).tasks if spec.short == short)


ACC = ("acc", "accuracy", "test_acc", "top1_acc")
WER = ("wer", "word_error_rate")

SUPERB = Benchmark(
    "superb",
    ("superb",),
    [
        TaskSpec("PR", _title("superb", "PR"), "Understanding", (_m("PER", False, 2, "per", "phone_error_rate"),)),
        TaskSpec("ASR", _title("superb", "ASR"), "Understanding", (_m("WER", False, 2, *WER),)),
        TaskSpec("OOD-ASR", _title("superb", "OOD-ASR"), "Understanding", (_m("WER", False, 2, *WER, "cer"),)),
        TaskSpec("KS", _title("superb", "KS"), "Understanding", (_m("Acc", True, 2, *ACC),)),
        TaskSpec("QbE", _title("superb", "QbE"), "Understanding", (_m("MTWV", True, 4, "mtwv"),)),
        TaskSpec("ST", _title("superb", "ST"), "Understanding", (_m("BLEU", True, 2, "bleu"),)),
        TaskSpec("IC", _title("superb", "IC"), "Understanding", (_m("Acc", True, 2, *ACC),)),
        TaskSpec(
            "SF",
            _title("superb", "SF"),
            "Understanding",
            (
                _m("F1", True, 2, "f1", "slot_f1", "slot_type_f1"),
                _m("CER", False, 2, "cer", "slot_cer", "slot_value_cer"),
            ),
        ),
        TaskSpec("SID", _title("superb", "SID"), "Paralinguistics", (_m("Acc", True, 2, *ACC),)),
        TaskSpec("SV", _title("superb", "SV"), "Paralinguistics", (_m("EER", False, 2, "eer"),)),
        TaskSpec("SD", _title("superb", "SD"), "Paralinguistics", (_m("DER", False, 2, "der"),)),
        TaskSpec("ER", _title("superb", "ER"), "Paralinguistics", (_m("Acc", True, 2, *ACC),)),
        TaskSpec(
            "SE", _title("superb", "SE"), "Enhancement", (_m("PESQ", True, 2, "pesq"), _m("STOI", True, 1, "stoi"))
        ),
        TaskSpec(
            "SS",
            _title("superb", "SS"),
            "Enhancement",
            (_m("SI-SDRi", True, 2, "si_sdri", "sisdri", "si_sdr_improvement"),),
        ),
        TaskSpec(
            "VC",
            _title("superb", "VC"),
            "Generation",
            (_m("MCD", False, 2, "mcd"), _m("WER", False, 1, *WER), _m("ASV", True, 2, "asv", "sv", "asv_accept")),
        ),
    ],
)

# The paper's HEAR columns, in its order; titles and the stored task behind each come from tasks/hear.yaml.
HEAR_COLUMN_ORDER = (
    "BJ",
    "CD",
    "D16",
    "ESC",
    "FSD",
    "GZ-Gen",
    "GZ-MS",
    "Gun",
    "LC",
    "MST",
    "Mri-S",
    "Mri-T",
    "NS-50",
    "NS-5",
    "SC-5",
    "SC-F",
    "VI",
    "VL",
)
# heareval's primary score of a task -> the paper's header for it.
HEAR_PRIMARY_HEADERS = {
    "top1_acc": "Acc",
    "mAP": "mAP",
    "event_onset_200ms_fms": "Onset-FMS",
    "event_onset_50ms_fms": "Onset-FMS",
    "pitch_acc": "Pitch-Acc",
}
HEAR_METRICS = {
    "Acc": _m("Acc", True, 1, *ACC),
    "mAP": _m("mAP", True, 1, "map", "m_ap"),
    # D16 scores onsets within 200 ms, MAESTRO within 50 ms (heareval's primary scores).
    "Onset-FMS": _m("Onset-FMS", True, 1, "event_onset_200ms_fms", "event_onset_50ms_fms", "onset_fms", "fms"),
    "Pitch-Acc": _m("Pitch-Acc", True, 1, "pitch_acc"),
}
# The HEAR group averages of Table 5; their members come from Table 15 (hear_task_groups.csv).
HEAR_GROUPS = ("Environment", "Speech", "Music")
HEAR_AVERAGE_KEYS = {"Environment": "HEAR-Env", "Speech": "HEAR-Speech", "Music": "HEAR-Music", "all": "HEAR-Avg"}
MEAN = "mean"  # the metric name of an average over tasks


def hear_benchmark(groups: dict[str, str]) -> Benchmark:
    """The HEAR benchmark: the tasks of tasks/hear.yaml (title, primary metric) under their short names, in the
    paper's column order, with task groups as Table 15 gives them (``task -> group``)."""
    from spear_bench.bench.tasks import load_suite

    registry = {spec.short: spec for spec in load_suite("hear").tasks}
    tasks = [
        TaskSpec(
            key, registry[key].title, groups.get(key, ""), (HEAR_METRICS[HEAR_PRIMARY_HEADERS[registry[key].metric]],)
        )
        for key in HEAR_COLUMN_ORDER
    ]
    return Benchmark("hear", ("hear",), tasks)


FINETUNE = Benchmark(
    "finetune",
    ("finetune",),
    [
        TaskSpec(
            "LS-100", _title("finetune", "LS-100"), "ASR", (_m("WER", False, 1, *WER),), ("test-clean", "test-other")
        ),
        TaskSpec(
            "LS-960", _title("finetune", "LS-960"), "ASR", (_m("WER", False, 1, *WER),), ("test-clean", "test-other")
        ),
        TaskSpec("AS-20k", _title("finetune", "AS-20k"), "AT", (_m("mAP", True, 1, "map", "m_ap"),)),
        TaskSpec("AS-2M", _title("finetune", "AS-2M"), "AT", (_m("mAP", True, 1, "map", "m_ap"),)),
    ],
)

# Split names the runners may write, mapped to the paper's.
SPLIT_ALIASES = {"test_clean": "test-clean", "clean": "test-clean", "test_other": "test-other", "other": "test-other"}
TEST_SPLITS = frozenset({"", "test", "eval", "evaluation"})


def canonical_split(split: str) -> str:
    name = normalise_name(split)
    if name in SPLIT_ALIASES:
        return SPLIT_ALIASES[name]
    return "" if name in TEST_SPLITS else name


def display_value(value: float, unit: str) -> float:
    """A stored value in the paper's units, by the unit its row gives: a fraction in percent, the rest as stored."""
    return value * 100.0 if unit == "fraction" else value
