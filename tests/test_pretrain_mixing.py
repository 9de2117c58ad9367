"""Token mixing (Sec. 3.2.3) and noise mixing."""

import math

import pytest
import torch

from spear_bench.pretrain.losses import IGNORE_INDEX
from spear_bench.pretrain.mixing import (
    NoiseMixingConfig,
    Sample,
    TokenMixingConfig,
    augment_batch,
    beta_from_powers,
    beta_from_snr,
    gain_for_snr,
    mix_token_sequences,
    mix_waveforms,
    signal_power,
    token_mix_sample,
)


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_beta_from_snr_hand_values():
    assert beta_from_snr(0.0) == pytest.approx(0.5)
    assert beta_from_snr(10.0) == pytest.approx(1 / 11)  # P(w') = P(w)/10
    assert beta_from_snr(-5.0) == pytest.approx(1 / (1 + 10**-0.5))  # 0.7597
    assert beta_from_snr(5.0) == pytest.approx(0.24025307, rel=1e-6)


def test_gain_sets_the_snr_and_beta_from_the_powers_agrees_with_the_snr_formula():
    w = torch.randn(16000, generator=_gen(1)) * 0.3
    other = torch.randn(8000, generator=_gen(2)) * 0.05
    for snr in (-5.0, -1.3, 0.0, 2.5, 5.0):
        g = gain_for_snr(w, other, snr)
        assert 10 * math.log10(signal_power(w) / signal_power(g * other)) == pytest.approx(snr, abs=1e-6)
        assert beta_from_powers(signal_power(w), signal_power(g * other)) == pytest.approx(beta_from_snr(snr), abs=1e-6)


def test_mix_waveforms_delays_the_second_signal_at_full_length():
    a = torch.ones(5)
    b = torch.full((4,), 2.0)
    assert mix_waveforms(a, b, 3).tolist() == [1, 1, 1, 3, 3, 2, 2]


def test_token_mixing_with_beta_zero_or_one_selects_one_source_per_frame():
    primary = torch.arange(12).reshape(6, 2)
    secondary = 100 + torch.arange(8).reshape(4, 2)
    keep = mix_token_sequences(primary, secondary, 0.0, 2, _gen())
    # overlap frames 2..5 keep the primary; nothing of w' survives inside w; no tail (2 + 4 = 6)
    assert torch.equal(keep, primary)
    switch = mix_token_sequences(primary, secondary, 1.0, 2, _gen())
    assert torch.equal(switch[:2], primary[:2])
    assert torch.equal(switch[2:6], secondary[:4])  # frame t holds w''s frame t - tau


def test_token_mixing_tail_after_the_first_utterance_takes_the_second_utterances_tokens():
    primary = torch.zeros(4, 3, dtype=torch.long)
    secondary = torch.ones(5, 3, dtype=torch.long)
    out = mix_token_sequences(primary, secondary, 0.0, 2, _gen())
    assert out.shape == (7, 3)  # max(4, 2 + 5)
    assert torch.equal(out[:4], primary) and torch.equal(out[4:], secondary[2:])


def test_token_mixing_switches_each_token_with_probability_beta():
    primary = torch.zeros(4000, 8, dtype=torch.long)
    secondary = torch.ones(4000, 8, dtype=torch.long)
    beta = beta_from_snr(3.0)
    out = mix_token_sequences(primary, secondary, beta, 0, _gen(3))
    assert float(out.float().mean()) == pytest.approx(beta, abs=0.01)
    # per codebook by default: codebooks of a frame switch independently
    assert bool(((out.sum(1) > 0) & (out.sum(1) < 8)).any())
    per_frame = mix_token_sequences(primary, secondary, beta, 0, _gen(3), per_codebook=False)
    assert set(per_frame.sum(1).tolist()) <= {0, 8}
    assert float(per_frame.float().mean()) == pytest.approx(beta, abs=0.03)


def test_token_mix_sample_mixes_speech_tokens_only_and_records_beta():
    g = _gen(4)
    a = Sample(
        "a",
        torch.randn(16000, generator=g),
        "speech",
        {"speech": torch.zeros(50, 4, dtype=torch.long), "audio": torch.zeros(25 * 2, 2, dtype=torch.long)},
    )
    b = Sample(
        "b",
        torch.randn(8000, generator=g) * 3,
        "audio",
        {"speech": torch.ones(25, 4, dtype=torch.long), "audio": torch.ones(50, 2, dtype=torch.long)},
    )
    mixed = token_mix_sample(a, b, TokenMixingConfig(prob=1.0), _gen(5))
    assert mixed.mixed_with == "b" and 0.24 <= mixed.beta <= 0.76  # SNR in (-5, 5) dB
    assert torch.equal(mixed.tokens["audio"], a.tokens["audio"])
    speech = mixed.tokens["speech"]
    assert speech.shape[0] >= 50 and bool((speech == 1).any())
    assert mixed.wave.numel() == max(16000, speech.shape[0] * 320 if speech.shape[0] > 50 else 0)


def test_augment_batch_token_mixes_only_speech_samples_with_a_partner_from_the_batch():
    g = _gen(6)
    samples = [
        Sample(f"s{i}", torch.randn(8000, generator=g), dom, {"speech": torch.full((25, 2), i, dtype=torch.long)})
        for i, dom in enumerate(["speech", "audio", "speech", "audio"])
    ]
    out = augment_batch(samples, TokenMixingConfig(prob=1.0), None, [], _gen(7))
    assert [s.mixed_with is not None for s in out] == [True, False, True, False]
    assert all(s.mixed_with != s.cut_id for s in out)


def test_noise_mixing_sets_snr_between_10_and_20_db_and_keeps_targets():
    g = _gen(8)
    clean = torch.randn(16000, generator=g)
    sample = Sample("a", clean, "audio", {"audio": torch.zeros(50, 2, dtype=torch.long)})
    noise = torch.randn(3000, generator=g)
    out = augment_batch([sample], None, NoiseMixingConfig(prob_audio=1.0), [noise], _gen(9))[0]
    assert 10.0 <= out.noise_snr <= 20.0
    added = out.wave - clean
    assert 10 * math.log10(signal_power(clean) / signal_power(added)) == pytest.approx(out.noise_snr, abs=1e-4)
    assert torch.equal(out.tokens["audio"], sample.tokens["audio"])


def test_augmentation_is_deterministic_given_the_generator():
    g = _gen(10)
    samples = [
        Sample(f"s{i}", torch.randn(4000, generator=g), "speech", {"speech": torch.full((12, 2), i)}) for i in range(4)
    ]
    noise = [torch.randn(500, generator=g)]
    cfg = (TokenMixingConfig(prob=0.5), NoiseMixingConfig(prob_speech=0.5))
    first = augment_batch(samples, *cfg, noise, _gen(11))
    second = augment_batch(samples, *cfg, noise, _gen(11))
    for x, y in zip(first, second):
        assert torch.equal(x.wave, y.wave) and torch.equal(x.tokens["speech"], y.tokens["speech"])


def test_ignore_index_fills_nothing_when_the_secondary_covers_the_tail():
    out = mix_token_sequences(torch.zeros(3, 1, dtype=torch.long), torch.ones(2, 1, dtype=torch.long), 0.5, 3, _gen())
    assert out.tolist() == [[0], [0], [0], [1], [1]]
    assert not bool((out == IGNORE_INDEX).any())
