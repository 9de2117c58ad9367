"""Which weights a number comes from: [random-init] labels everywhere, weights kept apart in the report,
paper numbers marked, and strict baseline loading (WavLM Large weights are not WavLM Base+)."""

from __future__ import annotations

import json

import pytest

from spear_bench.cli import main
from spear_bench.errors import CheckpointError
from spear_bench.report.aggregate import measured_values
from spear_bench.results.store import ResultRow, ResultsStore

LABEL = "spear_tiny[random-init]"


@pytest.mark.slow
def test_a_random_weights_demo_run_is_labelled_in_cli_store_and_every_report(tmp_path, capsys, demo_root):

    results, out = tmp_path / "results", tmp_path / "reports"
    code = main(
        [
            "run",
            "--suite",
            "demo",
            "--model",
            LABEL,
            "--tasks",
            "demo_ks",
            "--data-root",
            str(demo_root),
            "--results",
            str(results),
            "--cache",
            str(tmp_path / "cache"),
            "--quiet",
        ]
    )
    printed = capsys.readouterr().out
    assert code == 0
    assert printed.count(f"warning: {LABEL}: randomly initialised weights") == 1  # one warning per run
    assert f"[done]  {LABEL} / demo_ks" in printed
    rows = ResultsStore(results).rows()
    assert rows and {(r.model, r.weights) for r in rows} == {(LABEL, "random-init")}
    assert main(["report", "--results", str(results), "--out", str(out), "--compare", LABEL]) == 0
    rendered = [p for p in out.rglob("*") if p.suffix in (".md", ".html", ".tex")]
    showing = [p for p in rendered if "spear_tiny" in p.read_text() or "spear\\_tiny" in p.read_text()]
    assert {p.name for p in showing} >= {
        "leaderboards.md",
        "leaderboards.html",
        "leaderboards.tex",
        "suite_demo.md",
        "suite_demo.html",
        "suite_demo.tex",
    }
    for page in showing:  # no page names the model without its label
        text = page.read_text().replace("spear\\_tiny", "spear_tiny")
        assert text.count("spear_tiny") == text.count(LABEL), page.name


def test_the_demo_commands_ask_for_random_weights_by_name():
    from spear_bench.cli.finetune_cmd import DEMO_MODEL
    from spear_bench.cli.run_cmd import DEMO_MODELS
    from spear_bench.models.model_ref import ModelRef

    assert all(ModelRef.parse(m).random_init for m in (*DEMO_MODELS, DEMO_MODEL))


def _row(model, value, weights, time):
    return ResultRow(model, "hear", "esc50", "top1_acc", value, 0, "cfg", "abc", time, "test", True, weights=weights)


def test_rows_of_different_weights_under_one_name_are_never_merged():
    rows = [
        _row("spear_base", 0.5, "sha256:aaaaaaaa11", "2025-01-01T00:00:00+00:00"),
        _row("spear_base", 0.9, "sha256:bbbbbbbb22", "2025-02-01T00:00:00+00:00"),
        _row("spear_base[random-init]", 0.1, "random-init", "2025-03-01T00:00:00+00:00"),
        _row("wavlm_large", 0.7, "sha256:cccccccc33", "2025-01-01T00:00:00+00:00"),
    ]
    values = {(m.model, m.weights): m.value for m in measured_values(rows)}
    assert values == {
        ("spear_base@aaaaaaaa", "sha256:aaaaaaaa11"): 0.5,
        ("spear_base@bbbbbbbb", "sha256:bbbbbbbb22"): 0.9,
        ("spear_base[random-init]", "random-init"): 0.1,
        ("wavlm_large", "sha256:cccccccc33"): 0.7,
    }


def test_same_weights_keep_the_newest_config():
    rows = [
        _row("m", 0.5, "sha256:aa", "2025-01-01T00:00:00+00:00"),
        _row("m", 0.6, "sha256:aa", "2025-02-01T00:00:00+00:00"),
    ]
    rows[1] = ResultRow(**{**rows[1].__dict__, "config_hash": "cfg2"})
    (item,) = measured_values(rows)
    assert item.model == "m" and item.value == 0.6


def test_comparison_marks_every_number_from_the_paper(tmp_path):
    """A measured model's missing cells and the baselines' cells come from the paper: each is marked."""
    store = ResultsStore(tmp_path / "results")
    store.write_unit(
        [
            ResultRow(
                "spear_base_sa",
                "superb",
                "ks",
                "acc",
                96.0,
                0,
                "cfg",
                task_short="KS",
                unit="percent",
                weights="sha256:ab",
            )
        ]
    )
    assert (
        main(
            [
                "report",
                "--results",
                str(tmp_path / "results"),
                "--out",
                str(tmp_path / "out"),
                "--no-plots",
                "--compare",
                "spear_base_sa",
                "--baselines",
                "wavlm_large",
            ]
        )
        == 0
    )
    text = (tmp_path / "out" / "compare_spear_base_sa.md").read_text()
    ks = next(line for line in text.splitlines() if line.startswith("| SUPERB | KS"))
    cells = [c.strip() for c in ks.split("|")[1:-1]]
    assert cells[2] == "96.00" and cells[3].endswith("\u2021")  # measured, unmarked; WavLM Large from the paper
    pr = next(line for line in text.splitlines() if line.startswith("| SUPERB | PR"))
    assert [c.strip() for c in pr.split("|")[1:-1]][2].endswith("\u2021")  # not measured: the paper's SPEAR-s+a Base
    assert "\u2021 marks a number taken from the paper" in text


# ------------------------------------------------------------------------------- strict baseline loading


@pytest.fixture
def wavlm_large_folder(tmp_path, tiny_wavlm):
    from spear_bench.models.baselines.wavlm import build_wavlm

    folder = tmp_path / "wavlm-large"
    build_wavlm("wavlm_large", None, 0, **tiny_wavlm).model.save_pretrained(str(folder))
    return folder


def test_wavlm_large_weights_loaded_as_base_plus_is_a_one_line_error(wavlm_large_folder, tiny_wavlm):
    from spear_bench.models.baselines.wavlm import build_wavlm

    build_wavlm("wavlm_large", str(wavlm_large_folder), 0, **tiny_wavlm)  # its own name loads
    with pytest.raises(
        CheckpointError, match=r"config.json: feat_extract_norm='layer' but wavlm_base_plus expects 'group'"
    ) as error:
        build_wavlm("wavlm_base_plus", str(wavlm_large_folder), 0, **tiny_wavlm)
    assert "\n" not in str(error.value)


def test_wavlm_weights_that_do_not_fill_the_model_name_the_keys_and_the_path(wavlm_large_folder, tiny_wavlm):
    """Without the config's help (edited to claim Base+), strict loading still refuses the Large weights."""
    from spear_bench.models.baselines.wavlm import build_wavlm

    config = json.loads((wavlm_large_folder / "config.json").read_text())
    config.update(feat_extract_norm="group", do_stable_layer_norm=False)
    (wavlm_large_folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(
        CheckpointError,
        match=rf"{wavlm_large_folder}: weights do not match wavlm_base_plus \(strict loading\): "
        r"\d+ unexpected: feature_extractor.conv_layers.1.layer_norm",
    ) as error:
        build_wavlm("wavlm_base_plus", str(wavlm_large_folder), 0, **tiny_wavlm)
    assert "\n" not in str(error.value)
