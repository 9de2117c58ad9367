"""Where SPEAR Base's forward pass spends its CPU time: torch.profiler's top operators.

    python benchmarks/profile_encoder.py                 # 4 x 10 s clips, 2 threads, top 5
    python benchmarks/profile_encoder.py --top 15 --clip-s 30

Random-init SPEAR Base in eval mode under torch.inference_mode; one warm-up pass, then
``--repeats`` profiled passes (fbank front end included). Prints the operators with the
most self CPU time and the wall time per pass.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

import spear_bench  # noqa: E402,F401  (torchaudio hook first)


def main(argv=None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--clip-s", type=float, default=10.0)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--top", type=int, default=5)
    parser.add_argument("--tiny", action="store_true", help="SPEAR tiny (a smoke run)")
    args = parser.parse_args(argv)
    from torch.profiler import ProfilerActivity, profile

    from spear_bench.models.checkpoint import build_spear_base, build_spear_tiny

    torch.set_num_threads(args.threads)
    model = (build_spear_tiny if args.tiny else build_spear_base)(None, 0).eval()
    wave = 0.1 * torch.randn(args.batch, int(args.clip_s * 16000), generator=torch.Generator().manual_seed(0))
    lengths = torch.full((args.batch,), wave.shape[1])
    with torch.inference_mode():
        model(wave, lengths, output_hidden_states=False)
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            start = time.perf_counter()
            for _ in range(args.repeats):
                model(wave, lengths, output_hidden_states=False)
            per_pass = (time.perf_counter() - start) / args.repeats
    table = prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=args.top)
    print(f"{args.batch} x {args.clip_s:g} s, {args.threads} threads: {per_pass:.2f} s per pass (profiled)")
    print(table)
    return table


if __name__ == "__main__":
    main()
