"""Numbers a paper can use: seeds with 95 % intervals, the seed-spread comparison, layer analysis plots,
the run options that produce them (docs/paper_numbers.md)."""

import dataclasses
import math

import pytest
import torch
import yaml
from scipy import stats as scipy_stats

from spear_bench.bench import superb_runner
from spear_bench.bench.cache import EmbeddingCache
from spear_bench.bench.hear_runner import run_hear_task
from spear_bench.bench.orchestrate import RunConfig, Unit, plan, unit_config
from spear_bench.bench.probe import ProbeConfig
from spear_bench.bench.scored_model import HearModelHandle, resolve_model
from spear_bench.cli import main
from spear_bench.cli.run_cmd import _seed_options, parse_lr_grid
from spear_bench.errors import ConfigError
from spear_bench.report.aggregate import measured_values
from spear_bench.report.columns import Column
from spear_bench.report.layer_plots import layer_score_curves, layer_weight_maps, plot_layer_scores, plot_layer_weights
from spear_bench.report.leaderboard import Cell
from spear_bench.report.render import cell_text, latex_escape
from spear_bench.report.significance import DIFFER, SAME, TOO_FEW, compare_seeds
from spear_bench.report.stats import t_interval, welch_test
from spear_bench.results.store import ResultRow, ResultsStore, config_hash
from spear_bench.superb.problem import FoldRun
from spear_bench.superb.recipes import recipe_for
from spear_bench.task_registry import load_suite

# --- interval arithmetic ---------------------------------------------------------------------------


def test_t_interval_matches_a_hand_computed_case():
    # 0.70, 0.74, 0.78: mean 0.74; s = sqrt((0.04² + 0 + 0.04²) / 2) = 0.04; t(0.975, 2) = 4.302653;
    # half-width = 4.302653 * 0.04 / sqrt(3) = 0.0993654
    interval = t_interval([0.70, 0.74, 0.78])
    assert interval.mean == pytest.approx(0.74)
    assert interval.half_width == pytest.approx(0.0993654, abs=1e-6)
    assert (interval.low, interval.high, interval.n) == (pytest.approx(0.6406346), pytest.approx(0.8393654), 3)
    assert math.isnan(t_interval([0.5]).half_width)  # one seed: no interval


def test_welch_test_agrees_with_scipy_and_handles_no_spread():
    a, b = [0.61, 0.64, 0.60, 0.66], [0.52, 0.55, 0.58]
    ours = welch_test(a, b)
    reference = scipy_stats.ttest_ind(a, b, equal_var=False)
    assert ours.t == pytest.approx(reference.statistic) and ours.p == pytest.approx(reference.pvalue)
    assert welch_test([0.5, 0.5], [0.5, 0.5]).p == 1.0 and welch_test([0.6, 0.6], [0.5, 0.5]).p == 0.0
    with pytest.raises(ValueError, match="two seeds"):
        welch_test([0.5], [0.4, 0.6])


def _row(model, value, seed, task="demo_words", metric="top1_acc", layer="", **extra):
    return ResultRow(
        model, "demo", task, metric, value, seed, "c1", "abc", f"2026-01-01T00:00:0{seed % 10}+00:00", "test",
        True, task_short="", unit="fraction", weights="random-init", layer=layer, **extra,
    )  # fmt: skip


def test_cells_print_mean_plus_minus_the_interval_and_the_seed_count_in_every_format():
    (item,) = measured_values([_row("m", v, s) for s, v in enumerate([0.70, 0.74, 0.78])])
    assert item.values == (0.70, 0.74, 0.78) and item.ci == pytest.approx(0.0993654, abs=1e-6)
    cell = Cell(74.0, 3.27, 3, ci=9.93654)
    text = cell_text(cell, Column("t", "m", "test", True, 1, "T", "g"))
    assert text == "74.0 \u00b1 9.9 (n=3)"
    assert latex_escape(text) == r"74.0 $\pm$ 9.9 (n=3)"
    assert cell_text(Cell(74.0, 0.0, 1), Column("t", "m", "test", True, 1, "T", "g")) == "74.0"


def test_report_renders_intervals_in_markdown_html_and_latex(tmp_path):
    store = ResultsStore(tmp_path / "results")
    for seed, value in enumerate([0.70, 0.74, 0.78]):
        store.write_unit([_row("spear_tiny[random-init]", value, seed)])
    assert main(["report", "--results", str(tmp_path / "results"), "--out", str(tmp_path / "out"), "--no-plots"]) == 0
    # the suite table prints values as stored (fractions here)
    for extension, expected in (("md", "0.740 \u00b1 0.099 (n=3)"), ("html", "0.740 \u00b1 0.099 (n=3)"),
                                ("tex", "0.740 $\\pm$ 0.099 (n=3)")):  # fmt: skip
        assert expected in (tmp_path / "out" / f"suite_demo.{extension}").read_text(), extension


# --- run options and units --------------------------------------------------------------------------


def test_seed_options_give_one_unit_per_seed():
    assert _seed_options("42", 0) == {"seed": 42, "seeds": ()}
    assert _seed_options("1,2,3", 0) == {"seed": 1, "seeds": (1, 2, 3)}
    assert _seed_options("7", 3) == {"seed": 7, "seeds": (7, 8, 9)}
    with pytest.raises(ConfigError, match="--seed"):
        _seed_options("1,x", 0)
    with pytest.raises(ConfigError, match="either --seed 1,2,3 or --seeds N"):
        _seed_options("1,2", 3)
    config = RunConfig(suite="demo", models=("spear_tiny[random-init]",), tasks=("demo_words", "demo_ks"), seeds=(1, 2))
    units = plan(config)
    assert [(u.task, u.seed) for u in units] == [("demo_words", 1), ("demo_words", 2), ("demo_ks", 1), ("demo_ks", 2)]
    assert Unit("m", "demo_words", 2).config(config).seed == 2 and "seed 2" in units[1].label


def test_lr_grid_option_takes_a_list_or_a_log_range():
    assert parse_lr_grid("1e-5,1e-4,1e-3") == (1e-5, 1e-4, 1e-3)
    assert parse_lr_grid("1e-5:1e-3:3") == pytest.approx((1e-5, 1e-4, 1e-3))
    for bad in ("1e-4,x", "1e-5:1e-3:1", "-1e-4", "1e-4,1e-4"):
        with pytest.raises(ConfigError, match="--lr-grid"):
            parse_lr_grid(bad)


def test_layer_sweep_plans_every_hidden_state_of_hear_tasks_only():
    config = RunConfig(
        suite="demo", models=("spear_tiny[random-init]",), tasks=("demo_words", "demo_ks"), layers=("all",)
    )
    units = plan(config)
    hear = [u.layer for u in units if u.task == "demo_words"]
    count = HearModelHandle(resolve_model("spear_tiny[random-init]")).load()[1].encoder.num_hidden_states
    assert hear == [str(i) for i in range(count)] and count > 2
    assert [u.layer for u in units if u.task == "demo_ks"] == [None]  # SUPERB learns its own weighted sum
    with pytest.raises(ConfigError, match="--layers sweeps HEAR tasks"):
        plan(dataclasses.replace(config, tasks=("demo_ks",)))
    with pytest.raises(ConfigError, match="--lr-grid searches SUPERB tasks"):
        plan(dataclasses.replace(config, tasks=("demo_words",), layers=(), lr_grid=(1e-4, 1e-3)))


def test_seeds_of_one_config_share_its_hash_and_average_in_the_report(tmp_path, demo_root):
    rows = [_row("m", 0.5, 1), _row("m", 0.7, 2, layer="last"), _row("m", 0.9, 3, layer="3")]
    items = {(m.model, m.seeds): m for m in measured_values(rows)}
    assert items[("m", 2)].value == pytest.approx(0.6)  # the default layer: "" (older rows) and "last" are one
    assert items[("m@layer=3", 1)].value == pytest.approx(0.9)  # another layer is a model of its own
    config = RunConfig(suite="demo", models=("spear_tiny[random-init]",), data_root=str(demo_root))
    spec = load_suite("demo").task("demo_words")
    hashes = {
        config_hash(unit_config(Unit(config.models[0], spec.name, s), spec, Unit("", "", s).config(config), demo_root))
        for s in (1, 2)
    }
    assert len(hashes) == 1  # the store keys each seed's file apart (…__seed<N>.json)


# --- layer plots ------------------------------------------------------------------------------------


def test_layer_plots_are_drawn_from_stored_weights_and_layer_scores(tmp_path):
    weights = {"demo_ks": (0.5, 0.3, 0.2), "demo_ic": (0.1, 0.1, 0.8)}
    rows = [
        dataclasses.replace(_row("spear_tiny[random-init]", 50.0, 1, task=t, metric="acc"), unit="percent",
                            layer_weights=w) for t, w in weights.items()
    ]  # fmt: skip
    rows += [
        _row("spear_tiny[random-init]", 0.2 + 0.1 * layer, seed, layer=str(layer))
        for layer in range(3)
        for seed in (1, 2)
    ]
    measured = measured_values(rows)
    maps = layer_weight_maps(measured)
    assert maps["spear_tiny[random-init]"] == (["demo_ic", "demo_ks"], [weights["demo_ic"], weights["demo_ks"]])
    curves = layer_score_curves(measured)
    assert [p[:2] for p in curves["spear_tiny[random-init]"]["demo_words top1_acc"]] == [
        (0, pytest.approx(20.0)), (1, pytest.approx(30.0)), (2, pytest.approx(40.0))
    ]  # fmt: skip
    paths = plot_layer_weights(measured, tmp_path) + plot_layer_scores(measured, tmp_path)
    names = sorted(p.name for p in paths)
    assert names == sorted(
        f"{kind}_spear_tiny_random-init_.{ext}" for kind in ("layer_weights", "layer_scores") for ext in ("png", "svg")
    )
    assert all(p.stat().st_size > 1000 for p in paths)


# --- compare: a real difference is flagged, another set of seeds is not ---------------------------------

SHORT = ProbeConfig(hidden_dim=64, max_epochs=3, check_val_every_n_epoch=3, patience=2, grid_points=2)
LONG = dataclasses.replace(SHORT, max_epochs=60, patience=20)


@pytest.fixture(scope="module")
def probe_seed_store(tmp_path_factory, demo_root):
    """demo_words with spear_tiny (random init): its HEAR probe trained 3 epochs (seeds 1-4) and 60 epochs
    (seeds 1-4 and 5-8), each seed stored as its own unit, as `spear-bench run --seed 1,2,3,4` stores them."""
    root = tmp_path_factory.mktemp("compare")
    spec = load_suite("demo").task("demo_words")
    handle = HearModelHandle(resolve_model("spear_tiny[random-init]"))
    stores = {name: ResultsStore(root / name) for name in ("short", "long", "long_other_seeds")}
    for name, probe, seeds in (
        ("short", SHORT, (1, 2, 3, 4)),
        ("long", LONG, (1, 2, 3, 4)),
        ("long_other_seeds", LONG, (5, 6, 7, 8)),
    ):
        for seed in seeds:
            result = run_hear_task(
                spec,
                demo_root,
                handle,
                EmbeddingCache(root / "cache", handle.spec.name, handle.weights_hash, "last"),
                dataclasses.replace(probe, seed=seed),
            )
            score = result.scores[spec.metric]
            stores[name].write_unit(
                [_row("spear_tiny[random-init]", score, seed, task="demo_words", metric=spec.metric)]
            )
    return root


@pytest.mark.slow  # 12 HEAR probe trainings (about 40 s alone, 85 s on the loaded 2-core machine)
def test_compare_flags_a_probe_trained_longer_and_not_other_seeds(probe_seed_store, tmp_path):
    root = probe_seed_store
    model = "spear_tiny[random-init]"
    longer = compare_seeds(
        measured_values(ResultsStore(root / "long").rows()), measured_values(ResultsStore(root / "short").rows()),
        model, model, "demo",
    )  # fmt: skip
    (line,) = longer.lines
    assert line.verdict == DIFFER and line.better == "A", (line.a.values, line.b.values, line.test)
    same = compare_seeds(
        measured_values(ResultsStore(root / "long").rows()),
        measured_values(ResultsStore(root / "long_other_seeds").rows()), model, model, "demo",
    )  # fmt: skip
    (line,) = same.lines
    assert line.verdict == SAME, (line.a.values, line.b.values, line.test)
    # the command: names the test, writes md/html/tex
    argv = ["compare", model, model, "--suite", "demo", "--results", str(root / "long")]
    argv += ["--results-b", str(root / "short"), "--out", str(tmp_path)]
    assert main(argv) == 0
    (md,) = tmp_path.glob("significance_*.md")
    assert "Welch's t-test" in md.read_text() and f"| {DIFFER} (A better) |" in md.read_text()
    assert md.with_suffix(".tex").stat().st_size > 0 and md.with_suffix(".html").stat().st_size > 0


def test_compare_with_one_seed_says_too_few_and_unknown_models_fail_in_one_line(tmp_path, capsys):
    store = ResultsStore(tmp_path / "r")
    store.write_unit([_row("a", 0.5, 1)])
    store.write_unit([_row("b", 0.6, 1)])
    (line,) = compare_seeds(measured_values(store.rows()), measured_values(store.rows()), "a", "b", "demo").lines
    assert line.verdict == TOO_FEW
    assert (
        main(["compare", "a", "zzz", "--suite", "demo", "--results", str(tmp_path / "r"), "--out", str(tmp_path)]) == 2
    )
    assert "model B 'zzz' has no results of suite 'demo'" in capsys.readouterr().err


# --- SUPERB: the learning-rate search chooses on dev, layer weights sum to 1 --------------------------------


def _fake_fold(tmp_path, name: str, dev: float, test: float, weights: list[float]):
    folder = tmp_path / name
    best = folder / "train" / "valid_best"
    (best / "model").mkdir(parents=True)
    (best / "training_stats.yaml").write_text(yaml.safe_dump({"valid_best_metrics": {"accuracy": dev, "loss": 1.0}}))
    torch.save(
        {"featurizer.weights": torch.tensor(weights), "downstream.w": torch.zeros(2)}, best / "model" / "state_dict.pt"
    )
    return FoldRun("fold", {"accuracy": test / 100}, {"acc": test}, folder)


def test_lr_search_chooses_the_best_dev_score_not_the_best_test_score(tmp_path, monkeypatch):
    # rate 1e-4 has the best dev score, 1e-3 the best test score: the search must take 1e-4
    runs = {1e-5: (0.30, 90.0), 1e-4: (0.80, 20.0), 1e-3: (0.50, 95.0)}
    calls = []

    def fake_run(spec, root, upstream, build, device, seed, runs_dir, identity, code):
        calls.append(spec.protocol.lr)
        dev, test = runs[spec.protocol.lr]
        return recipe_for(spec), [_fake_fold(tmp_path, f"lr{spec.protocol.lr}", dev, test, [0.0, 1.0, 2.0])]

    monkeypatch.setattr(superb_runner, "run_problem_task", fake_run)
    spec = load_suite("demo").task("demo_ks")
    _, folds, search, run_dirs = superb_runner.search_learning_rate(
        spec, tmp_path, (None, {}, "cpu", 42), tmp_path, {}, {}, (1e-5, 1e-4, 1e-3)
    )
    assert calls == [1e-5, 1e-4, 1e-3]  # each rate is a run of the recipe with only its lr changed
    assert [folder.name for folder in run_dirs] == ["lr1e-05", "lr0.0001", "lr0.001"]  # pruned once scored
    assert search["chosen"] == 1e-4 and folds[0].scores == {"acc": 20.0}
    assert (
        search["dev_metric"] == "accuracy"
        and search["dev"] == [0.30, 0.80, 0.50]
        and search["test"] == [90.0, 20.0, 95.0]
    )


def test_stored_layer_weights_are_the_softmax_of_the_featurizer_and_sum_to_one(tmp_path):
    fold = _fake_fold(tmp_path, "f", 0.5, 50.0, [0.0, 1.0, 2.0])
    weights = superb_runner.learned_layer_weights(fold.target_dir)
    expected = torch.softmax(torch.tensor([0.0, 1.0, 2.0], dtype=torch.float64), 0).tolist()
    assert weights == pytest.approx(expected) and sum(weights) == pytest.approx(1.0)
    assert superb_runner.mean_layer_weights([weights, [1 / 3] * 3]) == pytest.approx([(w + 1 / 3) / 2 for w in weights])
    assert superb_runner.learned_layer_weights(tmp_path / "no-run") == []


@pytest.mark.slow
def test_lr_grid_run_stores_the_search_and_layer_weights_and_resumes(tmp_path, capsys, demo_root):
    argv = ["run", "--suite", "demo", "--model", "spear_tiny[random-init]", "--tasks", "demo_ks", "--quiet"]
    argv += ["--data-root", str(demo_root), "--results", str(tmp_path / "r"), "--cache", str(tmp_path / "c")]
    assert main(argv + ["--lr-grid", "1e-5,1e-3"]) == 0
    rows = ResultsStore(tmp_path / "r").rows()
    (row,) = [r for r in rows if r.metric == "acc"]
    search = row.lr_search
    assert search["grid"] == [1e-5, 1e-3] and search["dev_metric"] == "accuracy"
    assert search["chosen"] == search["grid"][max(range(2), key=lambda i: (search["dev"][i], -i))]
    assert row.value == search["test"][search["grid"].index(search["chosen"])]
    assert len(row.layer_weights) > 2 and sum(row.layer_weights) == pytest.approx(1.0)
    runs = list((tmp_path / "c" / "superb_runs" / "spear_tiny[random-init]").glob("demo_ks-*"))
    assert len(runs) == 2  # a run folder per rate
    capsys.readouterr()
    assert main(argv + ["--lr-grid", "1e-5,1e-3"]) == 0
    assert "[skipped]" in capsys.readouterr().out


def test_legacy_runner_layer_weights_come_from_its_dev_best_checkpoint(tmp_path):
    torch.save({"Featurizer": {"weights": torch.tensor([1.0, 1.0, 3.0])}, "Step": 2}, tmp_path / "states-2.ckpt")
    torch.save({"Featurizer": {"weights": torch.tensor([0.0, 0.0, 0.0, 0.0])}}, tmp_path / "dev-best.ckpt")
    assert superb_runner.legacy_layer_weights(tmp_path) == pytest.approx([0.25] * 4)
    (tmp_path / "dev-best.ckpt").unlink()
    weights = superb_runner.legacy_layer_weights(tmp_path)
    assert len(weights) == 3 and sum(weights) == pytest.approx(1.0) and weights[2] > weights[0]
