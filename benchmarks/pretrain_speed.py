"""Pre-training throughput: fbank frames (100 Hz) per second of one full training step.

A step is what ``spear-bench pretrain`` does per batch: token/noise mixing, fbank,
channel + time masking, encoder forward, one head per codebook (16 speech + 8 audio
codebooks, as the paper), Eq. 1 loss with the ASYMMETRICAL weights, backward, ScaledAdam
and Eden. The batch is synthetic (random waveforms and tokens) so nothing needs preparing.

Baseline, measured in the same run on the same batches and threads: the encoder's
inference pass alone (fbank + ``forward``, eval mode, no gradients). The ratio
``training step / inference pass`` says what the training machinery costs on top of
embedding the same audio (backward is about 2x a forward; the regularisers, heads and
optimiser add the rest).

    python benchmarks/pretrain_speed.py                      # Base, 2 x 10 s, 3 timed steps
    python benchmarks/pretrain_speed.py --size tiny --steps 5
    python benchmarks/pretrain_speed.py --threads 2 --json out.json

Run it on a quiet machine: other processes on the same cores make the numbers meaningless.
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import torch

import spear_bench  # noqa: F401  (torchaudio hook first)
from spear_bench.pretrain.config import ModelConfig, PretrainConfig, TokenSetConfig, TrainConfig
from spear_bench.pretrain.mixing import Sample
from spear_bench.pretrain.mvq import MVQConfig
from spear_bench.pretrain.trainer import PretrainTrainer


def synthetic_batch(batch_size: int, seconds: float, num_codebooks: dict[str, int], seed: int) -> list[Sample]:
    gen = torch.Generator().manual_seed(seed)
    samples = []
    for i in range(batch_size):
        num_samples = int(seconds * 16000)
        frames = num_samples // 320
        domain = "speech" if i % 2 == 0 else "audio"
        tokens = {name: torch.randint(0, 256, (frames, n), generator=gen) for name, n in num_codebooks.items()}
        samples.append(Sample(f"utt{i}", 0.1 * torch.randn(num_samples, generator=gen), domain, tokens))
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="base", help="SPEAR size: tiny, base, large, xlarge")
    parser.add_argument("--batch-size", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each utterance")
    parser.add_argument("--steps", type=int, default=3, help="timed steps (after --warmup)")
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--json", default=None, help="also write the result here")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    num_codebooks = {"speech": 16, "audio": 8}
    config = PretrainConfig(
        work_dir="/nonexistent",  # nothing is written
        token_sets=(
            TokenSetConfig("speech", mvq=MVQConfig(num_codebooks=16)),
            TokenSetConfig("audio", mvq=MVQConfig(num_codebooks=8)),
        ),
        model=ModelConfig(size=args.size),
        train=TrainConfig(tensorboard=False, deterministic=False),
    )
    trainer = PretrainTrainer(config, None, num_codebooks, progress=False)
    params = sum(p.numel() for p in trainer.model.encoder.parameters())
    times = []
    for step in range(args.warmup + args.steps):
        samples = synthetic_batch(args.batch_size, args.seconds, num_codebooks, seed=step)
        start = time.perf_counter()
        record = trainer.train_on_samples(samples)
        elapsed = time.perf_counter() - start
        trainer.state.step += 1
        if step >= args.warmup:
            times.append(elapsed)
    seconds_per_step = sum(times) / len(times)
    fbank_frames = args.batch_size * round(args.seconds * 100)

    encoder = trainer.model.encoder
    encoder.eval()
    inference_times = []
    with torch.inference_mode():
        for step in range(args.warmup + args.steps):
            samples = synthetic_batch(args.batch_size, args.seconds, num_codebooks, seed=step)
            waves = torch.stack([s.wave for s in samples]).to(trainer.device)
            start = time.perf_counter()
            encoder(waves, output_hidden_states=False)
            elapsed = time.perf_counter() - start
            if step >= args.warmup:
                inference_times.append(elapsed)
    encoder.train()
    seconds_per_inference = sum(inference_times) / len(inference_times)
    result = {
        "size": args.size,
        "encoder_parameters": params,
        "batch": f"{args.batch_size} x {args.seconds:g} s",
        "timed_steps": args.steps,
        "seconds_per_step": round(seconds_per_step, 3),
        "fbank_frames_per_second": round(fbank_frames / seconds_per_step, 1),
        "audio_seconds_per_second": round(args.batch_size * args.seconds / seconds_per_step, 3),
        "inference_seconds_per_batch": round(seconds_per_inference, 3),
        "inference_fbank_frames_per_second": round(fbank_frames / seconds_per_inference, 1),
        "training_step_over_inference_ratio": round(seconds_per_step / seconds_per_inference, 2),
        "final_loss": round(record["loss"], 4),
        "torch_threads": torch.get_num_threads(),
        "device": str(trainer.device),
        "cpu": platform.processor() or platform.machine(),
    }
    print(json.dumps(result, indent=1))
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(result, handle, indent=1)


if __name__ == "__main__":
    main()
