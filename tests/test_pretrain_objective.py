"""Pre-training objective: masking statistics, Eq. 1 with alpha, dual-domain strategies."""

import math

import pytest
import torch

from spear_bench.errors import ConfigError
from spear_bench.pretrain.losses import IGNORE_INDEX, CodebookHeads, masked_prediction_loss
from spear_bench.pretrain.masking import (
    MaskingConfig,
    apply_masks,
    downsample_frame_mask,
    expected_time_mask_fraction,
    sample_channel_mask,
    sample_time_mask,
)
from spear_bench.pretrain.strategies import token_set_weights


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


# -- masking ----------------------------------------------------------------------------


def test_expected_mask_fraction_matches_hand_computed_small_case():
    # 20 frames, span 10, prob 1.0 -> exactly 2 spans whose starts are 2 distinct positions of
    # the first M = 20 - 10 = 10 (as in the release, the last frame is never a span's).
    # Frame j is covered by c_j starts: 1..10 for j = 0..9 and 9..0 for j = 10..19.
    # P(unmasked) = C(10 - c, 2) / C(10, 2) = (10 - c)(9 - c) / 90, summing to
    # 240/90 + 330/90 = 19/3 frames, so the masked fraction is 1 - (19/3)/20 = 41/60.
    assert expected_time_mask_fraction(1.0, 10, 20) == pytest.approx(41 / 60)
    # One span of 10 in 20 frames (prob 0.5, no minimum): exactly half is masked.
    assert expected_time_mask_fraction(0.5, 10, 20) == pytest.approx(0.5)


def test_expected_mask_fraction_for_long_utterances():
    # k = prob * T / span distinct starts among ~T positions: a frame escapes all span
    # starts before it with probability (1 - prob/span)^span.
    assert expected_time_mask_fraction(0.65, 10, 4000) == pytest.approx(1 - (1 - 0.065) ** 10, abs=2e-3)  # 0.4896
    assert expected_time_mask_fraction(0.5, 10, 4000) == pytest.approx(1 - (1 - 0.05) ** 10, abs=2e-3)  # 0.4013


def test_sampled_time_mask_fraction_matches_expectation():
    lengths = torch.full((400,), 300)
    mask = sample_time_mask(lengths, 300, 0.65, 10, 2, _gen())
    expected = expected_time_mask_fraction(0.65, 10, 300, min_spans=2)
    assert float(mask.float().mean()) == pytest.approx(expected, abs=0.01)


def test_time_mask_never_touches_padding_and_uses_whole_spans():
    lengths = torch.tensor([50, 120])
    mask = sample_time_mask(lengths, 120, 0.65, 10, 2, _gen(1))
    assert not mask[0, 50:].any()
    # every masked run (before the utterance end) is at least one span long
    row = mask[1].int().tolist()
    runs, current = [], 0
    for value in row + [0]:
        if value:
            current += 1
        elif current:
            runs.append(current)
            current = 0
    assert runs and all(r >= 10 for r in runs[:-1])


def test_channel_mask_spans_are_15_to_20_bins_and_cover_about_the_configured_share():
    mask = sample_channel_mask(2000, 128, 0.25, 15, 20, _gen(2))
    fraction = float(mask.float().mean())
    # floor(0.25*128/17.5 + U) = 1.83 + U -> 1 or 2 spans of mean 17.5 bins, with some overlap
    assert 0.15 < fraction < 0.26
    first = mask[0].int().tolist()
    assert sum(first) == 0 or sum(first) >= 15


def test_apply_masks_replaces_masked_frames_by_the_embedding_and_zeroes_bins():
    fbank = torch.randn(1, 6, 4)
    time = torch.tensor([[False, True, True, False, False, False]])
    channel = torch.tensor([[False, False, True, False]])
    embedding = torch.tensor([9.0, 8.0, 7.0, 6.0])
    out = apply_masks(fbank, time, channel, embedding)
    assert torch.equal(out[0, 1], embedding) and torch.equal(out[0, 2], embedding)
    assert torch.all(out[0, [0, 3, 4, 5], 2] == 0)
    assert torch.equal(out[0, 0, :2], fbank[0, 0, :2])


def test_downsample_frame_mask_pools_pairs_of_fbank_frames():
    mask = torch.tensor([[True, True, False, False, True, False, False, False]])
    assert downsample_frame_mask(mask, 4).tolist() == [[True, False, True, False]]


def test_masking_config_rejects_bad_probabilities():
    with pytest.raises(ConfigError):
        MaskingConfig(time_mask_prob=1.5)


# -- Eq. 1 ------------------------------------------------------------------------------


def _uniform_and_confident_logits():
    # 2 codebooks, K = 4, 3 frames. Codebook 0 is uniform (CE = ln 4); codebook 1 puts all
    # mass (logit 100) on the target (CE = 0).
    logits = torch.zeros(1, 3, 2, 4)
    targets = torch.tensor([[[0, 1], [2, 3], [1, 0]]])
    for t in range(3):
        logits[0, t, 1, targets[0, t, 1]] = 100.0
    return logits, targets


def test_alpha_weights_masked_and_unmasked_frames():
    logits, targets = _uniform_and_confident_logits()
    frame_mask = torch.tensor([[True, False, False]])
    ln4 = math.log(4)
    for alpha in (0.0, 0.5, 0.8, 1.0):
        out = masked_prediction_loss(logits, targets, frame_mask, alpha)
        # masked: 1 frame x ln4; unmasked: 2 frames x ln4; divided by N = 2 codebooks
        expected = (alpha * ln4 + (1 - alpha) * 2 * ln4) / 2
        assert float(out.loss[0]) == pytest.approx(expected, rel=1e-6)
    assert float(out.masked_ce[0]) == pytest.approx(ln4)
    assert out.masked_frames.tolist() == [1] and out.unmasked_frames.tolist() == [2]


def test_ignored_frames_contribute_nothing():
    logits, targets = _uniform_and_confident_logits()
    targets[0, 2] = IGNORE_INDEX
    out = masked_prediction_loss(logits, targets, torch.tensor([[False, False, False]]), 0.5)
    assert float(out.unmasked_ce[0]) == pytest.approx(2 * math.log(4))
    assert out.unmasked_frames.tolist() == [2]


def test_codebook_heads_are_independent_linear_layers():
    heads = CodebookHeads(8, 3, 16)
    hidden = torch.randn(2, 5, 8)
    logits = heads(hidden)
    assert logits.shape == (2, 5, 3, 16)
    assert torch.allclose(logits[:, :, 1], heads.heads[1](hidden))


# -- strategies -------------------------------------------------------------------------

DOMAINS = ["speech", "audio", "speech"]


def test_asymmetrical_uses_speech_tokens_everywhere_and_lambda_audio_tokens_on_audio():
    w = token_set_weights("asymmetrical", DOMAINS, ["speech", "audio"], 0.1)
    assert w["speech"].tolist() == [1.0, 1.0, 1.0]
    assert w["audio"].tolist() == pytest.approx([0.0, 0.1, 0.0])


def test_disjoint_uses_each_domains_own_tokens_only():
    w = token_set_weights("disjoint", DOMAINS, ["speech", "audio"], 0.1)
    assert w["speech"].tolist() == [1.0, 0.0, 1.0]
    assert w["audio"].tolist() == [0.0, 1.0, 0.0]


def test_joint_uses_both_token_sets_on_every_sample():
    w = token_set_weights("joint", DOMAINS, ["speech", "audio"], 0.25)
    assert w["speech"].tolist() == [1.0, 1.0, 1.0]
    assert w["audio"].tolist() == [0.25, 0.25, 0.25]


def test_single_token_set_weights_every_sample_once():
    assert token_set_weights("asymmetrical", DOMAINS, ["speech"], 0.1)["speech"].tolist() == [1.0, 1.0, 1.0]


def test_unknown_strategy_is_a_config_error():
    with pytest.raises(ConfigError, match="loss.strategy"):
        token_set_weights("both", DOMAINS, ["speech", "audio"], 0.1)
