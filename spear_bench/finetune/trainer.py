"""The fine-tuning loop shared by ASR and audio tagging: optimiser, schedule, freezing,
checkpoints and resume.

The plumbing is spear_bench.train's, as in pre-training: a run folder holds
``checkpoints/step-XXXXXXXX/`` (train.checkpoint; model, optimiser, schedule, data position,
and the random states of train.rng), written every ``save_every`` steps and at the end, of
which the last is kept; a killed run started again with the same settings continues from
it with the batches it had not yet seen. ``log.jsonl`` (train.log) gets one line per
``log_every`` steps.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from tqdm.auto import tqdm

from spear_bench.errors import CheckpointError, ConfigError
from spear_bench.finetune.config import OptimConfig, TrainConfig
from spear_bench.finetune.data import BatchStream, StreamPosition
from spear_bench.finetune.model import FinetuneModel
from spear_bench.train.checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint
from spear_bench.train.log import TrainLog
from spear_bench.train.optim import Eden, EdenConfig, ScaledAdam, ScaledAdamConfig
from spear_bench.train.rng import capture_rng, restore_rng

KEEP_LAST = 1  # checkpoints kept per run folder
LEGACY_CHECKPOINT = "checkpoint.pt"  # the single-file layout of spear-bench before the train package


def _scaled_adam(groups: list[dict], config: OptimConfig) -> torch.optim.Optimizer:
    return ScaledAdam(groups, ScaledAdamConfig(lr=config.lr))


def _adamw(groups: list[dict], config: OptimConfig) -> torch.optim.Optimizer:
    return torch.optim.AdamW(groups, lr=config.lr, weight_decay=config.weight_decay)


OPTIMIZERS: dict[str, Callable[[list[dict], OptimConfig], torch.optim.Optimizer]] = {
    "scaled_adam": _scaled_adam,
    "adamw": _adamw,
}


def build_optimizer(model: FinetuneModel, config: OptimConfig):
    """Optimiser with the encoder at ``lr * encoder_lr_scale`` and its Eden schedule."""
    if config.name not in OPTIMIZERS:
        raise ConfigError(f"train.optim.name: unknown optimiser {config.name!r}; known: {', '.join(OPTIMIZERS)}")
    groups = [g for g in model.param_groups(config.lr, config.encoder_lr_scale) if g["params"]]
    optimizer = OPTIMIZERS[config.name](groups, config)
    schedule = Eden(
        optimizer, EdenConfig(lr_steps=config.lr_steps, lr_epochs=config.lr_epochs, warmup_steps=config.warmup_steps)
    )
    return optimizer, schedule


@dataclass
class TrainResult:
    steps: int
    resumed_from: int
    last_loss: float


def has_checkpoint(out_dir: str | Path) -> bool:
    return latest_checkpoint(out_dir) is not None


class FinetuneTrainer:
    """One fine-tuning run: the model and its optimiser, resumed from ``out_dir`` if asked, then the loop."""

    def __init__(
        self,
        model: FinetuneModel,
        stream: BatchStream,
        loss_fn: Callable[[FinetuneModel, dict, torch.Generator, int], torch.Tensor],
        config: TrainConfig,
        out_dir: Path,
        resume_key: str,
        device: torch.device,
        progress: bool = True,
        epoch_size: int | None = None,
    ):
        self.model, self.stream, self.loss_fn, self.config = model, stream, loss_fn, config
        self.out_dir, self.resume_key, self.progress, self.epoch_size = Path(out_dir), resume_key, progress, epoch_size
        self.out_dir.mkdir(parents=True, exist_ok=True)
        torch.manual_seed(config.seed)
        self.generator = torch.Generator().manual_seed(config.seed)
        model.to(device)
        self.optimizer, self.schedule = build_optimizer(model, config.optim)
        self.log = TrainLog(self.out_dir)
        self.step = 0
        self.last_loss = math.nan

    def resume(self) -> int:
        """Continue from the run folder's checkpoint, if any; returns the step it holds (0: none)."""
        folder = latest_checkpoint(self.out_dir)
        if folder is None:
            if (self.out_dir / LEGACY_CHECKPOINT).exists():
                raise CheckpointError(
                    f"{self.out_dir / LEGACY_CHECKPOINT}: a checkpoint of an older spear-bench, which this one "
                    "cannot resume; pass --no-resume to start over or choose another --out"
                )
            return 0
        state, rng = load_checkpoint(folder)
        if state.get("resume_key") != self.resume_key:
            raise CheckpointError(
                f"{folder} was written by a run with other settings; pass --no-resume to start over "
                "or choose another --out"
            )
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.schedule.load_state_dict(state["schedule"])
        self.stream.position = StreamPosition(**state["position"])
        restore_rng(rng, self.generator)
        self.step, self.last_loss = int(state["step"]), float(state["last_loss"])
        return self.step

    def save(self) -> Path:
        state = {
            "resume_key": self.resume_key,
            "step": self.step,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "schedule": self.schedule.state_dict(),
            "position": dataclasses.asdict(self.stream.position),
            "last_loss": self.last_loss,
        }
        return save_checkpoint(self.out_dir, self.step, state, capture_rng(self.generator), keep_last=KEEP_LAST)

    def run(self) -> None:
        """Train until ``config.max_steps``; non-finite losses skip their batch (at most 100 times)."""
        config, model = self.config, self.model
        self.log.start(self.step)
        bar = tqdm(
            total=config.max_steps,
            initial=self.step,
            desc="fine-tune",
            unit="step",
            disable=not self.progress,
            dynamic_ncols=True,
        )
        batches = iter(self.stream)
        skipped = 0
        while self.step < config.max_steps:
            batch = next(batches)
            model.train()
            model.encoder_frozen = self.step < config.freeze_encoder_steps
            loss = self.loss_fn(model, batch, self.generator, self.step)
            if not torch.isfinite(loss):
                skipped += 1  # a bad batch (e.g. transcript longer than the audio) must not poison the weights
                if skipped > 100:
                    raise FloatingPointError("more than 100 non-finite losses: check the data and learning rate")
                self.optimizer.zero_grad(set_to_none=True)
                continue
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if config.optim.name != "scaled_adam" and config.optim.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), config.optim.grad_clip)
            self.optimizer.step()
            self.step += 1
            position = self.stream.position
            epoch = position.epoch + (position.batch / self.epoch_size if self.epoch_size else 0.0)
            self.schedule.step_batch(self.step)
            self.schedule.step_epoch(epoch)
            self.last_loss = float(loss.detach())
            bar.update(1)
            bar.set_postfix(loss=f"{self.last_loss:.3f}", frozen=model.encoder_frozen)
            if self.step % config.log_every == 0 or self.step == config.max_steps:
                self.log.write(
                    {"step": self.step, "loss": self.last_loss, "lr": self.schedule.get_last_lr(), "epoch": epoch}
                )
            if self.step % config.save_every == 0 or self.step == config.max_steps:
                self.save()
        bar.close()
        model.encoder_frozen = False
        model.eval()


def train(
    model: FinetuneModel,
    stream: BatchStream,
    loss_fn: Callable[[FinetuneModel, dict, torch.Generator, int], torch.Tensor],
    config: TrainConfig,
    out_dir: Path,
    resume_key: str,
    device: torch.device,
    resume: bool = True,
    progress: bool = True,
    epoch_size: int | None = None,
) -> TrainResult:
    """Train ``model`` for ``config.max_steps`` steps (continuing a checkpoint in ``out_dir`` if any)."""
    trainer = FinetuneTrainer(model, stream, loss_fn, config, out_dir, resume_key, device, progress, epoch_size)
    resumed_from = trainer.resume() if resume else 0
    trainer.run()
    return TrainResult(trainer.step, resumed_from, trainer.last_loss)
