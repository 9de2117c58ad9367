"""`spear-bench report` on a demo-like results store: tables, comparisons and plots under --out."""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest

from spear_bench.cli import main
from spear_bench.report.plots import ABLATIONS
from spear_bench.results.store import ResultsStore


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory, write_demo_store) -> Path:
    root = tmp_path_factory.mktemp("report")
    write_demo_store(root / "results")
    assert main(["report", "--results", str(root / "results"), "--out", str(root / "out")]) == 0
    return root / "out"


def test_report_writes_every_format_of_every_leaderboard(report_dir):
    for stem in ("leaderboards", "superb", "hear", "finetune", "finetune_ctc", "suite_demo", "compare_spear_tiny"):
        for extension in ("md", "html", "tex"):
            assert (report_dir / f"{stem}.{extension}").stat().st_size > 0, f"{stem}.{extension}"


def test_report_puts_measured_hear_numbers_beside_the_paper(report_dir):
    text = (report_dir / "hear.md").read_text()
    measured = next(line for line in text.splitlines() if line.startswith("| *spear_tiny*"))
    # two seeds of 0.40 and 0.42: s = 1.414 points, t(0.975, 1) = 12.706, half-width 12.706 * 1.414 / sqrt(2)
    assert "| measured |" in measured and "41.0 \u00b1 12.7 (n=2)" in measured
    assert "| SPEAR-s+a XLarge | paper T16 |" in text


def test_report_lists_demo_suite_numbers(report_dir):
    text = (report_dir / "suite_demo.md").read_text()
    assert "spear_tiny" in text and "wavlm_tiny" in text and "**0.750**" in text


def test_report_draws_every_ablation_as_png_and_svg(report_dir):
    import matplotlib.image

    for knob in ABLATIONS:
        image = matplotlib.image.imread(report_dir / "plots" / f"ablation_{knob}.png")
        assert image.shape[0] > 200 and image.shape[1] > 400
        ElementTree.parse(report_dir / "plots" / f"ablation_{knob}.svg")


def test_report_overlays_the_measured_codebook_runs(report_dir):
    svg = (report_dir / "plots" / "ablation_codebooks.svg").read_text()
    assert "spear_tiny (measured)" in svg and "measured: mvq_prediction" in svg


def test_report_rejects_a_missing_results_folder(tmp_path, capsys):
    assert main(["report", "--results", str(tmp_path / "nope"), "--out", str(tmp_path / "out")]) == 2
    assert "--results" in capsys.readouterr().err


def test_report_rejects_an_unknown_comparison_model(tmp_path, capsys):
    code = main(
        ["report", "--results", str(tmp_path), "--out", str(tmp_path / "out"), "--compare", "nobody", "--no-plots"]
    )
    assert code == 2 and "nobody" in capsys.readouterr().err


def test_report_rejects_an_unknown_baseline(tmp_path, capsys):
    code = main(
        [
            "report",
            "--results",
            str(tmp_path),
            "--out",
            str(tmp_path / "out"),
            "--baselines",
            "wavlm_large,wavlm_huge",
            "--no-plots",
        ]
    )
    assert code == 2 and "wavlm_huge" in capsys.readouterr().err


def test_fine_tuned_audioset_map_of_0_8_percent_is_rendered_as_0_8(tmp_path):
    """The row written by the fine-tune runner says its mAP is in percent: 0.8 stays 0.8
    (a size-based guess made it 80)."""
    import json

    from spear_bench.finetune.run import RunSpec, TaskResult, write_outcome

    spec = RunSpec(
        model="spear_tiny[random-init]", data_dir=tmp_path, out_dir=tmp_path / "run", results_root=tmp_path / "results"
    )
    write_outcome(
        TaskResult("audioset_20k", {"mAP": 0.8, "chance_mAP": 0.5}, {}, 10, tmp_path / "run", None),
        spec,
        {"kind": "audioset"},
        seed=0,
        splits={},
    )
    rows = [r for r in ResultsStore(tmp_path / "results").rows() if r.metric == "mAP"]
    assert [(r.task_short, r.unit, r.higher_is_better) for r in rows] == [("AS-20k", "percent", True)]
    assert main(["report", "--results", str(tmp_path / "results"), "--out", str(tmp_path / "out")]) == 0
    text = (tmp_path / "out" / "finetune.md").read_text()
    header = next(line for line in text.splitlines() if "AS-20k" in line)
    measured = next(line for line in text.splitlines() if line.startswith("| *spear_tiny[random-init]*"))
    cells = dict(zip([c.strip() for c in header.split("|")], [c.strip() for c in measured.split("|")]))
    column = next(name for name in cells if name.startswith("AS-20k"))
    assert cells[column] == "0.8", (column, cells[column])
    assert "80.0" not in measured
    assert (
        json.loads(next((tmp_path / "results" / "finetune" / "spear_tiny_random-init_").glob("*.json")).read_text())[0][
            "unit"
        ]
        == "percent"
    )
