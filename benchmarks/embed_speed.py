"""Embedding speed of SPEAR Base vs WavLM Base+ (both random init), and peak memory on 1 h of audio.

    python benchmarks/embed_speed.py            # 10 s clips, 1 h of audio for the memory figure
    python benchmarks/embed_speed.py --quick    # small models and inputs: checks that it runs

Speed: both models in eval mode under torch.inference_mode, the same number of torch
threads, batches of ``--batch`` clips of ``--clip-s`` seconds, one warm-up batch, then
``--repeats`` timed batches; reported as seconds of audio per second (x real time).
SPEAR's time includes its fbank front end; WavLM takes the waveform directly.

Memory: a fresh subprocess builds SPEAR Base, embeds ``--hours`` of synthetic audio in one
call (the long-audio path: blockwise fbank, overlapping encoder chunks, last layer only)
and reports its peak resident set size from ``resource.getrusage`` (and the peak before
embedding, i.e. the model alone).
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

import spear_bench  # noqa: E402  (torchaudio hook first)


def build_wavlm(quick: bool):
    """transformers WavLMModel with the WavLM Base+ config (12 x 768, 12 heads, FFN 3072, group-norm CNN)."""
    from transformers import WavLMConfig, WavLMModel

    config = WavLMConfig(
        hidden_size=768,
        num_hidden_layers=2 if quick else 12,
        num_attention_heads=12,
        intermediate_size=3072,
        feat_extract_norm="group",
        do_stable_layer_norm=False,
        conv_bias=False,
        layerdrop=0.0,
    )
    torch.manual_seed(0)
    return WavLMModel(config).eval()


def build_spear(quick: bool):
    from spear_bench.models.spear import build_spear_base, build_spear_tiny

    return (build_spear_tiny if quick else build_spear_base)(None, 0)


def audio_per_second(run, batch: torch.Tensor, repeats: int) -> float:
    with torch.inference_mode():
        run(batch)  # warm-up
        start = time.perf_counter()
        for _ in range(repeats):
            run(batch)
        elapsed = time.perf_counter() - start
    return batch.shape[0] * batch.shape[1] / 16000 * repeats / elapsed


def speed(args) -> dict:
    torch.set_num_threads(args.threads)
    generator = torch.Generator().manual_seed(0)
    batch = 0.1 * torch.randn(args.batch, int(args.clip_s * 16000), generator=generator)
    lengths = torch.full((args.batch,), batch.shape[1])
    spear = build_spear(args.quick)
    wavlm = build_wavlm(args.quick)
    spear_rate = audio_per_second(lambda b: spear(b, lengths, output_hidden_states=False), batch, args.repeats)
    wavlm_rate = audio_per_second(lambda b: wavlm(b), batch, args.repeats)
    return {"spear_x_realtime": spear_rate, "wavlm_x_realtime": wavlm_rate, "ratio_spear_over_wavlm": spear_rate / wavlm_rate}


def rss_worker(args) -> None:
    """Runs in a fresh process: peak RSS (MiB) before and after embedding ``--hours`` of audio."""
    torch.set_num_threads(args.threads)
    model = build_spear(args.quick)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    seconds = args.hours * 3600
    t = torch.arange(int(seconds * 16000)) / 16000.0
    wave = 0.05 * torch.sin(2 * torch.pi * 220.0 * t) + 0.01 * torch.randn(t.numel(), generator=torch.Generator().manual_seed(0))
    del t
    start = time.perf_counter()
    with torch.inference_mode():
        out = model(wave[None], torch.tensor([wave.numel()]), output_hidden_states=False)
    elapsed = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({
        "audio_s": seconds,
        "frames": int(out.lengths[0]),
        "peak_rss_model_mib": round(before, 1),
        "peak_rss_mib": round(peak, 1),
        "embed_s": round(elapsed, 1),
    }))


def measure_rss(args) -> dict:
    cmd = [sys.executable, __file__, "--rss-worker", "--hours", str(args.hours), "--threads", str(args.threads)]
    if args.quick:
        cmd.append("--quick")
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"memory worker failed: {done.stderr.strip().splitlines()[-1] if done.stderr.strip() else done.returncode}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny SPEAR, 2-layer WavLM, short inputs (a smoke run)")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--clip-s", type=float, default=None, help="clip length (default 10 s; 2 s with --quick)")
    parser.add_argument("--batch", type=int, default=None, help="clips per batch (default 4; 1 with --quick)")
    parser.add_argument("--repeats", type=int, default=None, help="timed batches (default 3; 1 with --quick)")
    parser.add_argument("--hours", type=float, default=None, help="audio for the memory figure (default 1; 40 s with --quick)")
    parser.add_argument("--rss-worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)
    args.clip_s = args.clip_s or (2.0 if args.quick else 10.0)
    args.batch = args.batch or (1 if args.quick else 4)
    args.repeats = args.repeats or (1 if args.quick else 3)
    args.hours = args.hours or (40 / 3600 if args.quick else 1.0)
    if args.rss_worker:
        rss_worker(args)
        return {}
    results = {"threads": args.threads, "clip_s": args.clip_s, "batch": args.batch, **speed(args), **measure_rss(args)}
    if args.json:
        print(json.dumps(results, indent=1))
        return results
    names = ("SPEAR Base", "WavLM Base+") if not args.quick else ("SPEAR tiny", "WavLM (2 layers)")
    print(f"threads {args.threads}, {args.batch} x {args.clip_s:g} s clips, random init")
    print(f"{'model':<18}{'audio s / s':>12}")
    print(f"{names[0]:<18}{results['spear_x_realtime']:>12.1f}")
    print(f"{names[1]:<18}{results['wavlm_x_realtime']:>12.1f}")
    print(f"{'ratio':<18}{results['ratio_spear_over_wavlm']:>12.2f}")
    amount = f"{results['audio_s'] / 3600:g} h" if results["audio_s"] >= 360 else f"{results['audio_s']:g} s"
    print(
        f"{names[0]} on {amount} of audio: peak RSS {results['peak_rss_mib']:.0f} MiB "
        f"(model alone {results['peak_rss_model_mib']:.0f} MiB), {results['embed_s']:.0f} s, {results['frames']} frames"
    )
    return results


if __name__ == "__main__":
    main()
