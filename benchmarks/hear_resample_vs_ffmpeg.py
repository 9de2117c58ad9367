"""spear-bench's HEAR resampling against hear-preprocess's own command, FFmpeg's aresample=resampler=soxr.

Needs an ``ffmpeg`` built with libsoxr on PATH (Debian's: ``apt-get install ffmpeg``; not a
dependency of the project). For demo clips brought to 48000 Hz it writes (a) a 32-bit float WAV,
the format hear-preprocess resamples from, and (b) a 16-bit PCM WAV, the format HEAR publishes,
resamples each to 16000 Hz with ``ffmpeg -i IN -af aresample=resampler=soxr -ar 16000 OUT.wav``
(hear-preprocess's ``resample_wav``) and with spear_bench.datasets.hear_resample, and prints how
many 16-bit samples agree, the largest difference, and how many samples two FFmpeg runs on the
same 16-bit file disagree on (libsoxr dithers 16-bit output with a time-seeded generator).

    python benchmarks/hear_resample_vs_ffmpeg.py
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

from spear_bench.datasets.hear_resample import _to_pcm16, resample_file, resample_wave
from spear_bench.demo.generate import generate_demo_data
from spear_bench.task_registry import load_suite


def ffmpeg(source: Path, target: Path) -> np.ndarray:
    command = ["ffmpeg", "-v", "error", "-y", "-i", str(source), "-af", "aresample=resampler=soxr", "-ar", "16000"]
    subprocess.run([*command, str(target)], check=True)
    return sf.read(str(target), dtype="int16")[0]


def main() -> int:
    if shutil.which("ffmpeg") is None:
        print("needs ffmpeg with libsoxr on PATH (Debian: apt-get install ffmpeg)", file=sys.stderr)
        return 2
    demo = generate_demo_data(Path(tempfile.gettempdir()) / "spear-bench-resampler-demo", log=lambda *_: None)
    clips = []
    for name in ("demo_words", "demo_pitch"):
        clips += sorted((demo / load_suite("demo").task(name).folder / "16000").rglob("*.wav"))[:20]
    work = Path(tempfile.mkdtemp(prefix="spear-bench-ffmpeg-"))
    stats = {"float32": [0, 0, 0], "pcm16": [0, 0, 0]}  # samples, identical, max |difference|
    dither = 0
    for i, clip in enumerate(clips):
        wave = resample_wave(sf.read(str(clip), dtype="float32")[0], 16000, 48000)
        sources = {"float32": work / f"f{i}.wav", "pcm16": work / f"s{i}.wav"}
        sf.write(str(sources["float32"]), wave, 48000, subtype="FLOAT")
        sf.write(str(sources["pcm16"]), _to_pcm16(wave), 48000, subtype="PCM_16")
        for kind, source in sources.items():
            theirs = ffmpeg(source, work / f"ff_{kind}_{i}.wav")
            if kind == "float32":
                ours = _to_pcm16(resample_wave(sf.read(str(source), dtype="float32")[0], 48000, 16000))
            else:
                resample_file(source, work / f"ours_{i}.wav", 16000)
                ours = sf.read(str(work / f"ours_{i}.wav"), dtype="int16")[0]
                dither += int((ffmpeg(source, work / f"ff_again_{i}.wav") != theirs).sum())
            difference = np.abs(theirs.astype(np.int32) - ours.astype(np.int32))
            s = stats[kind]
            s[0], s[1], s[2] = (
                s[0] + difference.size,
                s[1] + int((difference == 0).sum()),
                max(s[2], int(difference.max())),
            )
    version = subprocess.run(["ffmpeg", "-version"], capture_output=True, text=True).stdout.splitlines()[0]
    print(f"{version}; {len(clips)} demo clips at 48000 Hz -> 16000 Hz")
    for kind, (n, same, worst) in stats.items():
        print(f"  from {kind}: {same}/{n} samples identical ({100 * same / n:.2f} %), largest difference {worst} LSB")
    print(f"  two ffmpeg runs on the same 16-bit files differ on {dither}/{stats['pcm16'][0]} samples (dither)")
    shutil.rmtree(work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
