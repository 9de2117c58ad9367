"""Embedding speed of SPEAR Base vs WavLM Base+ (both random init), and memory and time on long audio files.

    python benchmarks/embed_speed.py            # 7 interleaved rounds of 4 x 10 s; 10 min, 1 h, 2 h files
    python benchmarks/embed_speed.py --quick    # small models and inputs: checks that it runs

Speed: both models in eval mode under torch.inference_mode, the same number of torch
threads, batches of ``--batch`` clips of ``--clip-s`` seconds. One warm-up batch each,
then ``--rounds`` rounds; each round times one batch of each model, in alternating order,
so that a slow minute of a shared machine slows both models rather than one. Reported per
model: the median and the min of the rounds (seconds of audio per second) and the spread
(max - min over median); the ratio is the median of the per-round ratios, with its range.
SPEAR's time includes its fbank front end; WavLM takes the waveform directly.

Long audio: for each of ``--lengths`` (minutes) a WAV file of that length is written to
disk (16-bit PCM, as a user's recording), and a fresh process reads it with
``spear_bench.audio.load_audio`` and embeds it with SPEAR Base in one call (the long-audio
path: each chunk's fbank from its own samples, overlapping encoder chunks, last layer only), as ``spear-bench
embed`` does. It reports, from /proc/self/status: the resident memory with the model built,
with the audio loaded (the input's share), and the peak while embedding (the peak counter
is reset after loading, so this is the encoder's own peak on top of model and input);
``peak_rss_mib`` is the process's overall peak. Time per hour of audio shows whether the
cost stays linear from minutes to hours.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

import spear_bench  # noqa: E402, F401  (torchaudio hook first)


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
    from spear_bench.models.checkpoint import build_spear_base, build_spear_tiny

    return (build_spear_tiny if quick else build_spear_base)(None, 0)


def summary(rates: list[float]) -> dict:
    median = statistics.median(rates)
    return {"median": median, "min": min(rates), "max": max(rates), "spread": (max(rates) - min(rates)) / median}


def speed(args) -> dict:
    """Interleaved rounds: seconds of audio per second for each model, and their per-round ratio."""
    torch.set_num_threads(args.threads)
    generator = torch.Generator().manual_seed(0)
    batch = 0.1 * torch.randn(args.batch, int(args.clip_s * 16000), generator=generator)
    lengths = torch.full((args.batch,), batch.shape[1])
    spear = build_spear(args.quick)
    wavlm = build_wavlm(args.quick)
    runs = {"spear": lambda: spear(batch, lengths, output_hidden_states=False), "wavlm": lambda: wavlm(batch)}
    audio_s = batch.shape[0] * batch.shape[1] / 16000
    rates: dict[str, list[float]] = {"spear": [], "wavlm": []}
    with torch.inference_mode():
        for run in runs.values():
            run()  # warm-up
        for r in range(args.rounds):
            for name in ("spear", "wavlm") if r % 2 == 0 else ("wavlm", "spear"):
                start = time.perf_counter()
                runs[name]()
                rates[name].append(audio_s / (time.perf_counter() - start))
    ratios = [s / w for s, w in zip(rates["spear"], rates["wavlm"])]
    return {
        "rounds": args.rounds,
        "spear": summary(rates["spear"]),
        "wavlm": summary(rates["wavlm"]),
        "ratio": {"median": statistics.median(ratios), "min": min(ratios), "max": max(ratios)},
        "spear_x_realtime": statistics.median(rates["spear"]),
        "wavlm_x_realtime": statistics.median(rates["wavlm"]),
        "ratio_spear_over_wavlm": statistics.median(ratios),
    }


def write_test_wav(path: Path, seconds: float, block_s: float = 60.0) -> Path:
    """A 16-bit PCM WAV of a tone in noise, written block by block (this process stays small)."""
    import soundfile as sf

    rng = np.random.default_rng(0)
    total = int(round(seconds * 16000))
    with sf.SoundFile(str(path), "w", samplerate=16000, channels=1, subtype="PCM_16") as f:
        for s0 in range(0, total, int(block_s * 16000)):
            n = min(int(block_s * 16000), total - s0)
            t = (s0 + np.arange(n)) / 16000.0
            f.write((0.05 * np.sin(2 * np.pi * 220.0 * t) + 0.01 * rng.standard_normal(n)).astype(np.float32))
    return path


def _status_mib(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _reset_peak() -> bool:
    """Reset the kernel's peak-RSS counter (VmHWM) to the current RSS (Linux: clear_refs 5)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def rss_worker(args) -> None:
    """Runs in a fresh process: memory and time of embedding the WAV file ``--wav``."""
    from spear_bench.audio import load_audio

    torch.set_num_threads(args.threads)
    model = build_spear(args.quick)
    model_mib = _status_mib("VmRSS")
    wave = load_audio(args.wav)
    input_mib = _status_mib("VmRSS")
    load_peak_mib = _status_mib("VmHWM")
    reset = _reset_peak()
    start = time.perf_counter()
    with torch.inference_mode():
        out = model(wave[None], torch.tensor([wave.numel()]), output_hidden_states=False)
    elapsed = time.perf_counter() - start
    peak_embed = _status_mib("VmHWM")
    print(
        json.dumps(
            {
                "audio_s": wave.numel() / 16000,
                "frames": int(out.lengths[0]),
                "rss_model_mib": round(model_mib, 1),
                "rss_with_input_mib": round(input_mib, 1),
                "input_mib": round(input_mib - model_mib, 1),
                "encoder_peak_mib": round(peak_embed - input_mib, 1) if reset else None,
                "peak_rss_mib": round(max(peak_embed, load_peak_mib), 1),
                "embed_s": round(elapsed, 2),
                "seconds_per_audio_hour": round(elapsed / (wave.numel() / 16000) * 3600, 1),
            }
        )
    )


def measure_file(args, seconds: float, folder: Path) -> dict:
    wav = write_test_wav(folder / f"audio_{seconds:g}s.wav", seconds)
    cmd = [sys.executable, __file__, "--rss-worker", "--wav", str(wav), "--threads", str(args.threads)]
    if args.quick:
        cmd.append("--quick")
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    wav.unlink()
    if done.returncode != 0:
        raise SystemExit(
            f"memory worker failed: {done.stderr.strip().splitlines()[-1] if done.stderr.strip() else done.returncode}"
        )
    return json.loads(done.stdout.strip().splitlines()[-1])


def long_audio(args) -> list[dict]:
    with tempfile.TemporaryDirectory(prefix="embed_speed_") as tmp:
        return [measure_file(args, minutes * 60, Path(tmp)) for minutes in args.lengths]


def _amount(seconds: float) -> str:
    return (
        f"{seconds / 3600:g} h" if seconds >= 3600 else (f"{seconds / 60:g} min" if seconds >= 60 else f"{seconds:g} s")
    )


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny SPEAR, 2-layer WavLM, short inputs (a smoke run)")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--clip-s", type=float, default=None, help="clip length (default 10 s; 2 s with --quick)")
    parser.add_argument("--batch", type=int, default=None, help="clips per batch (default 4; 1 with --quick)")
    parser.add_argument("--rounds", type=int, default=7, help="interleaved timed rounds (default 7)")
    parser.add_argument(
        "--lengths",
        type=float,
        nargs="+",
        default=None,
        help="long-audio files in minutes (default 10 60 120; 0.67 1 with --quick); "
        "the memory figure is the 1 h file's",
    )
    parser.add_argument("--skip-long", action="store_true", help="speed only")
    parser.add_argument("--rss-worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--wav", help=argparse.SUPPRESS)
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)
    args.clip_s = args.clip_s or (2.0 if args.quick else 10.0)
    args.batch = args.batch or (1 if args.quick else 4)
    args.lengths = args.lengths or ([40 / 60, 1.0] if args.quick else [10.0, 60.0, 120.0])
    if args.rss_worker:
        rss_worker(args)
        return {}
    results = {"threads": args.threads, "clip_s": args.clip_s, "batch": args.batch, **speed(args)}
    results["long_audio"] = [] if args.skip_long else long_audio(args)
    hour = [r for r in results["long_audio"] if abs(r["audio_s"] - 3600) < 1]
    memory = hour[0] if hour else (results["long_audio"][0] if results["long_audio"] else {})
    results.update(
        {
            k: memory[k]
            for k in ("frames", "peak_rss_mib", "rss_model_mib", "encoder_peak_mib", "input_mib", "audio_s")
            if k in memory
        }
    )
    if args.json:
        print(json.dumps(results, indent=1))
        return results
    names = ("SPEAR Base", "WavLM Base+") if not args.quick else ("SPEAR tiny", "WavLM (2 layers)")
    print(
        f"threads {args.threads}, {args.batch} x {args.clip_s:g} s clips, random init, {args.rounds} interleaved rounds"
    )
    print(f"{'model':<18}{'audio s / s':>12}{'min':>8}{'spread':>8}")
    for key, name in zip(("spear", "wavlm"), names):
        s = results[key]
        print(f"{name:<18}{s['median']:>12.1f}{s['min']:>8.1f}{100 * s['spread']:>7.0f}%")
    r = results["ratio"]
    print(f"{'ratio':<18}{r['median']:>12.2f}   (per-round range {r['min']:.2f} - {r['max']:.2f})")
    if results["long_audio"]:
        print(f"{names[0]} on WAV files read from disk (one call each):")
        print(
            f"{'audio':>8}{'s / h audio':>13}{'model MiB':>11}"
            f"{'input MiB':>11}{'encoder peak MiB':>18}{'peak RSS MiB':>14}"
        )
        for row in results["long_audio"]:
            print(
                f"{_amount(row['audio_s']):>8}{row['seconds_per_audio_hour']:>13.0f}{row['rss_model_mib']:>11.0f}"
                f"{row['input_mib']:>11.0f}"
                f"{row['encoder_peak_mib'] if row['encoder_peak_mib'] is not None else float('nan'):>18.0f}"
                f"{row['peak_rss_mib']:>14.0f}"
            )
    return results


if __name__ == "__main__":
    main()
