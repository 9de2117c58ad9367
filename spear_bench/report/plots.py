"""Ablation plots (matplotlib, Agg backend; PNG and SVG) from the paper's numbers, with measured runs overlaid.

One figure per :class:`AblationSpec` (alpha, codebooks, lambda, teacher layer, model
scale, token mixing). Each panel shows one measure of one paper table against the
ablation setting; the paper's adopted setting is a dotted vertical line.

Measured runs. A run belongs to an ablation when its model name in the results store
has the form ``<model>@<knob>=<value>[,<knob>=<value>...]`` (any suite; e.g. model
``spear_tiny@codebooks=8``, suite ``pretrain``, task ``ls100_wer_proxy``). Its numbers
are drawn in orange, dashed, one series per base model (and per other knob setting), in a
panel of their own next to the paper panel of the same task and metric: measured runs are
usually at another scale (model size, steps, data) than the paper's, so they never share
the paper's y axis. Their legend carries that scale (``spear-bench ablate`` records it in
``<results>/_ablations/<model>.json``; see :meth:`spear_bench.results.store.ResultsStore.variant_scales`),
the caption lists it, and seeds (when several) are error bars (sample std, n - 1). For the
model-scale figure the released checkpoints ``spear_base|large|xlarge`` (and
``...@scale=base|large|xlarge``) are the measured points.
"""

from __future__ import annotations

import math
import re
import textwrap
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from spear_bench.report.aggregate import Measured
from spear_bench.report.columns import FINETUNE, SUPERB, display_value, hear_benchmark
from spear_bench.report.leaderboard import _match
from spear_bench.report.paper_models import PAPER_COUNTERPART

SIZES = ("base", "large", "xlarge")
_ABLATION_NAME = re.compile(r"^(?P<base>[^@]+)@(?P<knobs>[A-Za-z_]+=[^,]+(?:,[A-Za-z_]+=[^,]+)*)$")


def parse_ablation_model(name: str) -> tuple[str, dict[str, str]]:
    """'spear_tiny@codebooks=8,alpha=0.5' -> ('spear_tiny', {'codebooks': '8', 'alpha': '0.5'})."""
    match = _ABLATION_NAME.match(name)
    if not match:
        return name, {}
    knobs = dict(item.split("=", 1) for item in match.group("knobs").split(","))
    return match.group("base"), knobs


@dataclass(frozen=True)
class PanelSpec:
    """One paper panel: rows of some tables, one line per series."""

    title: str
    tables: tuple[str, ...]
    measures: tuple[tuple[str, str, str], ...]  # (task, metric, split) drawn in this panel
    ylabel: str
    series_by: str = "measure"  # "measure": a line per (task, split); "model": a line per model family
    adopted: tuple[str, ...] | None = None  # the paper's setting for this panel (None: the ablation's)


@dataclass(frozen=True)
class AblationSpec:
    knob: str  # the condition key in the reference CSVs and in measured model names
    title: str
    xlabel: str
    panels: tuple[PanelSpec, ...]
    categorical: bool = False
    order: tuple[str, ...] = ()  # category order (categorical knobs)
    adopted: tuple[str, ...] = ()  # the paper's chosen settings
    log2_x: bool = False
    note: str = ""


LS100 = (("LS-100", "WER", "test-clean"), ("LS-100", "WER", "test-other"))
HEAR_AVGS = tuple((k, "mean", "") for k in ("HEAR-Env", "HEAR-Speech", "HEAR-Music", "HEAR-Avg"))

ABLATIONS: dict[str, AblationSpec] = {
    spec.knob: spec
    for spec in [
        AblationSpec(
            "alpha",
            "Masked / unmasked loss weight \u03b1 (Fig. 3)",
            "\u03b1 (weight of the masked-frame loss)",
            (),
            adopted=("0.5",),
            note="The paper shows the \u03b1 sweep only as a figure (Fig. 3) and publishes no numbers;\n"
            "\u03b1 = 0.5 is its adopted setting (Table 9). Measured runs appear here when the store has them.",
        ),
        AblationSpec(
            "codebooks",
            "Number of MVQ codebooks N (Tables 22, 23)",
            "N codebooks",
            (
                PanelSpec("Speech: LS-100 fine-tune (T22)", ("22",), LS100, "WER % \u2193", adopted=("16",)),
                PanelSpec("Speech: SUPERB SID (T22)", ("22",), (("SID", "Acc", ""),), "Acc % \u2191", adopted=("16",)),
                PanelSpec("Speech: SUPERB ER (T22)", ("22",), (("ER", "Acc", ""),), "Acc % \u2191", adopted=("16",)),
                PanelSpec(
                    "Audio: AudioSet (T23)",
                    ("23",),
                    (("AS-20k", "mAP", "eval"), ("AS-2M", "mAP", "eval")),
                    "mAP % \u2191",
                    adopted=("8",),
                ),
                PanelSpec("Audio: HEAR averages (T23)", ("23",), HEAR_AVGS, "score \u2191", adopted=("8",)),
            ),
            adopted=("16", "8"),
            log2_x=True,
            note="dotted lines: the paper's adopted settings (N=16 for speech, N=8 for audio)",
        ),
        AblationSpec(
            "lambda",
            "Audio loss weight \u03bb in dual-domain training (Table 24)",
            "\u03bb",
            (
                PanelSpec("LS-100 fine-tune", ("24",), LS100, "WER % \u2193"),
                PanelSpec("AS-20k fine-tune", ("24",), (("AS-20k", "mAP", "eval"),), "mAP % \u2191"),
            ),
            adopted=("0.1",),
        ),
        AblationSpec(
            "teacher_layer",
            "Teacher layer for the MVQ targets (Table 19)",
            "teacher layer",
            (
                PanelSpec("WavLM Large layer: LS-100 (T19a)", ("19a",), LS100, "WER % \u2193", adopted=("21",)),
                PanelSpec(
                    "Dasheng 1.2B layer: AS-20k (T19b)",
                    ("19b",),
                    (("AS-20k", "mAP", "eval"),),
                    "mAP % \u2191",
                    adopted=("40",),
                ),
            ),
            adopted=("21", "40"),
        ),
        AblationSpec(
            "scale",
            "Model scale (Tables 3, 5, 13, 14)",
            "model size",
            (
                PanelSpec(
                    "LS-100 test-other WER (T3)", ("3",), (("LS-100", "WER", "test-other"),), "WER % \u2193", "model"
                ),
                PanelSpec("AS-20k mAP (T3)", ("3",), (("AS-20k", "mAP", "eval"),), "mAP % \u2191", "model"),
                PanelSpec("SUPERB ASR (T13)", ("13",), (("ASR", "WER", ""),), "WER % \u2193", "model"),
                PanelSpec("SUPERB SID (T14)", ("14",), (("SID", "Acc", ""),), "Acc % \u2191", "model"),
                PanelSpec("HEAR average (T5)", ("5",), (("HEAR-Avg", "mean", ""),), "score \u2191", "model"),
            ),
            categorical=True,
            order=SIZES,
        ),
        AblationSpec(
            "augmentation",
            "Token mixing vs WavLM-style denoising (Table 6)",
            "augmentation",
            (
                PanelSpec("LS-100 fine-tune", ("6",), LS100, "WER % \u2193"),
                PanelSpec("SUPERB PR", ("6",), (("PR", "PER", ""),), "PER % \u2193"),
                PanelSpec("SUPERB SD", ("6",), (("SD", "DER", ""),), "DER % \u2193"),
                PanelSpec("SUPERB SS", ("6",), (("SS", "SI-SDRi", ""),), "SI-SDRi dB \u2191"),
                PanelSpec("SUPERB SID", ("6",), (("SID", "Acc", ""),), "Acc % \u2191"),
                PanelSpec("SUPERB SE", ("6",), (("SE", "PESQ", ""),), "PESQ \u2191"),
            ),
            categorical=True,
            order=("none", "wavlm_style", "token_mixing"),
            adopted=("token_mixing",),
        ),
    ]
}

# Model families of the scale figure: (label, model id pattern, variant) in the paper's tables.
SCALE_FAMILIES = (
    ("SPEAR-s", "spear_s_{}", ""),
    ("SPEAR-a (13k h)", "spear_a_{}", "data=13k"),
    ("SPEAR-s+a", "spear_sa_{}", ""),
)
FAMILY_COLOURS = {"SPEAR-s": "#1f77b4", "SPEAR-a (13k h)": "#2ca02c", "SPEAR-s+a": "#9467bd"}


@dataclass
class Series:
    label: str
    points: dict[str, float] = field(default_factory=dict)  # x (as the knob's string value) -> y
    texts: dict[str, str] = field(default_factory=dict)  # x -> the value as the paper prints it
    errors: dict[str, float] = field(default_factory=dict)  # x -> std over seeds (measured, several seeds)


def _x_value(text: str, spec: AblationSpec) -> float:
    if spec.categorical:
        return float(spec.order.index(text)) if text in spec.order else float(len(spec.order))
    number = float(text)
    return math.log2(number) if spec.log2_x else number


def _knob_of(variant: str, knob: str) -> str | None:
    for item in variant.split(";"):
        if item.startswith(knob + "="):
            return item.split("=", 1)[1]
    return None


def reference_series(reference, spec: AblationSpec, panel: PanelSpec) -> list[Series]:
    frame = reference[reference["table"].isin(list(panel.tables))]
    out: list[Series] = []
    if panel.series_by == "model":
        measure = panel.measures[0]
        for label, pattern, variant in SCALE_FAMILIES:
            series = Series(label)
            for size in SIZES:
                cells = frame[
                    (frame["model"] == pattern.format(size))
                    & (frame["variant"] == variant)
                    & (frame["task"] == measure[0])
                    & (frame["metric"] == measure[1])
                    & (frame["split"] == measure[2])
                ]
                if len(cells):
                    series.points[size] = float(cells["value"].iloc[0])
                    series.texts[size] = cells["paper_cell"].iloc[0]
            if series.points:
                out.append(series)
        return out
    for task, metric, split in panel.measures:
        cells = frame[(frame["task"] == task) & (frame["metric"] == metric) & (frame["split"] == split)]
        label = (
            split.replace("test-", "")
            if task.startswith("LS-")
            else task.replace("HEAR-", "")
            if task.startswith("HEAR-")
            else task
        )
        series = Series(label)
        for record in cells.itertuples(index=False):
            value = _knob_of(record.variant, spec.knob)
            if value is not None:
                series.points[value] = float(record.value)
                series.texts[value] = record.paper_cell
        if series.points:
            out.append(series)
    return out


def _canonical(item: Measured) -> tuple[str, str, str]:
    """The (task, metric, split) of a measured number in the reference's terms, or its own names."""
    for benchmark in (SUPERB, hear_benchmark({}), FINETUNE):
        probe = Measured(**{**item.__dict__, "suite": benchmark.suites[0]})
        key = _match(benchmark, probe)
        if key is not None:
            return key if key[0] not in ("AS-20k", "AS-2M") else (key[0], key[1], "eval")
    return (item.task, item.metric, item.split)


def measured_series(
    measured: Iterable[Measured], spec: AblationSpec, scales: Mapping[str, str] | None = None
) -> dict[tuple[str, str, str], list[Series]]:
    """Measured runs of one ablation: measure -> series (one per base model, other knob settings and scale).

    ``scales``: model name -> the run's scale (model size, steps, data), shown in the series' label."""
    out: dict[tuple[str, str, str], dict[str, Series]] = {}
    for item in measured:
        base, knobs = parse_ablation_model(item.model)
        if spec.knob == "scale" and not knobs and item.model in PAPER_COUNTERPART:
            base, knobs = "released checkpoints", {"scale": item.model.split("_", 1)[1]}
        if spec.knob not in knobs:
            continue
        others = ",".join(f"{k}={v}" for k, v in sorted(knobs.items()) if k != spec.knob)
        scale = (scales or {}).get(item.model) or (
            "released weights" if base == "released checkpoints" else "scale not recorded"
        )
        label = f"{base} (measured{', ' + others if others else ''}): {scale}"
        series = out.setdefault(_canonical(item), {}).setdefault(label, Series(label))
        series.points[knobs[spec.knob]] = display_value(item.value, item.unit)
        if item.seeds > 1:
            series.errors[knobs[spec.knob]] = display_value(item.std, item.unit)
    return {key: list(v.values()) for key, v in out.items()}


# Figures for sweep knobs the paper draws no figure of (measured panels only).
EXTRA_ABLATIONS: dict[str, AblationSpec] = {
    spec.knob: spec
    for spec in [
        AblationSpec(
            "strategy",
            "Dual-domain strategy (Table 7)",
            "strategy",
            (),
            categorical=True,
            order=("joint", "disjoint", "asymmetrical"),
            adopted=("asymmetrical",),
        ),
        AblationSpec(
            "target",
            "Pre-training targets: MVQ vs k-means (Table 21)",
            "targets",
            (),
            categorical=True,
            order=("mvq", "kmeans"),
            adopted=("mvq",),
        ),
        AblationSpec(
            "token_mixing", "Token-mixing probability (Table 6)", "token-mixing probability", (), adopted=("0.1",)
        ),
        AblationSpec(
            "audio_codebooks",
            "Number of audio MVQ codebooks (Table 23)",
            "N audio codebooks",
            (),
            adopted=("8",),
            log2_x=True,
        ),
        AblationSpec("audio_teacher_layer", "Audio teacher layer (Table 19b)", "audio teacher layer", ()),
    ]
}


def ablation_spec(knob: str) -> AblationSpec:
    """The figure of a knob: the paper's (ABLATIONS) or a measured-only one."""
    spec = ABLATIONS.get(knob) or EXTRA_ABLATIONS.get(knob)
    if spec is None:
        raise KeyError(f"no ablation figure for knob {knob!r}")
    return spec


def _label_below(series_list: list[Series], spec: AblationSpec) -> set[tuple[int, str]]:
    """(series index, key) of value labels to put under their point: the lower of two
    series' points at the same x whose labels would overlap above them."""
    values = [(i, k, _x_value(k, spec), y) for i, s in enumerate(series_list) for k, y in s.points.items()]
    ys = [y for *_, y in values]
    span = (max(ys) - min(ys) if ys else 0.0) or 1.0
    below = set()
    for i, k, x, y in values:
        for j, _, x2, y2 in values:
            close = j != i and x2 == x and abs(y2 - y) < 0.06 * span
            if close and (y < y2 or (y == y2 and i > j)):
                below.add((i, k))
    return below


def _draw(ax, series_list: list[Series], spec: AblationSpec, measured: bool) -> None:
    palette = ["#1f77b4", "#2ca02c", "#9467bd", "#8c564b", "#17becf", "#7f7f7f"]
    below = set() if measured else _label_below(series_list, spec)
    for index, series in enumerate(series_list):
        keys = sorted(series.points, key=lambda k: _x_value(k, spec))
        xs = [_x_value(k, spec) for k in keys]
        ys = [series.points[k] for k in keys]
        if measured:
            color = ["#ff7f0e", "#d62728", "#e377c2"][index % 3]
            if series.errors:
                yerr = [series.errors.get(k, 0.0) for k in keys]
                ax.errorbar(xs, ys, yerr=yerr, linestyle="--", marker="x", capsize=3, color=color, label=series.label)
            else:
                ax.plot(xs, ys, linestyle="--", marker="x", color=color, label=series.label)
            for x, y in zip(xs, ys):
                ax.annotate(
                    f"{y:.3g}",
                    (x, y),
                    textcoords="offset points",
                    xytext=(0, 5),
                    ha="center",
                    va="bottom",
                    fontsize=7,
                    color=color,
                )
            continue
        color = FAMILY_COLOURS.get(series.label, palette[index % len(palette)])
        # Categories are not ordered quantities: markers only, nudged apart per series.
        categorical = spec.categorical and spec.knob != "scale"
        if categorical:
            xs = [x + 0.12 * (index - (len(series_list) - 1) / 2) for x in xs]
        ax.plot(xs, ys, marker="o", color=color, label=series.label, linestyle="none" if categorical else "-")
        for key, x, y in zip(keys, xs, ys):
            under = (index, key) in below
            ax.annotate(
                series.texts.get(key, f"{y:g}"),
                (x, y),
                textcoords="offset points",
                xytext=(0, -6 if under else 5),
                ha="center",
                va="top" if under else "bottom",
                fontsize=7,
            )
    ax.margins(x=0.08, y=0.18)


def _format_x(ax, spec: AblationSpec, panel: PanelSpec, values: set[str]) -> None:
    if spec.categorical:
        ax.set_xticks(range(len(spec.order)))
        ax.set_xticklabels([v.replace("_", " ") for v in spec.order], fontsize=8)
        ax.set_xlim(-0.6, len(spec.order) - 0.4)
    else:
        xs = sorted(values, key=float)
        if xs:
            ax.set_xticks([_x_value(v, spec) for v in xs])
            ax.set_xticklabels(xs, fontsize=8)
    adopted = panel.adopted if panel.adopted is not None else spec.adopted if len(spec.adopted) == 1 else ()
    for value in adopted:
        if value in values:
            ax.axvline(_x_value(value, spec), color="grey", linestyle=":", linewidth=1)


def _caption(spec: AblationSpec, series: list[Series]) -> str:
    """The figure's note plus what the measured series are (their scales), one line each."""
    lines = [spec.note] if spec.note else []
    scales = sorted({s.label.split("): ", 1)[-1] for s in series})
    if scales:
        lines.append(
            "Measured (orange, own panels and axes; paper numbers are at full scale): " + "; ".join(scales) + "."
        )
        if any("demo scale" in text for text in scales):
            lines.append(
                "Demo-scale runs show that the sweep runs end to end; they do not reproduce the paper's effect."
            )
    return "\n".join(lines)


def pyplot():
    """matplotlib's pyplot on the Agg backend (files only; no display needed)."""
    import matplotlib  # heavy optional dependency: loaded only when a figure is drawn

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(figure, out_dir: Path, stem: str) -> list[Path]:
    """Write ``figure`` as ``<stem>.png`` and ``<stem>.svg`` under ``out_dir``, close it; returns both paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for extension in ("png", "svg"):
        path = out_dir / f"{stem}.{extension}"
        figure.savefig(path, dpi=110)
        paths.append(path)
    pyplot().close(figure)
    return paths


def plot_ablation(
    spec: AblationSpec, reference, measured: list[Measured], out_dir: Path, scales: Mapping[str, str] | None = None
) -> list[Path]:
    """Draw one ablation figure; returns the PNG and SVG paths. ``scales``: see :func:`measured_series`."""
    plt = pyplot()
    measured_by_measure = measured_series(measured, spec, scales)
    panels: list[tuple[PanelSpec | None, list[Series], list[Series]]] = []
    claimed: set[tuple[str, str, str]] = set()
    for panel in spec.panels:
        overlay = [s for measure in panel.measures for s in measured_by_measure.get(measure, [])]
        claimed.update(m for m in panel.measures if m in measured_by_measure)
        panels.append((panel, reference_series(reference, spec, panel), []))
        if overlay:  # beside the paper's panel, on an axis of its own (another scale)
            panels.append(
                (
                    PanelSpec(f"measured: {panel.title}", (), panel.measures, panel.ylabel, adopted=panel.adopted),
                    [],
                    overlay,
                )
            )
    for measure, series in sorted(measured_by_measure.items()):
        # The scale figure takes only measures the paper panels show: the released checkpoints'
        # every benchmark number would otherwise each get a panel.
        if measure not in claimed and spec.knob != "scale":
            panels.append(
                (PanelSpec(f"measured: {' '.join(p for p in measure if p)}", (), (measure,), measure[1]), [], series)
            )
    if not panels:
        panels.append((None, [], []))
    columns = min(3, len(panels))
    rows = math.ceil(len(panels) / columns)
    caption = _caption(spec, [s for _, _, overlay in panels for s in overlay]) if panels[0][0] is not None else ""
    caption_inches = 0.18 * (caption.count("\n") + 1) if caption else 0.0
    figure, axes = plt.subplots(
        rows, columns, figsize=(max(4.4 * columns, 7.0), 3.5 * rows + 0.8 + caption_inches), squeeze=False
    )
    for ax in axes.flat[len(panels) :]:
        ax.set_visible(False)
    for ax, (panel, paper, overlay) in zip(axes.flat, panels):
        values = {k for s in paper + overlay for k in s.points}
        if panel is None:
            ax.axis("off")
            ax.text(
                0.5,
                0.5,
                spec.note or "no data",
                ha="center",
                va="center",
                fontsize=9,
                wrap=True,
                transform=ax.transAxes,
            )
            continue
        ax.set_title(panel.title, fontsize=9)
        ax.set_xlabel(spec.xlabel, fontsize=8)
        ax.tick_params(labelsize=8)
        if paper:
            _draw(ax, paper, spec, measured=False)
            ax.set_ylabel(panel.ylabel + " (paper)", fontsize=8)
            ax.legend(fontsize=7, loc="best")
        elif overlay:
            _draw(ax, overlay, spec, measured=True)
            ax.set_ylabel(panel.ylabel + " (measured)", fontsize=8)
            # Under the panel: the labels carry the runs' scale and would cover the points inside it.
            handles, labels = ax.get_legend_handles_labels()
            ax.legend(
                handles,
                [textwrap.fill(label, 48) for label in labels],
                fontsize=6,
                loc="upper center",
                bbox_to_anchor=(0.5, -0.2),
                frameon=False,
            )
        _format_x(ax, spec, panel, values)
        ax.grid(alpha=0.3)
    bottom = 0.03
    if caption:
        figure.text(0.5, 0.005, caption, ha="center", va="bottom", fontsize=8, color="#444")
        bottom = (caption_inches + 0.1) / figure.get_size_inches()[1]
    figure.suptitle(spec.title, fontsize=11)
    figure.tight_layout(rect=(0, bottom, 1, 0.97))
    return save_figure(figure, out_dir, f"ablation_{spec.knob}")


def plot_all(reference, measured: list[Measured], out_dir: Path, scales: Mapping[str, str] | None = None) -> list[Path]:
    paths = []
    for spec in ABLATIONS.values():
        paths += plot_ablation(spec, reference, measured, out_dir, scales)
    return paths
