"""Ablation figures: paper series from the reference, measured runs by the model-name convention."""

from __future__ import annotations

import pytest

from spear_bench.report.aggregate import Measured
from spear_bench.report.plots import ABLATIONS, measured_series, parse_ablation_model, plot_ablation, reference_series
from spear_bench.report.reference import load_reference


@pytest.fixture(scope="module")
def reference():
    return load_reference()


def m(model, task="mvq_prediction", metric="accuracy", value=0.5, suite="pretrain", short="", unit=""):
    return Measured(
        model, suite, task, metric, "test", value, 0.0, 1, "cfg", True, "abc", "2025-01-01T00:00:00+00:00", short, unit
    )


def test_ablation_model_names_carry_their_settings():
    assert parse_ablation_model("spear_tiny@codebooks=8,alpha=0.5") == (
        "spear_tiny",
        {"codebooks": "8", "alpha": "0.5"},
    )
    assert parse_ablation_model("spear_tiny") == ("spear_tiny", {})


def test_every_required_ablation_has_a_figure():
    assert {"alpha", "codebooks", "lambda", "teacher_layer", "scale", "augmentation"} <= set(ABLATIONS)


def test_codebook_series_come_from_table_22(reference):
    spec = ABLATIONS["codebooks"]
    (sid,) = reference_series(reference, spec, spec.panels[1])
    assert sid.points == {"4": 83.12, "8": 84.83, "16": 86.35}


def test_lambda_series_come_from_table_24(reference):
    spec = ABLATIONS["lambda"]
    clean, other = reference_series(reference, spec, spec.panels[0])
    assert other.points == {"0.3": 5.9, "0.2": 5.7, "0.1": 5.6}


def test_scale_series_follow_model_families(reference):
    spec = ABLATIONS["scale"]
    families = {s.label: s.points for s in reference_series(reference, spec, spec.panels[0])}
    assert families["SPEAR-s+a"] == {"base": 6.0, "large": 4.8, "xlarge": 4.6}  # Table 3, LS-100 test-other


def test_measured_runs_group_by_base_model_and_other_settings():
    runs = [
        m("spear_tiny@alpha=0.0", value=0.1),
        m("spear_tiny@alpha=0.5", value=0.3),
        m("spear_tiny@alpha=0.5,codebooks=4", value=0.2),
        m("spear_tiny", value=0.9),
    ]
    series = measured_series(runs, ABLATIONS["alpha"])[("mvq_prediction", "accuracy", "test")]
    assert {s.label: s.points for s in series} == {
        "spear_tiny (measured): scale not recorded": {"0.0": 0.1, "0.5": 0.3},
        "spear_tiny (measured, codebooks=4): scale not recorded": {"0.5": 0.2},
    }


def test_measured_series_carry_their_scale_and_seed_spread():
    three_seeds = Measured(
        "spear_tiny@alpha=1",
        "pretrain",
        "mvq_prediction",
        "accuracy",
        "test",
        0.4,
        0.05,
        3,
        "cfg",
        True,
        "abc",
        "2025-01-01T00:00:00+00:00",
    )
    runs = [m("spear_tiny@alpha=0", value=0.2), three_seeds]
    scales = dict.fromkeys(["spear_tiny@alpha=0", "spear_tiny@alpha=1"], "spear_tiny 5M, 30 steps, demo scale")
    (series,) = measured_series(runs, ABLATIONS["alpha"], scales)[("mvq_prediction", "accuracy", "test")]
    assert series.label == "spear_tiny (measured): spear_tiny 5M, 30 steps, demo scale"
    assert series.points == {"0": 0.2, "1": 0.4} and series.errors == {"1": 0.05}  # one seed: no error bar


def _figure_axes(monkeypatch, spec, reference, runs, tmp_path, scales=None):
    """The figure's visible axes as (title, y label, legend texts), drawn as plot_ablation draws them."""
    import matplotlib.pyplot as plt

    captured = {}
    original = plt.close
    with monkeypatch.context() as patch:
        patch.setattr(plt, "close", lambda figure=None: captured.setdefault("figure", figure))
        plot_ablation(spec, reference, runs, tmp_path, scales)
    figure = captured["figure"]
    out = []
    for ax in figure.axes:
        if ax.get_visible() and ax.axison:
            legend = ax.get_legend()
            out.append((ax.get_title(), ax.get_ylabel(), [t.get_text() for t in legend.get_texts()] if legend else []))
    caption = " ".join(t.get_text() for t in figure.texts)
    original(figure)
    return out, caption


def test_measured_runs_never_share_the_papers_axis(reference, tmp_path, monkeypatch):
    runs = [
        m("spear_tiny@lambda=0.1", "audioset_20k", "mAP", 12.0, suite="finetune", short="AS-20k", unit="percent"),
        m("spear_tiny@lambda=0.3", "audioset_20k", "mAP", 10.0, suite="finetune", short="AS-20k", unit="percent"),
    ]
    scales = {"spear_tiny@lambda=0.1": "tiny, demo scale", "spear_tiny@lambda=0.3": "tiny, demo scale"}
    axes, caption = _figure_axes(monkeypatch, ABLATIONS["lambda"], reference, runs, tmp_path, scales)
    for title, ylabel, legend in axes:
        kinds = {"measured" in text for text in legend}
        assert len(kinds) <= 1, f"panel {title!r} mixes paper and measured series: {legend}"
    paper = [a for a in axes if a[0] == "AS-20k fine-tune"]
    measured = [a for a in axes if a[0] == "measured: AS-20k fine-tune"]
    assert paper and measured and measured[0][1].endswith("(measured)") and paper[0][1].endswith("(paper)")
    assert measured[0][2] == ["spear_tiny (measured): tiny, demo scale"]
    assert "demo scale" in caption and "Demo-scale runs" in caption


def test_measured_runs_of_a_paper_measure_join_its_panel():
    series = measured_series(
        [m("spear_tiny@lambda=0.1", "audioset_20k", "mAP", 12.0, suite="finetune", short="AS-20k", unit="percent")],
        ABLATIONS["lambda"],
    )
    assert list(series) == [("AS-20k", "mAP", "eval")]
    assert series[("AS-20k", "mAP", "eval")][0].points == {"0.1": pytest.approx(12.0)}


def test_alpha_figure_without_runs_says_the_paper_has_no_numbers(reference, tmp_path):
    png, svg = plot_ablation(ABLATIONS["alpha"], reference, [], tmp_path)
    assert png.stat().st_size > 1000 and "Fig. 3" in svg.read_text()
