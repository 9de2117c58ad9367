"""Shared embedding extraction: length-sorted batches in a frame budget, DataLoader workers, autocast precision."""

from __future__ import annotations

import pytest
import torch

from spear_bench.audio.batching import length_batches
from spear_bench.bench.extract import ExtractConfig, load_batches, pad, precision
from spear_bench.errors import ConfigError

# Measured on spear_tiny (random init, 2 x 2 s of noise, CPU autocast to bfloat16):
# relative L2 error 0.028 and smallest per-frame cosine similarity 0.9995 against float32
# (SPEAR Base: 0.026 and 0.9996). bfloat16 keeps 8 mantissa bits (~0.4 % per rounding),
# so a few percent after 12+ layers is its expected precision, not a defect.
BF16_MAX_RELATIVE_L2 = 0.05
BF16_MIN_FRAME_COSINE = 0.998


def test_batches_are_sorted_within_the_frame_budget_and_cover_every_clip():
    lengths = [16000, 48000, 16000, 160000, 32000, 16000, 8000, 48000]
    batches = length_batches(lengths, budget_samples=96000, max_clips=64)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    flat = [lengths[i] for b in batches for i in b]
    assert flat == sorted(flat, reverse=True)  # neighbours in length share a batch: little padding
    for b in batches:
        assert len(b) == 1 or len(b) * max(lengths[i] for i in b) <= 96000
    assert [lengths[i] for i in batches[0]] == [160000]  # a clip over the budget goes alone


def test_batch_size_follows_the_budget_not_a_count():
    short = length_batches([16000] * 100, budget_samples=16000 * 32, max_clips=64)
    long = length_batches([16000 * 60] * 4, budget_samples=16000 * 32, max_clips=64)
    assert [len(b) for b in short] == [32, 32, 32, 4] and [len(b) for b in long] == [1, 1, 1, 1]
    assert [len(b) for b in length_batches([16000] * 100, 16000 * 1000, max_clips=40)] == [40, 40, 20]


def test_equal_length_batches_never_mix_lengths():
    lengths = [100, 100, 90, 100, 90, 80]
    for b in length_batches(lengths, budget_samples=10**6, max_clips=64, equal_lengths=True):
        assert len({lengths[i] for i in b}) == 1


def _load(n: int) -> torch.Tensor:
    return torch.full((n,), float(n))


def test_dataloader_workers_return_every_clip_with_its_item():
    items = [3, 7, 5, 7, 2, 9, 4]
    seen = []
    for batch_items, waves in load_batches(items, items, _load, ExtractConfig(max_batch_s=14 / 16000, workers=2)):
        for item, wave in zip(batch_items, waves):
            assert wave.numel() == item and float(wave[0]) == item
            seen.append(item)
    assert sorted(seen) == sorted(items)
    padded, lengths = pad([torch.ones(3), torch.ones(5)])
    assert padded.shape == (2, 5) and lengths.tolist() == [3, 5] and padded[0, 3:].abs().sum() == 0


def test_unknown_dtype_is_a_config_error():
    with pytest.raises(ConfigError, match="--dtype"):
        ExtractConfig(dtype="int8")


def test_bfloat16_outputs_are_close_to_float32_on_cpu(one_thread):
    from spear_bench.models.checkpoint import build_spear_tiny

    model = build_spear_tiny(None, 0)
    wave = 0.1 * torch.randn(2, 32000, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        reference = model(wave, output_hidden_states=False).last_hidden_state
        with precision("bfloat16"):
            low = model(wave, output_hidden_states=False).last_hidden_state.float()
    relative = float((low - reference).norm() / reference.norm())
    cosine = float(torch.nn.functional.cosine_similarity(low, reference, dim=-1).min())
    assert 0 < relative <= BF16_MAX_RELATIVE_L2  # > 0: autocast really ran in bfloat16
    assert cosine >= BF16_MIN_FRAME_COSINE
