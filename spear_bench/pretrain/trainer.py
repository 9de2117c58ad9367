"""The pre-training loop: masked multi-codebook prediction with ScaledAdam + Eden, exact resume, DDP.

One step: load the batch's cuts -> token/noise mixing -> fbank -> channel + time masks ->
encoder -> one head per codebook and token set -> Eq. 1 per utterance, weighted per
token set by the dual-domain strategy -> sum / number of 50 Hz frames -> backward ->
ScaledAdam -> Eden.

The plumbing is spear_bench.train's: device, DDP, checkpoints, random states, log.

Exact resume: a checkpoint (train.checkpoint: exp/checkpoints/step-XXXXXXXX/) holds the
model (encoder, mask embedding, heads), the optimiser (incl. its clipping history), the
scheduler, the sampler position (epoch, batch index), and per rank every random state the
step consumes (train.rng: torch, Python ``random`` (the encoder's Balancer/Whiten), NumPy,
the augmentation/masking generator) plus the Whiten modules' adaptive probabilities, and
the encoder in the release layout. The encoder's regulariser schedules are set from the
step counter before every forward. Resuming with the same config and world size then
reproduces the uninterrupted run's losses bit for bit (CPU, deterministic mode).

Multi-process: ``torchrun --nproc_per_node N -m spear_bench pretrain --config FILE`` or
``spear-bench pretrain --nproc N`` (torch.multiprocessing spawn); gloo on CPU, NCCL on GPUs.
Every rank trains on every N-th batch of the same global batch list.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from spear_bench.atomic_io import atomic_write_text
from spear_bench.audio import fbank_batch
from spear_bench.errors import CheckpointError, ConfigError
from spear_bench.models.checkpoint import save_spear_checkpoint
from spear_bench.models.zipformer_ops import set_batch_count
from spear_bench.pretrain.config import PretrainConfig
from spear_bench.pretrain.data import EpochBatchSampler, PretrainDataset, align_targets, collate, load_cuts, load_noises
from spear_bench.pretrain.losses import masked_prediction_loss
from spear_bench.pretrain.masking import downsample_frame_mask, sample_masks
from spear_bench.pretrain.mixing import augment_batch
from spear_bench.pretrain.model import SpearPretrainModel, build_pretrain_model
from spear_bench.pretrain.pipeline import layout, load_quantizer, noise_folders, prepare_training_data
from spear_bench.pretrain.strategies import token_set_weights
from spear_bench.train import distributed
from spear_bench.train.checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint
from spear_bench.train.device import select_device
from spear_bench.train.log import TrainLog, read_log
from spear_bench.train.optim import Eden, ScaledAdam
from spear_bench.train.rng import capture_rng, restore_rng, seed_everything

log = logging.getLogger(__name__)

__all__ = ["PretrainTrainer", "RunResult", "TrainState", "read_log", "run_pretraining", "train_worker"]


@dataclass
class TrainState:
    step: int = 0
    epoch: int = 0
    batch_in_epoch: int = 0
    seconds_seen: float = 0.0  # audio seen by all ranks (Eden's "epoch" when measured in hours)


@dataclass
class RunResult:
    exp_dir: Path
    records: list[dict] = field(default_factory=list)
    final_step: int = 0
    resumed_from: int | None = None


def _whiten_probs(model: torch.nn.Module) -> dict[str, float]:
    """The Whiten modules' adaptive probabilities: random state of a kind, saved with the RNGs."""
    return {name: float(m.prob) for name, m in model.named_modules() if hasattr(m, "min_prob") and hasattr(m, "prob")}


# -- trainer -----------------------------------------------------------------------------


class PretrainTrainer:
    """One rank's training run: build everything from the config, resume, loop, save."""

    def __init__(
        self,
        config: PretrainConfig,
        cuts,
        num_codebooks: dict[str, int],
        rank: int = 0,
        world_size: int = 1,
        noise_folders: list[Path] | None = None,
        progress: bool = True,
        codebook_sizes: dict[str, int] | None = None,
    ):
        self.config = config
        self.rank, self.world_size = rank, world_size
        self.progress = progress and rank == 0
        train = config.train
        if train.num_threads:
            torch.set_num_threads(train.num_threads)
        if train.deterministic:
            torch.use_deterministic_algorithms(True, warn_only=True)
        self.device = select_device("auto", rank)
        seed_everything(train.seed + rank)
        self.generator = torch.Generator().manual_seed(train.seed * 1000 + rank)
        self.token_sets = [t.name for t in config.token_sets]
        self.num_codebooks = {name: num_codebooks[name] for name in self.token_sets}
        self.dataset = self.sampler = None  # cuts=None: no data set (benchmarks call train_on_samples directly)
        if cuts is not None:
            self.dataset = PretrainDataset(cuts, self.token_sets)
            self.sampler = EpochBatchSampler(self.dataset.durations, train.batch_duration, train.seed, world_size, rank)
        self.noises = load_noises(noise_folders or [])
        self.model: SpearPretrainModel = build_pretrain_model(config.model, self.num_codebooks, codebook_sizes).to(
            self.device
        )
        self.model.train()
        self.net = self.model
        if distributed.is_distributed():
            # Training-only skips (e.g. of the positional encoding) leave some parameters
            # without gradient on some steps.
            self.net = DistributedDataParallel(self.model, find_unused_parameters=True)
        self.optimizer = ScaledAdam(self.model.parameters(), config.optim)
        self.scheduler = Eden(self.optimizer, config.schedule)
        self.state = TrainState()
        self.exp_dir = config.work_path / "exp"
        self.log = TrainLog(self.exp_dir, tensorboard=train.tensorboard)
        self._epoch_batches: tuple[int, list[list[int]]] | None = None

    # -- one step ------------------------------------------------------------------------

    def _batches(self, epoch: int) -> list[list[int]]:
        if self._epoch_batches is None or self._epoch_batches[0] != epoch:
            self._epoch_batches = (epoch, self.sampler.batches(epoch))
        return self._epoch_batches[1]

    def _set_batch_count(self) -> None:
        train = self.config.train
        set_batch_count(
            self.model.encoder, self.state.step * train.batch_duration * self.world_size / train.ref_duration
        )

    def train_step(self, indices: list[int]) -> dict:
        return self.train_on_samples([self.dataset.sample(i) for i in indices])

    def train_on_samples(self, samples: list) -> dict:
        """One optimisation step on these samples (augmentation, masking, loss, update); returns its record."""
        config = self.config
        samples = augment_batch(samples, config.augment.token_mixing, config.augment.noise, self.noises, self.generator)
        batch = collate(samples, self.num_codebooks)
        feats, feat_lens = fbank_batch(batch.waves, batch.wave_lens)
        time_mask, channel_mask = sample_masks(
            feat_lens, feats.shape[1], feats.shape[2], config.masking, self.generator
        )
        self._set_batch_count()
        logits, enc_lens = self.net(feats.to(self.device), feat_lens.to(self.device), time_mask, channel_mask)
        enc_lens = enc_lens.cpu()
        num_frames = next(iter(logits.values())).shape[1]
        frame_mask = downsample_frame_mask(time_mask, num_frames)
        weights = token_set_weights(config.loss.strategy, batch.domains, self.token_sets, config.loss.audio_weight)
        total = torch.zeros((), device=self.device)
        sums = []
        for name in self.token_sets:
            targets = align_targets(batch.targets[name], enc_lens, num_frames).to(self.device)
            terms = masked_prediction_loss(logits[name], targets, frame_mask, config.loss.alpha)
            total = total + (weights[name].to(self.device) * terms.loss).sum()
            # Logged cross entropies cover the samples this token set is trained on (weight > 0).
            used = (weights[name] > 0).to(self.device)
            n = terms.num_codebooks
            sums += [
                float((terms.masked_ce.detach() * used).sum()),
                float((terms.masked_frames * used).sum()) * n,
                float((terms.unmasked_ce.detach() * used).sum()),
                float((terms.unmasked_frames * used).sum()) * n,
            ]
        frames = float(enc_lens.sum())
        loss = total / max(frames, 1.0)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        stats = distributed.all_reduce_sum(
            torch.tensor([float(total.detach()), frames, batch.seconds, *sums], dtype=torch.float64)
        )
        record = {
            "step": self.state.step + 1,
            "epoch": self.state.epoch,
            "loss": float(stats[0] / max(float(stats[1]), 1.0)),
            "lr": self.scheduler.get_last_lr()[0],
            "clip": self.optimizer.last_clipping_factor,
            "batch_seconds": float(stats[2]),
            "token_mixed": batch.num_token_mixed,
            "noise_mixed": batch.num_noise_mixed,
        }
        for k, name in enumerate(self.token_sets):
            masked, masked_n, unmasked, unmasked_n = (float(x) for x in stats[3 + 4 * k : 7 + 4 * k])
            # None (JSON null) when no sample of the batch is trained on this token set.
            record[f"{name}_masked_ce"] = masked / masked_n if masked_n else None
            record[f"{name}_unmasked_ce"] = unmasked / unmasked_n if unmasked_n else None
        self.state.seconds_seen += float(stats[2])
        return record

    # -- loop ----------------------------------------------------------------------------

    def run(self, max_steps: int | None = None) -> RunResult:
        """Train until ``max_steps`` (default: train.max_steps), resuming from the latest checkpoint if any."""
        train = self.config.train
        target = max_steps or train.max_steps
        result = RunResult(self.exp_dir)
        if train.resume:
            result.resumed_from = self.load_latest()
        if self.rank == 0:
            atomic_write_text(
                self.exp_dir / "config.json", json.dumps(self.config.to_dict(), indent=1, default=str) + "\n"
            )
            self.log.start(self.state.step)
        self._apply_schedule()
        bar = tqdm(total=target, initial=self.state.step, desc="pretrain", unit="step", disable=not self.progress)
        started = time.time()
        while self.state.step < target:
            batches = self._batches(self.state.epoch)
            if self.state.batch_in_epoch >= len(batches):
                self.state.epoch += 1
                self.state.batch_in_epoch = 0
                self._apply_schedule()
                continue
            record = self.train_step(batches[self.state.batch_in_epoch])
            self.state.batch_in_epoch += 1
            self.state.step += 1
            self._apply_schedule()
            record["elapsed_s"] = time.time() - started
            result.records.append(record)
            self._log(record)
            bar.update(1)
            bar.set_postfix(loss=f"{record['loss']:.3f}")
            if self.state.step % train.save_every == 0 or self.state.step == target:
                self.save_checkpoint()
        bar.close()
        self._check_ranks_in_sync()
        if self.rank == 0:
            save_spear_checkpoint(self.model.encoder, self.exp_dir / "encoder")
        distributed.barrier()
        self.log.close()
        result.final_step = self.state.step
        return result

    def _check_ranks_in_sync(self) -> None:
        """DDP keeps every rank's weights identical; a difference means the gradients were not synchronised."""
        if not distributed.is_distributed():
            return
        sums = torch.stack([p.detach().double().sum().cpu() for p in self.model.parameters()])
        gathered = [torch.zeros_like(sums) for _ in range(self.world_size)]
        dist.all_gather(gathered, sums)
        if not all(torch.equal(gathered[0], g) for g in gathered[1:]):
            raise RuntimeError("DDP ranks hold different weights after training (gradients were not synchronised)")

    def _apply_schedule(self) -> None:
        measure = self.state.seconds_seen / 3600.0 if self.config.train.epoch_measure == "hours" else self.state.epoch
        self.scheduler.step = self.state.step
        self.scheduler.step_epoch(measure)

    def _log(self, record: dict) -> None:
        if self.rank != 0:
            return
        self.log.write(record)
        if record["step"] % self.config.train.log_every == 0:
            parts = [f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in record.items()]
            log.info("pretrain %s", " ".join(parts))

    # -- checkpoints (layout: spear_bench.train.checkpoint) -------------------------------

    def save_checkpoint(self) -> Path:
        """exp/checkpoints/step-XXXXXXXX/: train_state.pt, rng-rank<r>.pt, encoder/ (release layout)."""
        rng = {**capture_rng(self.generator), "whiten": _whiten_probs(self.model)}
        state = {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "train_state": vars(self.state).copy(),
            "world_size": self.world_size,
            "num_codebooks": self.num_codebooks,
        }
        return save_checkpoint(
            self.exp_dir,
            self.state.step,
            state,
            rng,
            rank=self.rank,
            keep_last=self.config.train.keep_last,
            export=lambda folder: save_spear_checkpoint(self.model.encoder, folder / "encoder"),
        )

    def load_latest(self) -> int | None:
        """Restore the latest checkpoint (returns its step) or do nothing (None)."""
        folder = latest_checkpoint(self.exp_dir)
        return None if folder is None else self.load_checkpoint(folder)

    def load_checkpoint(self, folder: Path) -> int:
        state, rng = load_checkpoint(folder, self.rank)
        if state["world_size"] != self.world_size:
            raise ConfigError(
                f"{folder}: written by {state['world_size']} process(es), resumed with {self.world_size}; "
                "resume with the same number"
            )
        if state["num_codebooks"] != self.num_codebooks:
            raise CheckpointError(
                f"{folder}: codebooks {state['num_codebooks']} differ from the config's {self.num_codebooks}"
            )
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.state = TrainState(**state["train_state"])
        restore_rng(rng, self.generator)
        modules = dict(self.model.named_modules())
        for name, prob in rng["whiten"].items():
            modules[name].prob = prob
        log.info("resumed from %s (step %d)", folder, self.state.step)
        return self.state.step


# -- entry points --------------------------------------------------------------------------


def _num_codebooks(config: PretrainConfig) -> dict[str, int]:
    work = layout(config)
    return {t.name: load_quantizer(work.quantizer(t)).num_codebooks for t in config.token_sets}


def _codebook_sizes(config: PretrainConfig) -> dict[str, int]:
    """Entries per codebook of each token set: 256 for MVQ, the number of clusters for k-means."""
    work = layout(config)
    return {t.name: load_quantizer(work.quantizer(t)).codebook_size for t in config.token_sets}


def train_worker(
    config: PretrainConfig, rank: int, world_size: int, max_steps: int | None = None, progress: bool = True
) -> RunResult:
    """Train on already prepared data (tokens manifest in work_dir) as ``rank`` of ``world_size``."""
    cuts = load_cuts(layout(config).tokens_manifest)
    trainer = PretrainTrainer(
        config,
        cuts,
        _num_codebooks(config),
        rank,
        world_size,
        noise_folders(config),
        progress,
        codebook_sizes=_codebook_sizes(config),
    )
    return trainer.run(max_steps)


def _spawned(
    rank: int, world_size: int, port: int, config: PretrainConfig, max_steps: int | None, progress: bool
) -> None:
    distributed.init_process_group(rank, world_size, port)
    try:
        train_worker(config, rank, world_size, max_steps, progress)
    finally:
        distributed.destroy_process_group()


def run_pretraining(
    config: PretrainConfig, nproc: int = 1, max_steps: int | None = None, progress: bool = True
) -> RunResult:
    """Prepare data/teachers/MVQ/tokens (once), then train with ``nproc`` processes (or as a torchrun rank)."""
    launched = distributed.torchrun_rank()
    if launched is not None:
        # Launched by torchrun: one process per rank, already given its rank.
        rank, world_size = launched
        distributed.init_process_group()
        try:
            if rank == 0:
                prepare_training_data(config, progress)
            distributed.barrier()
            return train_worker(config, rank, world_size, max_steps, progress)
        finally:
            distributed.destroy_process_group()
    prepare_training_data(config, progress)
    if nproc <= 1:
        return train_worker(config, 0, 1, max_steps, progress)
    mp.spawn(_spawned, args=(nproc, distributed.free_port(), config, max_steps, progress), nprocs=nproc, join=True)
    result = RunResult(layout(config).exp)
    records = read_log(result.exp_dir)
    result.records, result.final_step = records, (records[-1]["step"] if records else 0)
    return result
