"""Embedding extraction at scale, shared by the HEAR runner, the SUPERB runner and ``spear-bench embed``.

* clips are sorted by length and cut into batches so that padding stays small;
* a batch holds as many clips as fit a frame budget (``max_batch_s`` seconds of padded
  audio), not a fixed count: thousands of 1 s clips go 64 at a time, 10 min files one by one;
* a ``torch.utils.data.DataLoader`` with worker processes reads and decodes the next
  batches while the model runs on the current one;
* ``dtype`` bfloat16 / float16 runs the model under ``torch.autocast`` (meant for GPUs;
  the front end's fbank and the softmaxes stay float32, as autocast keeps them); outputs
  are returned as float32. On CPU, bfloat16 is tested against float32
  (tests/test_bench_extract.py states the measured difference).

Clip lengths come from the audio headers (``soundfile.info``), so the batches are planned
before any audio is decoded.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from typing import Callable, Generic, Iterator, Sequence, TypeVar

import soundfile as sf
import torch

from spear_bench.audio import load_audio
from spear_bench.audio.batching import length_batches
from spear_bench.errors import ConfigError

T = TypeVar("T")
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


@dataclass(frozen=True)
class ExtractConfig:
    """How clips are batched and loaded, and the inference precision."""

    max_batch_s: float = 160.0  # padded audio per batch (the frame budget), in seconds
    max_batch_clips: int = 64
    workers: int = 2  # DataLoader worker processes decoding audio (0: in this process)
    dtype: str = "float32"  # float32 | bfloat16 | float16
    sample_rate: int = 16000

    def __post_init__(self):
        if self.dtype not in DTYPES:
            raise ConfigError(f"--dtype {self.dtype!r}: expected one of {', '.join(DTYPES)}")
        if self.max_batch_s <= 0 or self.max_batch_clips < 1 or self.workers < 0:
            raise ConfigError(f"extraction settings must be positive: {self}")

    @property
    def budget_samples(self) -> int:
        return int(self.max_batch_s * self.sample_rate)


def audio_length(path, sample_rate: int = 16000) -> int:
    """Samples of a file at ``sample_rate``, from its header; formats soundfile cannot read are decoded
    (by ``load_audio``, which raises the one-line AudioError for a bad file)."""
    try:
        info = sf.info(str(path))
    except RuntimeError:  # soundfile.LibsndfileError
        return int(load_audio(path, target_sr=sample_rate).numel())
    return int(round(info.frames * sample_rate / info.samplerate))


class _Clips(torch.utils.data.Dataset, Generic[T]):
    def __init__(self, items: Sequence[T], load: Callable[[T], torch.Tensor]):
        self.items, self.load = items, load

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> tuple[int, torch.Tensor]:
        return index, self.load(self.items[index])


def _collate(samples: list[tuple[int, torch.Tensor]]) -> tuple[list[int], list[torch.Tensor]]:
    return [i for i, _ in samples], [w for _, w in samples]


def load_batches(
    items: Sequence[T],
    lengths: Sequence[int],
    load: Callable[[T], torch.Tensor],
    config: ExtractConfig,
    equal_lengths: bool = False,
) -> Iterator[tuple[list[T], list[torch.Tensor]]]:
    """(items, waveforms) per planned batch, decoded by DataLoader workers ahead of use.

    ``load`` must be picklable (a module-level function) when ``config.workers`` > 0.
    """
    if not items:
        return
    batches = length_batches(lengths, config.budget_samples, config.max_batch_clips, equal_lengths)
    workers = min(config.workers, len(batches))
    loader = torch.utils.data.DataLoader(
        _Clips(items, load),
        batch_sampler=batches,
        collate_fn=_collate,
        num_workers=workers,
        prefetch_factor=2 if workers else None,
    )
    for indices, waves in loader:
        yield [items[i] for i in indices], waves


def pad(waves: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, S_max) zero-padded batch and lengths (B,)."""
    lengths = torch.tensor([w.numel() for w in waves])
    return torch.nn.utils.rnn.pad_sequence(waves, batch_first=True), lengths


def precision(dtype: str, device: str | torch.device = "cpu"):
    """Context manager: autocast to ``dtype`` on the device's type, or nothing for float32."""
    if dtype == "float32":
        return contextlib.nullcontext()
    if dtype not in DTYPES:
        raise ConfigError(f"--dtype {dtype!r}: expected one of {', '.join(DTYPES)}")
    return torch.autocast(device_type=torch.device(device).type, dtype=DTYPES[dtype])


@dataclass
class ExtractClock:
    """Seconds spent extracting (loading + model), per caller, for the demo's stage times."""

    seconds: dict[str, float]

    def add(self, name: str, seconds: float) -> None:
        self.seconds[name] = self.seconds.get(name, 0.0) + seconds


CLOCK = ExtractClock({})


@contextlib.contextmanager
def timed(name: str):
    start = time.perf_counter()
    try:
        yield
    finally:
        CLOCK.add(name, time.perf_counter() - start)
