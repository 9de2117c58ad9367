"""The heareval probe, fast: one shallow MLP per grid point, all grid points trained at once.

heareval 2021.1.3 trains, for each of 8 grid points drawn from its ``PARAM_GRID``, an MLP
(``hidden_layers`` x [Linear(1024) -> BatchNorm1d -> Dropout(0.1) -> ReLU] -> Linear) with
Adam, batch 1024, up to 500 epochs, a validation check every 3 epochs and early stopping
after 20 checks without a strictly better validation score; the best check's weights are
kept. This module does the same arithmetic without Lightning:

* the grid points of one depth are stacked into batched weight tensors ((G, in, out)) and
  trained together, one GEMM per layer for all of them (their losses are summed, and since
  they share no parameter each gets exactly its own gradient);
* Adam is written out (the torch.optim.Adam update, defaults) with one learning rate per
  grid point; a grid point that stops early is dropped from the stack;
* embeddings live in one on-device tensor (no DataLoader, no memmap, no checkpoint files).

What differs from heareval, and why it does not change the protocol: weight init draws
from a different random stream (same distributions: xavier uniform/normal with heareval's
gains, torch's default bias init); scores are computed on the same predictions.
"""

from __future__ import annotations

import copy
import math
import random
import time
from dataclasses import dataclass, field, replace
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from spear_bench.errors import ConfigError

INITIALIZATIONS = ("xavier_uniform", "xavier_normal")
BN_EPS = 1e-5
BN_MOMENTUM = 0.1
ADAM_BETAS = (0.9, 0.999)
ADAM_EPS = 1e-8


# heareval's TASK_SPECIFIC_PARAM_GRID (keyed by task_name): sed_eval is slow, so validate less often.
HEAREVAL_TASK_SPECIFIC_PARAM_GRID = {"dcase2016_task2": {"check_val_every_n_epoch": [10]}}


@dataclass(frozen=True)
class ProbeConfig:
    """heareval's default ``PARAM_GRID`` (the values that vary are tuples) and run settings."""

    hidden_layers: tuple[int, ...] = (1, 2)
    initializations: tuple[str, ...] = INITIALIZATIONS
    lrs: tuple[float, ...] = (3.2e-3, 1e-3, 3.2e-4, 1e-4)
    hidden_dim: int = 1024
    dropout: float = 0.1
    batch_size: int = 1024
    max_epochs: int = 500
    patience: int = 20  # validation checks without a strictly better score
    check_val_every_n_epoch: int = 3
    grid_points: int = 8
    # Two seeds, as two things are random. heareval draws its grid points with seed 42
    # (``seed_everything(42)`` then ``random.shuffle``) whatever the run: ``grid_seed`` keeps that.
    # ``seed`` is the probe's own randomness (weight init, dropout), the one ``--seed`` changes
    # for multi-seed runs.
    grid_seed: int = 42
    seed: int = 42
    # heareval's training loader never shuffles (it tests ``split_name == "train"`` on a list):
    # its only batch mixing is the one-off file shuffle of its embeddings memmap, which
    # hear_runner.build_probe_split reproduces.
    shuffle_train: bool = False
    event_postprocessing_grid: dict = field(
        default_factory=lambda: {"median_filter_ms": [250], "min_duration": [125, 250]}
    )
    use_scoring_for_early_stopping: bool = True
    device: str = "cpu"

    def with_task_overrides(self, metadata: dict) -> "ProbeConfig":
        """Apply heareval's per-task grid changes: its built-in table, then the task's ``evaluation_params``."""
        params = metadata.get("evaluation_params", {}) or {}
        changes: dict = {}
        grid = {
            **HEAREVAL_TASK_SPECIFIC_PARAM_GRID.get(metadata.get("task_name", ""), {}),
            **(params.get("task_specific_param_grid") or {}),
        }
        for key, values in grid.items():
            values = list(values) if isinstance(values, (list, tuple)) else [values]
            if key in ("hidden_layers", "lr", "initialization"):
                mapped = {"lr": "lrs", "initialization": "initializations"}.get(key, key)
                changes[mapped] = tuple(values)
            elif key in ("hidden_dim", "dropout", "batch_size", "max_epochs", "patience", "check_val_every_n_epoch"):
                if len(values) != 1:
                    raise ConfigError(f"task_specific_param_grid.{key}: spear-bench supports one value, got {values}")
                changes[key] = type(getattr(self, key))(values[0])
            else:
                raise ConfigError(f"task_specific_param_grid.{key}: not supported by spear-bench's probe")
        if "event_postprocessing_grid" in params:
            changes["event_postprocessing_grid"] = dict(params["event_postprocessing_grid"])
        if "use_scoring_for_early_stopping" in metadata:
            changes["use_scoring_for_early_stopping"] = bool(metadata["use_scoring_for_early_stopping"])
        return replace(self, **changes)

    def protocol_dict(self) -> dict:
        """The settings that change scores (hashed into the results' config hash)."""
        out = {k: v for k, v in self.__dict__.items() if k != "device"}
        return copy.deepcopy(out)


@dataclass(frozen=True)
class GridPoint:
    hidden_layers: int
    initialization: str
    lr: float

    def as_dict(self) -> dict:
        return {"hidden_layers": self.hidden_layers, "initialization": self.initialization, "lr": self.lr}


def select_grid_points(config: ProbeConfig) -> list[GridPoint]:
    """The grid points heareval trains, in its order.

    heareval lists ``sklearn.model_selection.ParameterGrid(PARAM_GRID)`` (keys sorted, so
    hidden_layers varies slowest, then initialization, then lr), seeds Python's ``random``
    with 42 and shuffles the list, then takes the first ``grid_points``. The shuffle uses
    ``config.grid_seed`` (42), not the probe's ``seed``: another ``--seed`` trains the same points.
    """
    for init in config.initializations:
        if init not in INITIALIZATIONS:
            raise ConfigError(f"unknown initialization {init!r} (known: {INITIALIZATIONS})")
    points = [
        GridPoint(h, init, lr) for h in config.hidden_layers for init in config.initializations for lr in config.lrs
    ]
    random.Random(config.grid_seed).shuffle(points)
    return points[: config.grid_points]


# --- data ------------------------------------------------------------------------------------


@dataclass
class ProbeSplit:
    """Instances of one data split: a clip each (scene) or a frame each (timestamp)."""

    x: torch.Tensor  # (N, D) float32
    y: torch.Tensor  # (N, C) one-hot / multi-hot float32
    files: list[str] | None = None  # per instance (timestamp tasks)
    timestamps: np.ndarray | None = None  # per instance, ms (timestamp tasks)
    target_events: dict | None = None  # file -> events (timestamp tasks)
    clip_files: list[str] | None = None  # per instance (scene tasks)

    def to(self, device: str) -> "ProbeSplit":
        return replace(self, x=self.x.to(device), y=self.y.to(device))


@dataclass
class ScoreResult:
    scores: list[float]  # one per grid point (monitored value: primary score or loss)
    postprocessing: list[tuple] | None = None  # event tasks: best post-processing per grid point


# A validation scorer: (probabilities (G, N, C), logits (G, N, C), split) -> ScoreResult
Scorer = Callable[[torch.Tensor, torch.Tensor, ProbeSplit], ScoreResult]


# --- the stacked MLP ---------------------------------------------------------------------------


def _xavier(shape: tuple[int, int], gain: float, kind: str, gen: torch.Generator) -> torch.Tensor:
    fan_in, fan_out = shape
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    if kind == "xavier_uniform":
        bound = math.sqrt(3.0) * std
        return (torch.rand(shape, generator=gen) * 2 - 1) * bound
    return torch.randn(shape, generator=gen) * std


class StackedMLP:
    """G MLPs of the same depth as stacked tensors: layer weights (G, in, out)."""

    def __init__(
        self,
        points: Sequence[GridPoint],
        in_dim: int,
        out_dim: int,
        config: ProbeConfig,
        generator: torch.Generator,
        device: str,
    ):
        depths = {p.hidden_layers for p in points}
        if len(depths) != 1:
            raise ConfigError("StackedMLP: grid points must share hidden_layers")
        self.depth = depths.pop()
        self.dropout = config.dropout
        self.params: dict[str, torch.Tensor] = {}
        self.buffers: dict[str, torch.Tensor] = {}
        dims = [in_dim] + [config.hidden_dim] * self.depth + [out_dim]
        relu_gain = math.sqrt(2.0)
        for layer in range(self.depth + 1):
            fan_in, fan_out = dims[layer], dims[layer + 1]
            gain = 1.0 if layer == 0 else relu_gain  # heareval: gain of the previous activation
            weights, biases = [], []
            for p in points:
                weights.append(_xavier((fan_in, fan_out), gain, p.initialization, generator))
                bound = 1.0 / math.sqrt(fan_in)  # torch.nn.Linear's default bias init
                biases.append((torch.rand(fan_out, generator=generator) * 2 - 1) * bound)
            self.params[f"w{layer}"] = torch.stack(weights)
            self.params[f"b{layer}"] = torch.stack(biases)
            if layer < self.depth:
                self.params[f"gamma{layer}"] = torch.ones(len(points), fan_out)
                self.params[f"beta{layer}"] = torch.zeros(len(points), fan_out)
                self.buffers[f"mean{layer}"] = torch.zeros(len(points), fan_out)
                self.buffers[f"var{layer}"] = torch.ones(len(points), fan_out)
        for name in list(self.params):
            self.params[name] = self.params[name].to(device).requires_grad_(True)
        for name in list(self.buffers):
            self.buffers[name] = self.buffers[name].to(device)

    @property
    def size(self) -> int:
        return self.params["w0"].shape[0]

    def forward(self, x: torch.Tensor, train: bool, generator: torch.Generator | None = None) -> torch.Tensor:
        """Logits (G, N, C) for inputs (N, D) shared by all grid points."""
        G = self.size
        w0 = self.params["w0"]
        # One GEMM for all grid points: (N, D) @ (D, G*H) -> (G, N, H).
        h = (x @ w0.permute(1, 0, 2).reshape(w0.shape[1], -1)).view(x.shape[0], G, -1).transpose(0, 1)
        h = h + self.params["b0"].unsqueeze(1)
        for layer in range(self.depth):
            if layer > 0:
                h = torch.baddbmm(self.params[f"b{layer}"].unsqueeze(1), h, self.params[f"w{layer}"])
            h = self._batch_norm(h, layer, train)
            if train and self.dropout > 0:
                keep = torch.rand(h.shape, generator=generator, device=h.device) >= self.dropout
                h = h * keep / (1.0 - self.dropout)
            h = torch.relu(h)
        last = self.depth
        return torch.baddbmm(self.params[f"b{last}"].unsqueeze(1), h, self.params[f"w{last}"])

    def _batch_norm(self, h: torch.Tensor, layer: int, train: bool) -> torch.Tensor:
        gamma, beta = self.params[f"gamma{layer}"].unsqueeze(1), self.params[f"beta{layer}"].unsqueeze(1)
        if train:
            n = h.shape[1]
            mean = h.mean(dim=1, keepdim=True)
            var = h.var(dim=1, unbiased=False, keepdim=True)
            with torch.no_grad():  # running statistics as torch.nn.BatchNorm1d (unbiased variance)
                unbiased = var * (n / max(n - 1, 1))
                self.buffers[f"mean{layer}"].mul_(1 - BN_MOMENTUM).add_(BN_MOMENTUM * mean.squeeze(1))
                self.buffers[f"var{layer}"].mul_(1 - BN_MOMENTUM).add_(BN_MOMENTUM * unbiased.squeeze(1))
        else:
            mean = self.buffers[f"mean{layer}"].unsqueeze(1)
            var = self.buffers[f"var{layer}"].unsqueeze(1)
        return (h - mean) * torch.rsqrt(var + BN_EPS) * gamma + beta

    def select(self, keep: list[int]) -> None:
        """Keep only grid points ``keep`` (others have stopped)."""
        index = torch.tensor(keep, device=self.params["w0"].device)
        for name, value in self.params.items():
            self.params[name] = value.detach().index_select(0, index).requires_grad_(True)
        for name, value in self.buffers.items():
            self.buffers[name] = value.index_select(0, index)

    def state_of(self, i: int) -> dict[str, torch.Tensor]:
        state = {k: v[i : i + 1].detach().clone() for k, v in self.params.items()}
        state.update({k: v[i : i + 1].clone() for k, v in self.buffers.items()})
        return state

    @classmethod
    def from_state(cls, state: dict[str, torch.Tensor], dropout: float) -> "StackedMLP":
        model = cls.__new__(cls)
        model.depth = sum(1 for k in state if k.startswith("gamma"))
        model.dropout = dropout
        model.params = {k: v for k, v in state.items() if not k.startswith(("mean", "var"))}
        model.buffers = {k: v for k, v in state.items() if k.startswith(("mean", "var"))}
        return model


class StackedAdam:
    """torch.optim.Adam's update (defaults, no weight decay) with one learning rate per grid point."""

    def __init__(self, lrs: torch.Tensor):
        self.lrs = lrs  # (G,)
        self.step_count = 0
        self.m: dict[str, torch.Tensor] = {}
        self.v: dict[str, torch.Tensor] = {}

    def select(self, keep: list[int]) -> None:
        index = torch.tensor(keep, device=self.lrs.device)
        self.lrs = self.lrs.index_select(0, index)
        for store in (self.m, self.v):
            for name in list(store):
                store[name] = store[name].index_select(0, index)

    @torch.no_grad()
    def step(self, params: dict[str, torch.Tensor]) -> None:
        self.step_count += 1
        b1, b2 = ADAM_BETAS
        bias1 = 1 - b1**self.step_count
        bias2_sqrt = math.sqrt(1 - b2**self.step_count)
        for name, p in params.items():
            grad = p.grad
            if grad is None:
                continue
            if name not in self.m:
                self.m[name] = torch.zeros_like(p)
                self.v[name] = torch.zeros_like(p)
            m, v = self.m[name], self.v[name]
            m.mul_(b1).add_(grad, alpha=1 - b1)
            v.mul_(b2).addcmul_(grad, grad, value=1 - b2)
            step_size = (self.lrs / bias1).view(-1, *([1] * (p.dim() - 1)))
            update = v.sqrt().div_(bias2_sqrt).add_(ADAM_EPS)
            torch.div(m, update, out=update)
            p.sub_(update.mul_(step_size))
            p.grad = None


# --- training ------------------------------------------------------------------------------------


@dataclass
class TrainedProbe:
    point: GridPoint
    state: dict[str, torch.Tensor]
    validation_score: float
    epoch: int  # epoch of the best validation check (0-based, as Lightning counts)
    epochs_run: int
    postprocessing: tuple | None
    seconds: float
    score_mode: str  # max | min

    def predict(self, x: torch.Tensor, prediction_type: str, dropout: float = 0.1) -> torch.Tensor:
        model = StackedMLP.from_state({k: v.to(x.device) for k, v in self.state.items()}, dropout)
        with torch.no_grad():
            logits = model.forward(x, train=False)[0]
        return activation(logits, prediction_type)


def activation(logits: torch.Tensor, prediction_type: str) -> torch.Tensor:
    return torch.softmax(logits, dim=-1) if prediction_type == "multiclass" else torch.sigmoid(logits)


def loss_per_point(logits: torch.Tensor, y: torch.Tensor, prediction_type: str) -> torch.Tensor:
    """(G,) mean loss of each grid point: cross entropy (multiclass, one-hot y) or BCE with logits."""
    G, N, C = logits.shape
    if prediction_type == "multiclass":
        target = y.argmax(dim=1).repeat(G)
        return F.cross_entropy(logits.reshape(G * N, C), target, reduction="none").view(G, N).mean(1)
    return F.binary_cross_entropy_with_logits(logits, y.unsqueeze(0).expand(G, N, C), reduction="none").mean(dim=(1, 2))


def _is_better(score: float, best: float, mode: str) -> bool:
    if math.isnan(score):
        return False
    return score > best if mode == "max" else score < best


def train_grid(
    points: Sequence[GridPoint],
    train: ProbeSplit,
    valid: ProbeSplit,
    prediction_type: str,
    scorer: Scorer,
    score_mode: str,
    config: ProbeConfig,
    progress: Callable[[int], None] | None = None,
) -> list[TrainedProbe]:
    """Train every grid point (stacked by depth) with early stopping; return one TrainedProbe per point, in order."""
    device = config.device
    train, valid = train.to(device), valid.to(device)
    n_in, n_out = train.x.shape[1], train.y.shape[1]
    results: dict[int, TrainedProbe] = {}
    by_depth: dict[int, list[int]] = {}
    for i, p in enumerate(points):
        by_depth.setdefault(p.hidden_layers, []).append(i)
    for depth, indices in sorted(by_depth.items()):
        generator = torch.Generator().manual_seed(config.seed + depth)
        dropout_gen = torch.Generator(device=device).manual_seed(config.seed + 1000 + depth)
        group = [points[i] for i in indices]
        start = time.perf_counter()
        model = StackedMLP(group, n_in, n_out, config, generator, device)
        optimizer = StackedAdam(torch.tensor([p.lr for p in group], device=device))
        active = list(range(len(group)))  # positions (in ``group``) still training, aligned with the stack
        worst = -math.inf if score_mode == "max" else math.inf
        best_score = [worst] * len(group)
        best_state: list[dict | None] = [None] * len(group)
        best_epoch = [0] * len(group)
        best_post: list[tuple | None] = [None] * len(group)
        waits = [0] * len(group)
        stopped_at = [config.max_epochs] * len(group)
        n = train.x.shape[0]
        order_gen = torch.Generator().manual_seed(config.seed)
        for epoch in range(config.max_epochs):
            order = torch.randperm(n, generator=order_gen).to(device) if config.shuffle_train else None
            for lo in range(0, n, config.batch_size):
                idx = order[lo : lo + config.batch_size] if order is not None else slice(lo, lo + config.batch_size)
                xb, yb = train.x[idx], train.y[idx]
                logits = model.forward(xb, train=True, generator=dropout_gen)
                loss_per_point(logits, yb, prediction_type).sum().backward()
                optimizer.step(model.params)
            if progress is not None:
                progress(len(active))
            if (epoch + 1) % config.check_val_every_n_epoch != 0:
                continue
            with torch.no_grad():
                logits = model.forward(valid.x, train=False)
                result = scorer(activation(logits, prediction_type), logits, valid)
            stop_now = []
            for pos, score in enumerate(result.scores):
                g = active[pos]
                if best_state[g] is None or _is_better(score, best_score[g], score_mode):
                    best_score[g] = score if not math.isnan(score) else worst
                    best_state[g] = model.state_of(pos)
                    best_epoch[g] = epoch
                    best_post[g] = result.postprocessing[pos] if result.postprocessing else None
                    waits[g] = 0
                else:
                    waits[g] += 1
                # Lightning's EarlyStopping: stop after `patience` checks without improvement, or on a non-finite score.
                if waits[g] >= config.patience or not math.isfinite(score):
                    stop_now.append(pos)
                    stopped_at[g] = epoch + 1
            if stop_now:
                keep = [pos for pos in range(len(active)) if pos not in stop_now]
                active = [active[pos] for pos in keep]
                if not active:
                    break
                model.select(keep)
                optimizer.select(keep)
        seconds = time.perf_counter() - start
        for pos, g in enumerate(range(len(group))):
            if best_state[g] is None:  # max_epochs below the first check: keep the last weights
                best_state[g] = model.state_of(active.index(g))
                best_epoch[g] = config.max_epochs - 1
            results[indices[g]] = TrainedProbe(
                point=group[g],
                state={k: v.cpu() for k, v in best_state[g].items()},
                validation_score=float(best_score[g]),
                epoch=best_epoch[g],
                epochs_run=stopped_at[g],
                postprocessing=best_post[g],
                seconds=seconds / len(group),
                score_mode=score_mode,
            )
    return [results[i] for i in range(len(points))]


def best_probe(probes: Sequence[TrainedProbe]) -> TrainedProbe:
    """The grid point with the best validation score (heareval's sort: stable, first wins ties)."""
    mode = probes[0].score_mode
    return sorted(probes, key=lambda p: p.validation_score, reverse=(mode == "max"))[0]
