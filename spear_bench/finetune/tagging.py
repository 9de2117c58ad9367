"""AudioSet audio-tagging fine-tuning (paper Sec. 5.1, Table 3: AS-20k and AS-2M).

Read top to bottom: segment CSVs + ontology + clips -> cuts -> model (mean pool, dropout,
Linear(D, 527)) -> train with BCE, mixup and SpecAugment (balanced sampling for AS-2M)
-> mAP on the eval list -> results store. The chance level (mAP of random scores on the
same eval labels) is reported beside the model's mAP.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from spear_bench.errors import DatasetError
from spear_bench.finetune.audioset import (
    ONTOLOGY_FILE,
    audioset_cuts,
    balanced_sample_weights,
    index_audio_folder,
    multi_hot,
    read_ontology,
)
from spear_bench.finetune.augment import mixup
from spear_bench.finetune.config import TaggingConfig
from spear_bench.finetune.data import BatchStream, eval_batches, make_sampler
from spear_bench.finetune.heads import TaggingHead
from spear_bench.finetune.metrics import chance_mean_average_precision, mean_average_precision
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
from spear_bench.finetune.trainer import has_checkpoint, train
from spear_bench.train.device import select_device


def _labels(cut) -> list[int]:
    return list(cut.custom["labels"])


def load_audioset(data_dir: Path, config: TaggingConfig):
    """(ontology, train cuts, eval cuts, counts) from an AudioSet folder; one-line errors for missing parts."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise DatasetError(
            f"AudioSet folder not found: {data_dir} (expected {ONTOLOGY_FILE}, {', '.join(config.train_csvs)}, "
            f"{config.eval_csv} and {config.audio_dir}/ with the clips)"
        )
    ontology = read_ontology(data_dir / config.ontology)
    index = index_audio_folder(data_dir / config.audio_dir)
    train_parts = [
        audioset_cuts(data_dir / name, data_dir / config.audio_dir, ontology, index) for name in config.train_csvs
    ]
    train_cuts = train_parts[0].cuts
    for part in train_parts[1:]:
        train_cuts = train_cuts + part.cuts
    evaluation = audioset_cuts(data_dir / config.eval_csv, data_dir / config.audio_dir, ontology, index)
    counts = {
        "train_listed": sum(p.num_listed for p in train_parts),
        "train_missing": sum(p.num_missing for p in train_parts),
        "eval_listed": evaluation.num_listed,
        "eval_missing": evaluation.num_missing,
    }
    return ontology, train_cuts, evaluation.cuts, counts


@torch.no_grad()
def predict(model: FinetuneModel, cuts, max_duration: float, device: torch.device) -> tuple[np.ndarray, np.ndarray]:
    """(multi-hot labels (N, C), sigmoid scores (N, C)) over ``cuts``."""
    model.eval()
    labels, scores = [], []
    num_classes = model.head.output.out_features
    for batch in eval_batches(cuts, max_duration):
        encoder_out, lengths = model.encode(batch["waves"].to(device), batch["lengths"])
        scores.append(torch.sigmoid(model.head(encoder_out, lengths)).float().cpu().numpy())
        labels.append(multi_hot([_labels(c) for c in batch["cuts"]], num_classes))
    return np.concatenate(labels), np.concatenate(scores)


def evaluate(model, cuts, config: TaggingConfig, device) -> dict[str, float]:
    """mAP (%) of the model and of random scores on the same labels, and the classes scored."""
    labels, scores = predict(model, cuts, config.eval_max_duration, device)
    result = mean_average_precision(labels, scores)
    return {
        "mAP": 100.0 * result.mAP,
        "chance_mAP": 100.0 * chance_mean_average_precision(labels, seed=config.train.seed),
        "classes_scored": float(result.num_classes_scored),
    }


def finetune_audioset(config: TaggingConfig, spec: RunSpec) -> TaskResult:
    identity = run_identity("audioset", config, spec)
    seed = config.train.seed
    cached = stored_outcome(spec, config.task, identity, seed)
    if cached is not None:
        return cached
    out_dir = Path(spec.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    device = select_device(config.train.device)

    ontology, train_cuts, eval_cuts, counts = load_audioset(spec.data_dir, config)
    torch.manual_seed(seed)  # the head's initialisation
    encoder = load_start_encoder(spec)
    model = FinetuneModel(
        encoder, TaggingHead(encoder.hidden_size, ontology.num_classes, config.dropout), config.spec_augment
    )
    model.to(device)
    metrics_before = {}
    if config.eval_before and not has_checkpoint(out_dir):
        metrics_before = evaluate(model, eval_cuts, config, device)

    def loss_fn(model: FinetuneModel, batch: dict, generator: torch.Generator, step: int) -> torch.Tensor:
        targets = torch.from_numpy(multi_hot([_labels(c) for c in batch["cuts"]], ontology.num_classes))
        waves, lengths, targets = mixup(batch["waves"].to(device), batch["lengths"], targets, config.mixup, generator)
        encoder_out, encoder_lens = model.encode(waves, lengths.cpu(), generator)
        return model.head.loss(encoder_out, encoder_lens, targets)

    weights = None
    if config.train.sampler == "weighted":
        weights = balanced_sample_weights([_labels(c) for c in train_cuts], ontology.num_classes)
    num_samples = config.samples_per_epoch or len(train_cuts)
    sampler = make_sampler(
        config.train.sampler,
        train_cuts,
        config.train.max_duration,
        shuffle=True,
        seed=seed,
        weights=weights,
        num_samples=num_samples,
    )
    stream = BatchStream(sampler, num_workers=config.train.num_workers)
    mean_duration = sum(c.duration for c in train_cuts) / len(train_cuts)
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
        epoch_size=max(1, round(num_samples * mean_duration / config.train.max_duration)),
    )
    metrics = evaluate(model, eval_cuts, config, device)
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
            "num_classes": ontology.num_classes,
            **counts,
        },
    )
    return write_outcome(outcome, spec, identity, seed, {})
