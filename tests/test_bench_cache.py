"""Embedding cache: keyed by model, weights, layer, task, split, file and audio bytes; atomic entries."""

import numpy as np
import torch

from spear_bench.bench.cache import EmbeddingCache
from spear_bench.hashing import file_hash, state_dict_hash


def test_put_then_get_roundtrip_counts_hits_and_misses(tmp_path):
    cache = EmbeddingCache(tmp_path, "m", "abc123", "last")
    assert cache.get("task", "train", "a.wav", "h1") is None
    cache.put("task", "train", "a.wav", "h1", {"embedding": np.arange(4, dtype=np.float32)})
    arrays = cache.get("task", "train", "a.wav", "h1")
    np.testing.assert_array_equal(arrays["embedding"], np.arange(4, dtype=np.float32))
    assert (cache.hits, cache.misses) == (1, 1)
    assert not list(tmp_path.rglob("*.tmp"))  # written via a temporary file + rename


def test_changed_audio_weights_or_layer_is_a_miss(tmp_path):
    cache = EmbeddingCache(tmp_path, "m", "abc123", "last")
    cache.put("task", "train", "a.wav", "h1", {"embedding": np.zeros(2, np.float32)})
    assert cache.get("task", "train", "a.wav", "h2") is None  # other audio bytes
    assert EmbeddingCache(tmp_path, "m", "def456", "last").get("task", "train", "a.wav", "h1") is None
    assert EmbeddingCache(tmp_path, "m", "abc123", "all").get("task", "train", "a.wav", "h1") is None


def test_changed_settings_are_a_miss_and_the_same_settings_a_hit(tmp_path):
    settings = {"code": {"sources": "aaa"}, "module_settings": {"encoder": {"config": {"edge_pad_frames": [3, 4]}}}}
    EmbeddingCache(tmp_path, "m", "abc", "last", settings=settings).put(
        "t", "s", "a.wav", "h", {"e": np.zeros(2, np.float32)}
    )
    assert EmbeddingCache(tmp_path, "m", "abc", "last", settings=dict(settings)).get("t", "s", "a.wav", "h") is not None
    for changed in (
        {**settings, "code": {"sources": "bbb"}},
        {**settings, "module_settings": {"encoder": {"config": {"edge_pad_frames": [0, 0]}}}},
    ):
        assert EmbeddingCache(tmp_path, "m", "abc", "last", settings=changed).get("t", "s", "a.wav", "h") is None


def test_corrupt_entry_is_recomputed_not_fatal(tmp_path):
    cache = EmbeddingCache(tmp_path, "m", "abc", "last")
    path = cache.put("t", "s", "a.wav", "h", {"embedding": np.zeros(2, np.float32)})
    path.write_bytes(b"not an npz")
    assert cache.get("t", "s", "a.wav", "h") is None and not path.exists()


def test_state_dict_hash_tracks_every_weight(tmp_path):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2))
    before = state_dict_hash(model)
    assert state_dict_hash(model) == before
    with torch.no_grad():
        model[1].running_mean[0] += 1e-3
    assert state_dict_hash(model) != before


def test_file_hash_is_content_based(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_bytes(b"x" * 10)
    b.write_bytes(b"x" * 10)
    assert file_hash(a) == file_hash(b)
    b.write_bytes(b"y" * 10)
    assert file_hash(a) != file_hash(b)
