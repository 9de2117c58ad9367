"""The vectorised heareval probe: same grid, same arithmetic as per-point torch modules, early stopping."""

import math
import random

import pytest
import torch

from spear_bench.bench.probe import (
    GridPoint,
    ProbeConfig,
    ProbeSplit,
    ScoreResult,
    StackedAdam,
    StackedMLP,
    best_probe,
    select_grid_points,
    train_grid,
)


def test_grid_points_are_heareval_selection():
    try:
        from heareval.predictions.task_predictions import PARAM_GRID
    except ImportError as error:
        pytest.fail(f"heareval not importable ({error}); see docs/orchestration.md (requirements-nodeps.txt)")
    from sklearn.model_selection import ParameterGrid

    confs = list(ParameterGrid(PARAM_GRID))
    random.seed(42)  # heareval: seed_everything(42) then random.shuffle(confs), first 8
    random.shuffle(confs)
    names = {torch.nn.init.xavier_uniform_: "xavier_uniform", torch.nn.init.xavier_normal_: "xavier_normal"}
    theirs = [GridPoint(c["hidden_layers"], names[c["initialization"]], c["lr"]) for c in confs[:8]]
    assert select_grid_points(ProbeConfig()) == theirs
    assert {
        (c["hidden_dim"], c["dropout"], c["batch_size"], c["max_epochs"], c["patience"], c["check_val_every_n_epoch"])
        for c in confs
    } == {(1024, 0.1, 1024, 500, 20, 3)}


def _reference_mlp(model: StackedMLP, g: int, depth: int) -> torch.nn.Sequential:
    """heareval's FullyConnectedPrediction layout with grid point g's weights."""
    layers, p, b = [], model.params, model.buffers
    for layer in range(depth):
        linear = torch.nn.Linear(*p[f"w{layer}"].shape[1:])
        linear.weight.data = p[f"w{layer}"][g].detach().T.clone()
        linear.bias.data = p[f"b{layer}"][g].detach().clone()
        norm = torch.nn.BatchNorm1d(p[f"w{layer}"].shape[2])
        norm.weight.data = p[f"gamma{layer}"][g].detach().clone()
        norm.bias.data = p[f"beta{layer}"][g].detach().clone()
        norm.running_mean.data = b[f"mean{layer}"][g].clone()
        norm.running_var.data = b[f"var{layer}"][g].clone()
        layers += [linear, norm, torch.nn.Dropout(0.0), torch.nn.ReLU()]
    out = torch.nn.Linear(*p[f"w{depth}"].shape[1:])
    out.weight.data = p[f"w{depth}"][g].detach().T.clone()
    out.bias.data = p[f"b{depth}"][g].detach().clone()
    return torch.nn.Sequential(*layers, out)


@pytest.mark.parametrize("depth", [1, 2])
def test_stacked_mlp_equals_torch_modules_in_train_and_eval(depth):
    config = ProbeConfig(hidden_dim=16, dropout=0.0)
    points = [GridPoint(depth, "xavier_uniform", 1e-3), GridPoint(depth, "xavier_normal", 1e-4)]
    model = StackedMLP(points, 8, 3, config, torch.Generator().manual_seed(0), "cpu")
    x = torch.randn(10, 8)
    for g in range(2):
        reference = _reference_mlp(model, g, depth)
        reference.eval()
        torch.testing.assert_close(model.forward(x, train=False)[g], reference(x), atol=1e-5, rtol=1e-5)
    references = [_reference_mlp(model, g, depth).train() for g in range(2)]
    stacked = model.forward(x, train=True)  # updates the running statistics as BatchNorm1d does
    for g, reference in enumerate(references):
        torch.testing.assert_close(stacked[g], reference(x), atol=1e-5, rtol=1e-5)
        bn = reference[1]
        torch.testing.assert_close(model.buffers["mean0"][g], bn.running_mean, atol=1e-6, rtol=1e-5)
        torch.testing.assert_close(model.buffers["var0"][g], bn.running_var, atol=1e-6, rtol=1e-5)


def test_stacked_adam_equals_torch_adam_per_grid_point():
    lrs = [3.2e-3, 1e-4]
    stacked = {"w": torch.randn(2, 4, 3, requires_grad=True)}
    singles = [torch.nn.Parameter(stacked["w"][g].detach().clone()) for g in range(2)]
    optimizers = [torch.optim.Adam([singles[g]], lr=lrs[g]) for g in range(2)]
    adam = StackedAdam(torch.tensor(lrs))
    for step in range(5):
        grads = torch.randn(2, 4, 3)
        stacked["w"].grad = grads.clone()
        adam.step(stacked)
        for g in range(2):
            singles[g].grad = grads[g].clone()
            optimizers[g].step()
            torch.testing.assert_close(stacked["w"][g].detach(), singles[g].detach(), atol=1e-7, rtol=1e-6)


def _blobs(n, seed, classes=3, dim=6):
    gen = torch.Generator().manual_seed(seed)
    centres = torch.randn(classes, dim, generator=torch.Generator().manual_seed(99)) * 3
    labels = torch.arange(n) % classes
    x = centres[labels] + torch.randn(n, dim, generator=gen)
    return ProbeSplit(x, torch.nn.functional.one_hot(labels, classes).float())


def _accuracy_scorer(probabilities, logits, split):
    return ScoreResult((probabilities.argmax(-1) == split.y.argmax(-1)).float().mean(-1).tolist())


def test_probe_grid_learns_separable_classes():
    config = ProbeConfig(hidden_dim=32, max_epochs=30, check_val_every_n_epoch=3, patience=5)
    train, valid, test = _blobs(90, 0), _blobs(30, 1), _blobs(30, 2)
    probes = train_grid(select_grid_points(config), train, valid, "multiclass", _accuracy_scorer, "max", config)
    assert len(probes) == 8
    best = best_probe(probes)
    accuracy = (best.predict(test.x, "multiclass").argmax(-1) == test.y.argmax(-1)).float().mean()
    assert accuracy > 0.9


def test_early_stopping_counts_validation_checks_and_keeps_the_best_check():
    config = ProbeConfig(hidden_dim=8, max_epochs=200, check_val_every_n_epoch=3, patience=4)
    scores = iter([0.1, 0.5, 0.5, 0.4, 0.3, 0.2, 0.9, 0.9])  # best at the 2nd check; 4 checks without a strict gain

    def scorer(probabilities, logits, split):
        return ScoreResult([next(scores)])

    probe = train_grid(
        [GridPoint(1, "xavier_uniform", 1e-3)], _blobs(12, 0), _blobs(6, 1), "multiclass", scorer, "max", config
    )[0]
    assert probe.validation_score == 0.5
    assert probe.epoch == 5  # 2nd check: epochs are 0-based, checks after epochs 2, 5, 8 ...
    assert probe.epochs_run == 18  # stopped after the 6th check


def test_non_finite_validation_score_stops_that_grid_point():
    config = ProbeConfig(hidden_dim=8, max_epochs=60, check_val_every_n_epoch=1, patience=50)
    values = iter([0.2, math.nan] + [0.3] * 100)

    def scorer(probabilities, logits, split):
        return ScoreResult([next(values)])

    probe = train_grid(
        [GridPoint(2, "xavier_normal", 1e-3)], _blobs(12, 0), _blobs(6, 1), "multiclass", scorer, "max", config
    )[0]
    assert probe.epochs_run == 2 and probe.validation_score == 0.2


def test_task_overrides_follow_heareval():
    config = ProbeConfig().with_task_overrides({"task_name": "dcase2016_task2"})
    assert config.check_val_every_n_epoch == 10
    config = ProbeConfig().with_task_overrides(
        {
            "task_name": "maestro",
            "use_scoring_for_early_stopping": False,
            "evaluation_params": {
                "event_postprocessing_grid": {"median_filter_ms": [150], "min_duration": [50]},
                "task_specific_param_grid": {"max_epochs": [50], "check_val_every_n_epoch": [1]},
            },
        }
    )
    assert (config.max_epochs, config.check_val_every_n_epoch, config.use_scoring_for_early_stopping) == (50, 1, False)
    assert config.event_postprocessing_grid == {"median_filter_ms": [150], "min_duration": [50]}
