"""SPEAR encoder: sizes, parameter counts, frame counts, config parsing, train/eval behaviour."""

from __future__ import annotations

import pytest
import torch

from spear_bench.errors import AudioError, ConfigError
from spear_bench.models.checkpoint import build_spear_tiny
from spear_bench.models.spear import SpearConfig, SpearEncoder, spear_config

# encoder_embed + encoder as counted by the reference Zipformer2 code (spear-facts.md).
REFERENCE_COUNTS = {"base": 93_289_363, "large": 326_951_346, "xlarge": 596_973_236}
HIDDEN_STATES = {"base": 12, "large": 11, "xlarge": 13}


def meta_encoder(size: str) -> SpearEncoder:
    with torch.device("meta"):  # nothing allocated: counting 600M parameters stays instant
        return SpearEncoder(spear_config(size))


@pytest.mark.parametrize("size", ["base", "large", "xlarge"])
def test_parameter_count_matches_reference_within_half_a_percent(size):
    count = meta_encoder(size).num_parameters()
    assert abs(count - REFERENCE_COUNTS[size]) / REFERENCE_COUNTS[size] < 0.005
    assert count == REFERENCE_COUNTS[size]  # in fact exact


@pytest.mark.parametrize("size", ["base", "large", "xlarge"])
def test_number_of_hidden_states_is_one_per_layer(size):
    assert meta_encoder(size).num_hidden_states == HIDDEN_STATES[size]


@pytest.mark.slow
def test_four_seconds_of_audio_give_200_frames_in_every_hidden_state():
    from spear_bench.models import load_encoder

    model = load_encoder("base[random-init]")
    wave = 0.1 * torch.randn(1, 64000, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        out = model(wave, torch.tensor([64000]))
    # 400 fbank frames + 3 + 4 replicated edge frames -> (407 - 7) // 2 = 200 at 50 Hz.
    expected = 200
    assert out.last_hidden_state.shape == (1, expected, 512)
    assert len(out.hidden_states) == 12
    assert all(h.shape == (1, expected, 512) for h in out.hidden_states)
    assert int(out.lengths[0]) == int(out.hidden_lengths[0]) == expected
    assert model.num_frames(64000) == expected == 4.0 * model.frame_rate
    # forward_fbank never pads: the release's (T - 7) // 2
    with torch.no_grad():
        from spear_bench.audio import fbank_batch

        raw = model.forward_fbank(*fbank_batch(wave, torch.tensor([64000])), layers=[0])
    assert raw.hidden_states[0].shape[1] == (400 - 7) // 2


def test_spear_tiny_is_registered_and_seeded():
    from spear_bench.models import load_encoder

    a, b, c = (
        load_encoder("spear_tiny[random-init]", seed=1),
        load_encoder("spear_tiny[random-init]", seed=1),
        load_encoder("spear_tiny[random-init]", seed=2),
    )
    assert not a.training
    pa, pb, pc = (torch.cat([p.flatten() for p in m.parameters()]) for m in (a, b, c))
    assert torch.equal(pa, pb) and not torch.equal(pa, pc)
    assert a.hidden_size == 96 and a.frame_rate == 50.0 and a.num_hidden_states == 10


def test_random_init_does_not_disturb_the_global_rng():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    build_spear_tiny(None, seed=5)
    assert torch.equal(torch.rand(3), expected)


def test_config_accepts_ints_lists_and_comma_separated_strings():
    config = SpearConfig(
        downsampling_factor="1,2,4,8,4,2,1",
        encoder_dim="96",
        num_encoder_layers=[1, 2, 2, 2, 1, 1, 1],
        encoder_unmasked_dim=64,
        num_heads="4,4,4,4,4,4,4",
        feedforward_dim="192, 192, 192, 192, 192, 192, 192",
        output_downsampling_factor="2",
    )
    assert config.downsampling_factor == (1, 2, 4, 8, 4, 2, 1)
    assert config.encoder_dim == (96,) * 7 and config.encoder_unmasked_dim == (64,) * 7
    assert config.feedforward_dim == (192,) * 7 and config.output_downsampling_factor == 2
    assert config.num_layers == 10


def test_config_with_wrong_number_of_stack_values_names_the_setting():
    with pytest.raises(ConfigError, match="num_encoder_layers has 3 entries"):
        SpearConfig(num_encoder_layers="1,2,3")


def test_config_with_non_integer_value_names_the_setting():
    with pytest.raises(ConfigError, match="encoder_dim"):
        SpearConfig(encoder_dim="512,abc")


def test_config_rejects_unsupported_output_downsampling():
    with pytest.raises(ConfigError, match="output_downsampling_factor"):
        SpearConfig(output_downsampling_factor=4)


def test_eval_forward_is_deterministic_and_training_forward_is_not():
    from spear_bench.models.zipformer_ops import set_batch_count

    model = build_spear_tiny(None, seed=0)
    fbank = torch.randn(2, 300, 128, generator=torch.Generator().manual_seed(0))
    lens = torch.tensor([300, 250])
    with torch.no_grad():
        first = model.forward_fbank(fbank, lens).last_hidden_state
        second = model.forward_fbank(fbank, lens).last_hidden_state
    assert torch.equal(first, second)
    model.train()
    set_batch_count(model, 1000)  # dropout, layer skip and feature masks active early in training
    torch.manual_seed(0)
    trained = model.forward_fbank(fbank, lens).last_hidden_state
    assert not torch.allclose(trained, first)


def test_training_forward_backward_reaches_every_used_parameter():
    from spear_bench.models.zipformer_ops import set_batch_count

    model = build_spear_tiny(None, seed=0).train()
    set_batch_count(model, 50000)  # late in training: skip rates ~0, regularisers still active
    torch.manual_seed(0)
    fbank = torch.randn(2, 200, 128)
    out = model.forward_fbank(fbank, torch.tensor([200, 180]))
    (out.last_hidden_state.pow(2).mean() + sum(h.mean() for h in out.hidden_states)).backward()
    unused = {n for n, p in model.named_parameters() if p.grad is None}
    # The per-layer bypass_scale (kept for the released weights) and the unapplied output
    # downsampling weights are the only parameters without gradient.
    import re

    allowed = re.compile(
        r"encoder\.encoders\.\d+\.(encoder\.)?layers\.\d+\.bypass_scale|encoder\.downsample_output\.bias"
    )
    assert unused and all(allowed.fullmatch(n) for n in unused), unused
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def test_selected_layers_are_returned_in_the_requested_order():
    model = build_spear_tiny(None, seed=0)
    fbank = torch.randn(1, 120, 128)
    with torch.no_grad():
        full = model.forward_fbank(fbank, torch.tensor([120]))
        some = model.forward_fbank(fbank, torch.tensor([120]), layers=[7, 0, -1])
    assert len(some.hidden_states) == 3
    for got, k in zip(some.hidden_states, [7, 0, 9]):
        assert torch.equal(got, full.hidden_states[k])


def test_out_of_range_layer_is_a_config_error():
    model = build_spear_tiny(None, seed=0)
    with pytest.raises(ConfigError, match="10 hidden states"):
        model.forward_fbank(torch.randn(1, 100, 128), torch.tensor([100]), layers=[10])


def test_too_short_input_is_an_audio_error():
    model = build_spear_tiny(None, seed=0)
    with pytest.raises(AudioError, match="5 fbank frames"):
        model.forward_fbank(torch.randn(1, 5, 128), torch.tensor([5]))
    assert model.min_samples == 240  # 2 fbank frames + 7 replicated edge frames = 9
    model(torch.randn(1, 240))
    with pytest.raises(AudioError, match="239 samples .* at least 240 samples"):
        model(torch.randn(1, 239))


def test_frame_times_follow_the_front_end_geometry():
    model = build_spear_tiny(None, seed=0)
    # the waveform entry replicates 3 fbank frames in front: frame k is centred at 15 + 20 k ms
    assert torch.allclose(model.frame_times(3), torch.tensor([0.015, 0.035, 0.055], dtype=torch.float64))
    import dataclasses

    halved = SpearEncoder(dataclasses.replace(model.config, output_downsampling_factor=2))
    assert torch.allclose(halved.frame_times(2), torch.tensor([0.025, 0.065], dtype=torch.float64))
    assert torch.allclose(halved.frame_times(2, hidden=True), model.frame_times(2))
    release = SpearEncoder(dataclasses.replace(model.config, edge_pad_frames=(0, 0)))
    assert torch.allclose(release.frame_times(3), torch.tensor([0.045, 0.065, 0.085], dtype=torch.float64))


def test_edge_padding_replicates_each_utterances_own_first_and_last_frames():
    model = build_spear_tiny(None, seed=0)
    fbank = torch.full((2, 5, 128), -23.0)
    fbank[0] = torch.arange(5.0)[:, None]
    fbank[1, :3] = 10 + torch.arange(3.0)[:, None]
    out, lens = model.pad_fbank_edges(fbank, torch.tensor([5, 3]))
    assert lens.tolist() == [12, 10] and out.shape == (2, 12, 128)
    assert out[0, :, 0].tolist() == [0, 0, 0, 0, 1, 2, 3, 4, 4, 4, 4, 4]
    assert out[1, :10, 0].tolist() == [10, 10, 10, 10, 11, 12, 12, 12, 12, 12]
    from spear_bench.audio import FbankConfig

    assert torch.all(out[1, 10:] == FbankConfig().padding_value)  # the batch's padding stays padding


def test_batched_waveforms_get_the_frame_counts_of_their_own_lengths():
    model = build_spear_tiny(None, seed=0)
    waves = 0.1 * torch.randn(3, 16000, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        out = model(waves, torch.tensor([16000, 12345, 8000]))
    assert out.hidden_lengths.tolist() == [model.num_frames(n) for n in (16000, 12345, 8000)] == [50, 38, 25]
