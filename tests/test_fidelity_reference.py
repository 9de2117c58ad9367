"""Fidelity: our Zipformer2 reproduces the reference implementation's outputs on zipformer2-tiny.

The reference vectors live in the shared folder next to the repository
(``REPO_ROOT.parent / "shared" / "reference-vectors" / "zipformer2-tiny"``); a missing
folder is a failure, not a skip. Every comparison is on valid frames only, max abs
difference <= 1e-4 (not loosened: a failure means the model is wrong).
"""
from __future__ import annotations

import json

import pytest
import torch

from spear_bench.paths import REPO_ROOT

REFERENCE = REPO_ROOT.parent / "shared" / "reference-vectors" / "zipformer2-tiny"
TOLERANCE = 1e-4


def reference_dir():
    if not (REFERENCE / "model.safetensors").is_file():
        pytest.fail(f"reference vectors missing: {REFERENCE} (expected config.json, model.safetensors, expected.safetensors)")
    return REFERENCE


def max_abs_on_valid(actual: torch.Tensor, expected: torch.Tensor, lengths) -> float:
    assert actual.shape[0] == expected.shape[0] and actual.shape[2] == expected.shape[2], (actual.shape, expected.shape)
    worst = 0.0
    for i, n in enumerate(lengths):
        n = int(n)
        assert actual.shape[1] >= n, (actual.shape, n)
        worst = max(worst, (actual[i, :n] - expected[i, :n]).abs().max().item())
    return worst


@pytest.fixture(scope="module")
def expected():
    from safetensors.torch import load_file

    return load_file(str(reference_dir() / "expected.safetensors"))


@pytest.fixture(scope="module")
def reference_model():
    from spear_bench.models.checkpoint import load_spear_checkpoint

    return load_spear_checkpoint(reference_dir())


@pytest.fixture(scope="module")
def reference_run(reference_model, expected):
    with torch.no_grad():
        return reference_model.run(expected["fbank"], expected["fbank_lens"])


def test_reference_weights_load_with_strict_key_matching():
    from safetensors.torch import load_file

    from spear_bench.models.spear import SpearConfig, SpearEncoder

    config = SpearConfig.from_dict(json.loads((reference_dir() / "config.json").read_text()))
    model = SpearEncoder(config)
    result = model.load_state_dict(load_file(str(reference_dir() / "model.safetensors")), strict=True)
    assert not result.missing_keys and not result.unexpected_keys


def test_embed_out_matches_reference(reference_run, expected):
    assert torch.equal(reference_run.embed_lens, expected["embed_lens"])
    diff = max_abs_on_valid(reference_run.embed_out, expected["embed_out"], expected["embed_lens"])
    print(f"embed_out max abs diff {diff:.2e}")
    assert diff <= TOLERANCE


def test_every_layer_output_matches_reference_at_its_stack_rate(reference_model, reference_run, expected):
    factors = reference_model.config.downsampling_factor
    names = sorted(k for k in expected if k.startswith("layer_out."))
    compared, worst = 0, 0.0
    for i, stack in enumerate(reference_run.encoder.layer_outputs):
        lengths = (expected["embed_lens"] + factors[i] - 1) // factors[i]
        for j, output in enumerate(stack):
            ref = expected[f"layer_out.stack{i}.layer{j}"]
            assert output.shape == ref.shape, (i, j, output.shape, ref.shape)
            diff = max_abs_on_valid(output, ref, lengths)
            print(f"layer_out.stack{i}.layer{j} max abs diff {diff:.2e}")
            assert diff <= TOLERANCE, f"stack {i} layer {j}: {diff:.2e}"
            worst = max(worst, diff)
            compared += 1
    assert compared == len(names) == reference_model.num_hidden_states
    print(f"layer_out.* (all {compared}) max abs diff {worst:.2e}")


def test_encoder_output_before_output_downsampling_matches_reference(reference_run, expected):
    diff = max_abs_on_valid(reference_run.encoder.full_dim_out, expected["encoder_out_before_output_downsampling"], expected["embed_lens"])
    print(f"encoder_out_before_output_downsampling max abs diff {diff:.2e}")
    assert diff <= TOLERANCE


def test_encoder_output_and_lengths_match_reference(reference_run, expected):
    assert torch.equal(reference_run.encoder.encoder_out_lens, expected["encoder_out_lens"])
    assert reference_run.encoder.encoder_out.shape == expected["encoder_out"].shape
    diff = max_abs_on_valid(reference_run.encoder.encoder_out, expected["encoder_out"], expected["encoder_out_lens"])
    print(f"encoder_out max abs diff {diff:.2e}")
    assert diff <= TOLERANCE


def test_forward_fbank_returns_reference_output_and_50hz_layer_states(reference_model, expected):
    with torch.no_grad():
        out = reference_model.forward_fbank(expected["fbank"], expected["fbank_lens"])
    assert reference_model.frame_rate == 25.0  # this config downsamples the output by 2
    assert torch.equal(out.lengths, expected["encoder_out_lens"])
    assert max_abs_on_valid(out.last_hidden_state, expected["encoder_out"], out.lengths) <= TOLERANCE
    assert torch.equal(out.hidden_lengths, expected["embed_lens"])
    t50 = expected["embed_out"].shape[1]
    factors = reference_model.config.downsampling_factor
    flat = [(i, j) for i, n in enumerate(reference_model.config.num_encoder_layers) for j in range(n)]
    assert len(out.hidden_states) == len(flat)
    for state, (i, j) in zip(out.hidden_states, flat):
        assert state.shape == (2, t50, 96)
        repeated = torch.repeat_interleave(expected[f"layer_out.stack{i}.layer{j}"], factors[i], dim=1)[:, :t50]
        assert max_abs_on_valid(state, repeated, expected["embed_lens"]) <= TOLERANCE


def test_output_downsampling_factor_1_returns_the_50hz_encoder_output(expected):
    import dataclasses

    from spear_bench.models.checkpoint import read_config, read_state_dict
    from spear_bench.models.spear import SpearEncoder

    config = dataclasses.replace(read_config(reference_dir() / "config.json"), output_downsampling_factor=1)
    model = SpearEncoder(config).eval()
    model.load_state_dict(read_state_dict(reference_dir() / "model.safetensors"), strict=True)
    assert model.frame_rate == 50.0
    with torch.no_grad():
        out = model.forward_fbank(expected["fbank"], expected["fbank_lens"], output_hidden_states=False)
    assert torch.equal(out.lengths, expected["embed_lens"])
    diff = max_abs_on_valid(out.last_hidden_state, expected["encoder_out_before_output_downsampling"], out.lengths)
    assert diff <= TOLERANCE
    assert out.hidden_states == ()
