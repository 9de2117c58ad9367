"""LibriSpeech ASR fine-tuning (paper Sec. 5.1 / Table 3 with RNN-T, Appendix C / Table 11 with CTC).

Read top to bottom: data -> units -> model -> train -> decode -> WER -> results store.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from spear_bench.errors import ConfigError
from spear_bench.finetune.config import AsrConfig
from spear_bench.finetune.data import BatchStream, eval_batches, make_sampler
from spear_bench.finetune.decoding import decode
from spear_bench.finetune.heads import CtcHead, TransducerHead
from spear_bench.finetune.librispeech import cut_transcript, librispeech_cuts
from spear_bench.finetune.metrics import word_errors
from spear_bench.finetune.model import FinetuneModel
from spear_bench.finetune.run import (
    RunSpec,
    TaskResult,
    load_start_encoder,
    resume_key,
    run_identity,
    stored_outcome,
    write_outcome,
)
from spear_bench.finetune.tokenizer import Tokenizer, load_tokenizer, train_tokenizer
from spear_bench.finetune.trainer import has_checkpoint, train
from spear_bench.train.device import select_device

log = logging.getLogger(__name__)


def _ctc(encoder_dim: int, tokenizer: Tokenizer, config: AsrConfig):
    return CtcHead(encoder_dim, tokenizer.vocab_size, tokenizer.blank_id, dropout=config.ctc_dropout)


def _rnnt(encoder_dim: int, tokenizer: Tokenizer, config: AsrConfig):
    return TransducerHead(
        encoder_dim,
        tokenizer.vocab_size,
        tokenizer.blank_id,
        config.decoder_dim,
        config.joiner_dim,
        config.context_size,
        loss_kind=config.rnnt_loss,
        prune_range=config.prune_range,
        simple_loss_scale=config.simple_loss_scale,
        lm_only_scale=config.lm_only_scale,
    )


ASR_HEADS = {"ctc": _ctc, "rnnt": _rnnt}


def build_asr_model(encoder, tokenizer: Tokenizer, config: AsrConfig) -> FinetuneModel:
    if config.head not in ASR_HEADS:
        raise ConfigError(f"head: unknown ASR head {config.head!r}; known: {', '.join(ASR_HEADS)}")
    return FinetuneModel(encoder, ASR_HEADS[config.head](encoder.hidden_size, tokenizer, config), config.spec_augment)


def split_metric(split: str) -> str:
    return "wer_" + split.replace("-", "_")


def prepare_tokenizer(out_dir: Path, texts: list[str], config: AsrConfig) -> Tokenizer:
    """The run's units: trained on the training transcripts once, then reloaded (resume)."""
    folder = Path(out_dir) / "tokenizer"
    if (folder / "tokenizer.json").exists():
        return load_tokenizer(folder)
    tokenizer = train_tokenizer(config.tokenizer, texts, config.vocab_size)
    tokenizer.save(folder)
    return tokenizer


@torch.no_grad()
def transcribe(
    model: FinetuneModel, cuts, tokenizer: Tokenizer, config: AsrConfig, device: torch.device, num_workers: int = 0
):
    """[(cut id, reference, hypothesis)] for every cut, decoded with ``config.decoding``."""
    model.eval()
    rows = []
    for batch in eval_batches(cuts, config.eval_max_duration, num_workers):
        encoder_out, lengths = model.encode(batch["waves"].to(device), batch["lengths"])
        for cut, ids in zip(
            batch["cuts"],
            decode(model.head, encoder_out, lengths, config.decoding, config.beam, config.max_sym_per_frame),
        ):
            rows.append((cut.id, cut_transcript(cut), tokenizer.decode(ids)))
    return rows


def evaluate(
    model, eval_cuts: dict, tokenizer, config: AsrConfig, device, out_dir: Path | None = None, tag: str = ""
) -> dict[str, float]:
    """WER (%) per split; with ``out_dir`` the references and hypotheses go to decode/<split><tag>.txt."""
    metrics = {}
    for split, cuts in eval_cuts.items():
        rows = transcribe(model, cuts, tokenizer, config, device)
        stats = word_errors([r for _, r, _ in rows], [h for _, _, h in rows])
        metrics[split_metric(split)] = stats.wer
        if out_dir is not None:
            folder = Path(out_dir) / "decode"
            folder.mkdir(parents=True, exist_ok=True)
            lines = [f"{cut_id}\tREF: {ref}\n{cut_id}\tHYP: {hyp}\n" for cut_id, ref, hyp in rows]
            (folder / f"{split}{tag}.txt").write_text(
                "".join(lines) + f"# WER {stats.wer:.2f}% ({stats.errors}/{stats.reference_words})\n"
            )
    return metrics


def finetune_asr(config: AsrConfig, spec: RunSpec) -> TaskResult:
    identity = run_identity("asr", config, spec)
    seed = config.train.seed
    cached = stored_outcome(spec, config.task, identity, seed)
    if cached is not None:
        return cached
    out_dir = Path(spec.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    device = select_device(config.train.device)

    # Data: lhotse cuts from the LibriSpeech folders (missing folders fail here, in one line).
    splits = list(dict.fromkeys(config.train_splits + config.eval_splits))
    cuts = librispeech_cuts(spec.data_dir, splits, manifest_dir=out_dir / "manifests")
    train_cuts = cuts[config.train_splits[0]]
    for split in config.train_splits[1:]:
        train_cuts = train_cuts + cuts[split]
    eval_cuts = {split: cuts[split] for split in config.eval_splits}
    tokenizer = prepare_tokenizer(out_dir, [cut_transcript(c) for c in train_cuts], config)
    epoch_size_cuts = train_cuts
    for factor in config.speed_perturb:
        epoch_size_cuts = epoch_size_cuts + train_cuts.perturb_speed(factor)
    train_cuts = epoch_size_cuts

    # Model: the pre-trained encoder + a fresh head.
    torch.manual_seed(seed)  # the head's initialisation
    model = build_asr_model(load_start_encoder(spec), tokenizer, config).to(device)
    metrics_before = {}
    if config.eval_before and not has_checkpoint(out_dir):
        metrics_before = evaluate(model, eval_cuts, tokenizer, config, device, out_dir, tag=".step0")

    def loss_fn(model: FinetuneModel, batch: dict, generator: torch.Generator, step: int) -> torch.Tensor:
        encoder_out, lengths = model.encode(batch["waves"].to(device), batch["lengths"], generator)
        targets = [tokenizer.encode(cut_transcript(cut)) for cut in batch["cuts"]]
        if config.head == "rnnt":
            warmup = step / config.pruned_warmup_steps if config.pruned_warmup_steps > 0 else 1.0
            return model.head.loss(encoder_out, lengths, targets, warmup_fraction=warmup)
        return model.head.loss(encoder_out, lengths, targets)

    sampler = make_sampler(config.train.sampler, train_cuts, config.train.max_duration, shuffle=True, seed=seed)
    stream = BatchStream(sampler, num_workers=config.train.num_workers)
    result = train(
        model,
        stream,
        loss_fn,
        config.train,
        out_dir,
        resume_key(identity),
        device,
        resume=spec.resume,
        progress=spec.progress,
        epoch_size=_batches_per_epoch(train_cuts, config.train.max_duration),
    )
    metrics = evaluate(model, eval_cuts, tokenizer, config, device, out_dir)
    outcome = TaskResult(
        config.task,
        metrics,
        metrics_before,
        result.steps,
        out_dir,
        None,
        {
            "final_train_loss": result.last_loss,
            "resumed_from_step": result.resumed_from,
            "vocab_size": tokenizer.vocab_size,
        },
    )
    names = {split_metric(s): s for s in config.eval_splits}
    return write_outcome(outcome, spec, identity, seed, names)


def _batches_per_epoch(cuts, max_duration: float) -> int:
    total = sum(c.duration for c in cuts)
    return max(1, round(total / max_duration))
