"""How far embeddings and scores move when a HEAR task's 16 kHz audio is made another way.

A demo task is published as HEAR publishes (48000 Hz, made from its 16 kHz audio with libsoxr
HQ, 16-bit PCM), then turned into 16000/ twice: (a) as spear-bench does
(spear_bench.datasets.hear_resample: libsoxr HQ, hear-preprocess's resampler), (b) with
torchaudio's default resampler (``torchaudio.functional.resample``: windowed sinc, Hann window,
6 zero crossings, roll-off 0.99), both written as 16-bit PCM the same way. It prints the audio
difference (SNR of b against a), the embedding difference per clip (relative L2, cosine) and
each task's scores from ``spear-bench run`` on both data roots (same model, same seed).

    python benchmarks/hear_resampler_shift.py                       # spear_base[random-init], demo_words + demo_pitch
    python benchmarks/hear_resampler_shift.py --model "spear_tiny[random-init]" --tasks demo_pitch --json
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
import torchaudio

from spear_bench.bench.hear_data import read_task
from spear_bench.bench.scored_model import HearModelHandle, resolve_model
from spear_bench.cli import main as cli_main
from spear_bench.datasets.hear_resample import make_rate, resample_wave
from spear_bench.demo.generate import generate_demo_data
from spear_bench.results.store import ResultsStore
from spear_bench.task_registry import load_suite


def _pcm16(wave: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(wave.astype(np.float64) * 32768.0), -32768, 32767).astype(np.int16)


def publish(source: Path, target: Path) -> None:
    """The task folder's files and its audio at 48000 Hz only (as the HEAR download holds it)."""
    target.mkdir(parents=True)
    for path in source.iterdir():
        if path.is_file():
            shutil.copy(path, target / path.name)
    for wav in sorted((source / "16000").rglob("*.wav")):
        wave, rate = sf.read(str(wav), dtype="float32")
        out = target / "48000" / wav.relative_to(source / "16000")
        out.parent.mkdir(parents=True, exist_ok=True)
        sf.write(str(out), _pcm16(resample_wave(wave, rate, 48000)), 48000, subtype="PCM_16")


def torchaudio_rate(task: Path) -> None:
    for wav in sorted((task / "48000").rglob("*.wav")):
        wave, rate = sf.read(str(wav), dtype="float32")
        out = torchaudio.functional.resample(torch.from_numpy(wave), rate, 16000).numpy()
        target = task / "16000" / wav.relative_to(task / "48000")
        target.parent.mkdir(parents=True, exist_ok=True)
        sf.write(str(target), _pcm16(out), 16000, subtype="PCM_16")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="spear_base[random-init]")
    parser.add_argument("--tasks", default="demo_words,demo_pitch")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    tasks = [t for t in args.tasks.split(",") if t]
    demo = generate_demo_data(Path(tempfile.gettempdir()) / "spear-bench-resampler-demo", log=lambda *_: None)
    suite = load_suite("demo")
    work = Path(tempfile.mkdtemp(prefix="spear-bench-resampler-"))
    roots = {"soxr_hq": work / "soxr_hq", "torchaudio": work / "torchaudio"}
    for name in tasks:
        spec = suite.task(name)
        for kind, root in roots.items():
            publish(demo / spec.folder, root / spec.folder)
            if kind == "soxr_hq":
                make_rate(root / spec.folder, 16000)
            else:
                torchaudio_rate(root / spec.folder)
    handle = HearModelHandle(resolve_model(args.model, "last"))
    report: dict = {"model": args.model, "tasks": {}}
    for name in tasks:
        spec = suite.task(name)
        a_task, b_task = read_task(spec, roots["soxr_hq"]), read_task(spec, roots["torchaudio"])
        snrs, rel, cos = [], [], []
        for split, items in a_task.split_items.items():
            files = list(items)
            a = np.stack([sf.read(str(a_task.audio_path(split, f)), dtype="float32")[0] for f in files])
            b = np.stack([sf.read(str(b_task.audio_path(split, f)), dtype="float32")[0] for f in files])
            snrs += list(10 * np.log10((a**2).sum(1) / np.maximum(((a - b) ** 2).sum(1), 1e-20)))
            ea = handle.scene_embeddings(torch.from_numpy(a)).numpy()
            eb = handle.scene_embeddings(torch.from_numpy(b)).numpy()
            rel += list(np.linalg.norm(ea - eb, axis=1) / np.linalg.norm(ea, axis=1))
            cos += list((ea * eb).sum(1) / (np.linalg.norm(ea, axis=1) * np.linalg.norm(eb, axis=1)))
        scores = {}
        for kind, root in roots.items():
            results = work / f"results_{kind}"
            code = cli_main(
                ["run", "--suite", "demo", "--tasks", name, "--model", args.model, "--quiet"]
                + ["--data-root", str(root), "--results", str(results), "--cache", str(work / f"cache_{kind}")]
            )
            if code != 0:
                return code
            table = ResultsStore(results).table()
            scores[kind] = {r.metric: float(r.value) for r in table.itertuples() if r.task == name}
        report["tasks"][name] = {
            "clips": len(snrs),
            "audio_snr_db_median": float(np.median(snrs)),
            "audio_snr_db_min": float(np.min(snrs)),
            "embedding_rel_l2_median": float(np.median(rel)),
            "embedding_rel_l2_max": float(np.max(rel)),
            "embedding_cosine_min": float(np.min(cos)),
            "scores": scores,
        }
    if args.json:
        print(json.dumps(report, indent=1))
    else:
        for name, r in report["tasks"].items():
            print(
                f"{name}: {r['clips']} clips; audio SNR torchaudio vs soxr HQ median {r['audio_snr_db_median']:.1f} dB "
                f"(min {r['audio_snr_db_min']:.1f}); embeddings rel. L2 median {r['embedding_rel_l2_median']:.4f} "
                f"(max {r['embedding_rel_l2_max']:.4f}), cosine min {r['embedding_cosine_min']:.5f}"
            )
            for kind, s in r["scores"].items():
                print(f"  {kind}: " + ", ".join(f"{k} {v:.4f}" for k, v in sorted(s.items())))
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
