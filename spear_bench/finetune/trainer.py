"""The fine-tuning loop shared by ASR and audio tagging: optimiser, schedule, freezing,
checkpoints and resume.

A run folder holds ``checkpoint.pt`` (model, optimiser, schedule, data position and RNG
states), written atomically every ``save_every`` steps and at the end; a killed run
started again with the same settings continues from it with the batches it had not yet
seen. ``train_log.jsonl`` gets one line per ``log_every`` steps.
"""

from __future__ import annotations

import dataclasses
import io
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from spear_bench.errors import CheckpointError, ConfigError
from spear_bench.finetune.config import OptimConfig, TrainConfig
from spear_bench.finetune.data import BatchStream, StreamPosition
from spear_bench.finetune.model import FinetuneModel
from spear_bench.results import atomic_write_bytes

CHECKPOINT = "checkpoint.pt"


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as error:
        raise ConfigError(f"train.device: {name!r} is not a device ({error})") from error
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"train.device is {name!r} but no CUDA device is available")
    return device


def _scaled_adam(groups: list[dict], config: OptimConfig) -> torch.optim.Optimizer:
    from spear_bench.pretrain.optim import ScaledAdam, ScaledAdamConfig

    return ScaledAdam(groups, ScaledAdamConfig(lr=config.lr))


def _adamw(groups: list[dict], config: OptimConfig) -> torch.optim.Optimizer:
    return torch.optim.AdamW(groups, lr=config.lr, weight_decay=config.weight_decay)


OPTIMIZERS: dict[str, Callable[[list[dict], OptimConfig], torch.optim.Optimizer]] = {
    "scaled_adam": _scaled_adam,
    "adamw": _adamw,
}


def build_optimizer(model: FinetuneModel, config: OptimConfig):
    """Optimiser with the encoder at ``lr * encoder_lr_scale`` and its Eden schedule."""
    from spear_bench.pretrain.optim import Eden, EdenConfig

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


def _save(path: Path, payload: dict) -> None:
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    atomic_write_bytes(path, buffer.getvalue())


def load_checkpoint(out_dir: Path, resume_key: str) -> dict | None:
    path = Path(out_dir) / CHECKPOINT
    if not path.exists():
        return None
    try:
        payload = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as error:  # noqa: BLE001 - any unreadable file is the same user error
        raise CheckpointError(f"{path}: unreadable checkpoint ({error})") from error
    if payload.get("resume_key") != resume_key:
        raise CheckpointError(
            f"{path} was written by a run with other settings; pass --no-resume to start over or choose another --out"
        )
    return payload


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
    from tqdm.auto import tqdm

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    model.to(device)
    optimizer, schedule = build_optimizer(model, config.optim)
    step = 0
    payload = load_checkpoint(out_dir, resume_key) if resume else None
    if payload is not None:
        model.load_state_dict(payload["model"])
        optimizer.load_state_dict(payload["optimizer"])
        schedule.load_state_dict(payload["schedule"])
        stream.position = StreamPosition(**payload["position"])
        generator.set_state(payload["generator"])
        torch.set_rng_state(payload["torch_rng"])
        step = int(payload["step"])
    resumed_from = step

    def save() -> None:
        _save(
            out_dir / CHECKPOINT,
            {
                "resume_key": resume_key,
                "step": step,
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "schedule": schedule.state_dict(),
                "position": dataclasses.asdict(stream.position),
                "generator": generator.get_state(),
                "torch_rng": torch.get_rng_state(),
                "last_loss": last_loss,
            },
        )

    last_loss = math.nan
    log_path = out_dir / "train_log.jsonl"
    bar = tqdm(
        total=config.max_steps, initial=step, desc="fine-tune", unit="step", disable=not progress, dynamic_ncols=True
    )
    batches = iter(stream)
    skipped = 0
    while step < config.max_steps:
        batch = next(batches)
        model.train()
        model.encoder_frozen = step < config.freeze_encoder_steps
        loss = loss_fn(model, batch, generator, step)
        if not torch.isfinite(loss):
            skipped += 1  # a bad batch (e.g. transcript longer than the audio) must not poison the weights
            if skipped > 100:
                raise FloatingPointError("more than 100 non-finite losses: check the data and learning rate")
            optimizer.zero_grad(set_to_none=True)
            continue
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if config.optim.name != "scaled_adam" and config.optim.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.optim.grad_clip)
        optimizer.step()
        step += 1
        epoch = stream.position.epoch + (stream.position.batch / epoch_size if epoch_size else 0.0)
        schedule.step_batch(step)
        schedule.step_epoch(epoch)
        last_loss = float(loss.detach())
        bar.update(1)
        bar.set_postfix(loss=f"{last_loss:.3f}", frozen=model.encoder_frozen)
        if step % config.log_every == 0 or step == config.max_steps:
            with log_path.open("a") as log:
                log.write(
                    json.dumps({"step": step, "loss": last_loss, "lr": schedule.get_last_lr(), "epoch": epoch}) + "\n"
                )
        if step % config.save_every == 0 or step == config.max_steps:
            save()
    bar.close()
    if payload is not None and step == resumed_from and "last_loss" in payload:
        last_loss = payload["last_loss"]
    model.encoder_frozen = False
    model.eval()
    return TrainResult(step, resumed_from, last_loss)
