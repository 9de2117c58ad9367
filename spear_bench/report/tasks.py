"""What the report knows about benchmark tasks and metrics: one registry per benchmark.

Each :class:`TaskSpec` names a task as the paper abbreviates it (``PR``, ``ESC``,
``LS-100``) and lists its metrics (:class:`MetricSpec`, with direction and the decimals
the paper prints), plus the regular expressions that recognise the names the runners
write into the results store (``esc50-v2.0.0-full``, ``speaker_identification``...).
Names are matched after :func:`normalise_name` (lower case, runs of non-alphanumerics
turned into ``_``).

Units: the report shows every metric in the paper's units (percent for accuracies, error
rates, mAP, F-measures, STOI). Measured values are expected in those units, except the
metrics listed in :data:`FRACTION_METRICS` (the names heareval and most toolkits use for
scores in [0, 1]): a value of such a metric that is <= 1 is taken as a fraction and
multiplied by 100.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

# Metric names (normalised) whose values toolkits report as fractions in [0, 1].
FRACTION_METRICS = frozenset(
    {"top1_acc", "pitch_acc", "chroma_acc", "map", "event_onset_200ms_fms", "event_onset_50ms_fms",
     "segment_1s_f1", "aucroc"}
)


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
    patterns: tuple[str, ...] = ()  # regexes over normalised store task names
    splits: tuple[str, ...] = ("",)  # "" = one test split; else the named test splits shown

    def matches(self, task: str) -> bool:
        name = normalise_name(task)
        if name == normalise_name(self.key):
            return True
        return any(re.fullmatch(pattern, name) for pattern in self.patterns)

    def metric(self, metric: str) -> MetricSpec | None:
        return next((m for m in self.metrics if m.matches(metric)), None)


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

    def find_task(self, store_task: str) -> TaskSpec | None:
        return next((spec for spec in self.tasks if spec.matches(store_task)), None)

    def columns(self) -> list[Column]:
        out = []
        for spec in self.tasks:
            for metric in spec.metrics:
                for split in spec.splits:
                    parts = [spec.key] + ([split] if split else []) + ([metric.key] if len(spec.metrics) > 1 or self.name != "hear" else [])
                    out.append(Column(spec.key, metric.key, split, metric.higher_is_better, metric.decimals, " ".join(parts), spec.group))
        return out


def _m(key: str, up: bool, decimals: int = 2, *aliases: str) -> MetricSpec:
    return MetricSpec(key, up, decimals, tuple(aliases))


ACC = ("acc", "accuracy", "test_acc", "top1_acc")
WER = ("wer", "word_error_rate")

SUPERB = Benchmark(
    "superb",
    ("superb",),
    [
        TaskSpec("PR", "Phoneme recognition", "Understanding", (_m("PER", False, 2, "per", "phone_error_rate"),), (r"(superb_)?(pr|phone(me)?_recognition)",)),
        TaskSpec("ASR", "Speech recognition", "Understanding", (_m("WER", False, 2, *WER),), (r"(superb_)?(asr|speech_recognition)",)),
        TaskSpec("OOD-ASR", "Out-of-domain ASR", "Understanding", (_m("WER", False, 2, *WER, "cer"),), (r"(superb_)?(ood_asr|asr_ood)",)),
        TaskSpec("KS", "Keyword spotting", "Understanding", (_m("Acc", True, 2, *ACC),), (r"(superb_)?(ks|kws|keyword_spotting)",)),
        TaskSpec("QbE", "Query by example", "Understanding", (_m("MTWV", True, 4, "mtwv"),), (r"(superb_)?(qbe|query_by_example)",)),
        TaskSpec("ST", "Speech translation", "Understanding", (_m("BLEU", True, 2, "bleu"),), (r"(superb_)?(st|speech_translation)",)),
        TaskSpec("IC", "Intent classification", "Understanding", (_m("Acc", True, 2, *ACC),), (r"(superb_)?(ic|intent_classification|fluent_commands)",)),
        TaskSpec("SF", "Slot filling", "Understanding", (_m("F1", True, 2, "f1", "slot_f1", "slot_type_f1"), _m("CER", False, 2, "cer", "slot_cer", "slot_value_cer")), (r"(superb_)?(sf|slot_filling)",)),
        TaskSpec("SID", "Speaker identification", "Paralinguistics", (_m("Acc", True, 2, *ACC),), (r"(superb_)?(sid|speaker_id(entification)?)",)),
        TaskSpec("SV", "Speaker verification", "Paralinguistics", (_m("EER", False, 2, "eer"),), (r"(superb_)?(sv|asv|speaker_verification)",)),
        TaskSpec("SD", "Speaker diarisation", "Paralinguistics", (_m("DER", False, 2, "der"),), (r"(superb_)?(sd|(speaker_)?diari[sz]ation)",)),
        TaskSpec("ER", "Emotion recognition", "Paralinguistics", (_m("Acc", True, 2, *ACC),), (r"(superb_)?(er|emotion(_recognition)?)",)),
        TaskSpec("SE", "Speech enhancement", "Enhancement", (_m("PESQ", True, 2, "pesq"), _m("STOI", True, 1, "stoi")), (r"(superb_)?(se|speech_enhancement|enhancement)",)),
        TaskSpec("SS", "Speech separation", "Enhancement", (_m("SI-SDRi", True, 2, "si_sdri", "sisdri", "si_sdr_improvement"),), (r"(superb_)?(ss|speech_separation|separation)",)),
        TaskSpec("VC", "Voice conversion", "Generation", (_m("MCD", False, 2, "mcd"), _m("WER", False, 1, *WER), _m("ASV", True, 2, "asv", "sv", "asv_accept")), (r"(superb_)?(vc|voice_conversion)",)),
    ],
)

HEAR_TASK_PATTERNS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    # key: (title, primary metric, patterns over normalised heareval task names)
    "BJ": ("Beijing Opera Percussion", "Acc", (r"beijing_opera.*",)),
    "CD": ("CREMA-D", "Acc", (r"(tfds_)?crema_d.*",)),
    "D16": ("DCASE 2016 Task 2", "Onset-FMS", (r"dcase_?2016.*",)),
    "ESC": ("ESC-50", "Acc", (r"esc_?50.*",)),
    "FSD": ("FSD50K", "mAP", (r"fsd50k.*",)),
    "GZ-Gen": ("GTZAN Genre", "Acc", (r"(tfds_)?gtzan(_genre)?(_v?\d.*|_full)?",)),
    "GZ-MS": ("GTZAN Music Speech", "Acc", (r"(tfds_)?gtzan_music_speech.*",)),
    "Gun": ("Gunshot Triangulation", "Acc", (r"gunshot.*",)),
    "LC": ("LibriCount", "Acc", (r"libricount.*",)),
    "MST": ("MAESTRO 5h", "Onset-FMS", (r"maestro.*",)),
    "Mri-S": ("Mridangam Stroke", "Acc", (r"mrid[a-z]*_stroke.*",)),
    "Mri-T": ("Mridangam Tonic", "Acc", (r"mrid[a-z]*_tonic.*",)),
    "NS-50": ("NSynth Pitch 50h", "Pitch-Acc", (r"nsynth(_pitch)?.*_50h.*",)),
    "NS-5": ("NSynth Pitch 5h", "Pitch-Acc", (r"nsynth(_pitch)?.*_5h.*",)),
    "SC-5": ("Speech Commands 5h", "Acc", (r"speech_commands.*_5h.*",)),
    "SC-F": ("Speech Commands full", "Acc", (r"speech_commands.*_full.*",)),
    "VI": ("Vocal Imitations", "mAP", (r"vocal_imitations?.*",)),
    "VL": ("VoxLingua107 top 10", "Acc", (r"vox_?lingua.*",)),
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
    """The HEAR benchmark with task groups as Table 15 gives them (``task -> group``)."""
    tasks = []
    for key, (title, metric, patterns) in HEAR_TASK_PATTERNS.items():
        tasks.append(TaskSpec(key, title, groups.get(key, ""), (HEAR_METRICS[metric],), patterns))
    return Benchmark("hear", ("hear",), tasks)


FINETUNE = Benchmark(
    "finetune",
    ("finetune",),
    [
        TaskSpec("LS-100", "LibriSpeech 100 h (RNN-T)", "ASR", (_m("WER", False, 1, *WER),),
                 (r"(asr_)?(ls_?100h?|librispeech_?100h?|train_clean_100)",), ("test-clean", "test-other")),
        TaskSpec("LS-960", "LibriSpeech 960 h (RNN-T)", "ASR", (_m("WER", False, 1, *WER),),
                 (r"(asr_)?(ls_?960h?|librispeech_?960h?)",), ("test-clean", "test-other")),
        TaskSpec("AS-20k", "AudioSet balanced", "AT", (_m("mAP", True, 1, "map", "m_ap"),),
                 (r"(at_)?(as_?20k|audioset_?20k|audioset_balanced)",)),
        TaskSpec("AS-2M", "AudioSet full", "AT", (_m("mAP", True, 1, "map", "m_ap"),),
                 (r"(at_)?(as_?2m|audioset_?2m|audioset_full)",)),
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


def to_paper_units(metric: str, value: float) -> float:
    """A measured value in the paper's units (see the module docstring)."""
    if normalise_name(metric) in FRACTION_METRICS and abs(value) <= 1.0:
        return value * 100.0
    return value
