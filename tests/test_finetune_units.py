"""Output units (BPE / letters), SpecAugment and mixup."""

import numpy as np
import pytest
import torch

import spear_bench  # noqa: F401
from spear_bench.errors import ConfigError
from spear_bench.finetune.augment import (
    MixupConfig,
    SpecAugmentConfig,
    mixup,
    spec_augment_fbank,
    spec_augment_waveform,
)
from spear_bench.finetune.mini_corpora import DEMO_SENTENCES
from spear_bench.finetune.tokenizer import CharTokenizer, load_tokenizer, normalize_transcript, train_tokenizer


def test_bpe_round_trips_text_and_reserves_blank_zero(tmp_path):
    tokenizer = train_tokenizer("bpe", DEMO_SENTENCES, 48)
    assert tokenizer.blank_id == 0 and tokenizer.vocab_size == 48
    ids = tokenizer.encode("the cat sat on the mat")
    assert 0 not in ids and all(0 < i < 48 for i in ids)
    assert tokenizer.decode(ids) == "THE CAT SAT ON THE MAT"
    tokenizer.save(tmp_path)
    assert load_tokenizer(tmp_path).encode("a dog ran") == tokenizer.encode("a dog ran")


def test_bpe_takes_what_a_small_corpus_offers_instead_of_failing():
    tokenizer = train_tokenizer("bpe", ["ab ab ab"], 500)
    assert tokenizer.vocab_size < 500 and tokenizer.decode(tokenizer.encode("ab")) == "AB"


def test_letters_are_appendix_c_units():
    tokenizer = CharTokenizer()
    assert tokenizer.vocab_size == 29  # 26 letters, word boundary, apostrophe, blank
    assert tokenizer.decode(tokenizer.encode("It's a dog!")) == "IT'S A DOG"


def test_unknown_tokenizer_is_a_config_error():
    with pytest.raises(ConfigError, match="wordpiece"):
        train_tokenizer("wordpiece", ["a"], 10)


def test_transcripts_are_normalised_like_librispeech():
    assert normalize_transcript("Hello,  world - it's me.") == "HELLO WORLD IT'S ME"


def test_spec_augment_masks_only_valid_frames_and_within_limits():
    config = SpecAugmentConfig(
        num_freq_masks=2, max_freq_width=10, num_time_masks=4, max_time_width=20, max_time_fraction=0.2
    )
    feats = torch.randn(2, 300, 128)
    lengths = torch.tensor([300, 200])
    out = spec_augment_fbank(feats, lengths, config, torch.Generator().manual_seed(0))
    assert torch.equal(out[1, 200:], feats[1, 200:])  # padding untouched
    for b, length in enumerate(lengths.tolist()):
        changed = out[b, :length] != feats[b, :length]
        masked_frames = changed.all(dim=1).sum().item()
        assert 0 < masked_frames <= 0.2 * length + 1
        masked_bins = changed.all(dim=0).sum().item()
        assert masked_bins <= 2 * 10


def test_spec_augment_is_reproducible_with_a_generator_and_off_when_disabled():
    feats, lengths = torch.randn(1, 100, 128), torch.tensor([100])
    config = SpecAugmentConfig()
    a = spec_augment_fbank(feats, lengths, config, torch.Generator().manual_seed(3))
    b = spec_augment_fbank(feats, lengths, config, torch.Generator().manual_seed(3))
    assert torch.equal(a, b) and not torch.equal(a, feats)
    assert torch.equal(spec_augment_fbank(feats, lengths, SpecAugmentConfig(enabled=False)), feats)


def test_waveform_spec_augment_zeroes_whole_hops():
    waves, lengths = torch.ones(1, 16000), torch.tensor([16000])
    out = spec_augment_waveform(
        waves, lengths, SpecAugmentConfig(max_time_fraction=0.2), torch.Generator().manual_seed(1)
    )
    zeroed = (out == 0).float().sum().item()
    assert 0 < zeroed <= 0.2 * 16000 and zeroed % 160 == 0


def test_mixup_mixes_waves_and_targets_with_the_same_weight():
    waves = torch.stack([torch.full((100,), 1.0), torch.full((100,), 3.0)])
    targets = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    mixed, lengths, soft = mixup(
        waves, torch.tensor([100, 60]), targets, MixupConfig(prob=1.0, alpha=2.0), torch.Generator().manual_seed(0)
    )
    lam = soft[:, 0].clone()
    lam[1] = soft[1, 1]
    assert torch.allclose(mixed[0], lam[0] * 1.0 + (1 - lam[0]) * 3.0 * torch.ones(100))
    assert torch.allclose(soft.sum(dim=1), torch.ones(2))
    assert lengths.tolist() == [100, 100]


def test_mixup_with_probability_zero_changes_nothing():
    waves, targets = torch.randn(4, 50), torch.eye(4)
    mixed, lengths, soft = mixup(waves, torch.full((4,), 50), targets, MixupConfig(prob=0.0))
    assert torch.equal(mixed, waves) and torch.equal(soft, targets)


def test_mixup_mixes_about_the_requested_fraction_of_clips():
    waves, targets = torch.randn(2000, 4), torch.eye(2000)  # every clip its own class
    _, _, soft = mixup(waves, torch.full((2000,), 4), targets, MixupConfig(prob=0.5), torch.Generator().manual_seed(0))
    mixed_fraction = float((soft.max(dim=1).values < 1).float().mean())
    assert mixed_fraction == pytest.approx(0.5, abs=0.05)
    assert np.isfinite(soft.numpy()).all()
