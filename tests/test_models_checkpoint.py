"""SPEAR checkpoints: released HF layout, strict loading, readable mismatch errors, safe unpickling."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch

from spear_bench.errors import CheckpointError
from spear_bench.models.checkpoint import (
    build_spear,
    build_spear_tiny,
    load_spear_checkpoint,
    read_config,
    read_state_dict,
    save_spear_checkpoint,
)
from spear_bench.models.spear import spear_config


@pytest.fixture(scope="module")
def tiny():
    return build_spear_tiny(None, seed=3)


def _outputs(model, seed=0):
    fbank = torch.randn(2, 160, 128, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        return model.forward_fbank(fbank, torch.tensor([160, 120]))


def test_save_then_load_gives_bit_identical_outputs(tiny, tmp_path):
    save_spear_checkpoint(tiny, tmp_path / "ckpt")
    loaded = load_spear_checkpoint(tmp_path / "ckpt")
    a, b = _outputs(tiny), _outputs(loaded)
    assert torch.equal(a.last_hidden_state, b.last_hidden_state)
    assert all(torch.equal(x, y) for x, y in zip(a.hidden_states, b.hidden_states))
    assert not loaded.training


def test_saved_checkpoint_uses_the_release_layout(tiny, tmp_path):
    from safetensors import safe_open

    folder = save_spear_checkpoint(tiny, tmp_path / "ckpt")
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.safetensors"]
    with safe_open(str(folder / "model.safetensors"), "pt") as f:
        keys = set(f.keys())
    assert "model.encoder_embed.out_norm.log_scale" in keys
    assert "model.encoder.encoders.1.encoder.layers.0.self_attn_weights.linear_pos.weight" in keys
    assert (
        "model.encoder.encoders.1.downsample.bias" in keys
        and "model.encoder.encoders.1.out_combiner.bypass_scale" in keys
    )
    config = json.loads((folder / "config.json").read_text())
    assert config["encoder_dim"] == [96] * 7 and config["downsampling_factor"] == [1, 2, 4, 8, 4, 2, 1]


def test_loading_the_weights_file_directly_uses_the_config_next_to_it(tiny, tmp_path):
    save_spear_checkpoint(tiny, tmp_path / "ckpt")
    loaded = load_spear_checkpoint(tmp_path / "ckpt" / "model.safetensors")
    assert torch.equal(_outputs(tiny).last_hidden_state, _outputs(loaded).last_hidden_state)


def test_pytorch_bin_with_plain_keys_and_comma_separated_config(tiny, tmp_path):
    folder = tmp_path / "release"
    folder.mkdir()
    torch.save({k: v.clone() for k, v in tiny.state_dict().items()}, folder / "pytorch_model.bin")
    config = {
        "model_type": "spear",
        "num_mel_bins": 128,
        "output_downsampling_factor": 1,
        "downsampling_factor": "1,2,4,8,4,2,1",
        "num_encoder_layers": "1,2,2,2,1,1,1",
        "feedforward_dim": "192,192,192,192,192,192,192",
        "encoder_dim": "96,96,96,96,96,96,96",
        "encoder_unmasked_dim": "64,64,64,64,64,64,64",
        "cnn_module_kernel": "31,31,15,15,15,31,31",
        "num_heads": "4,4,4,4,4,4,4",
        "query_head_dim": 32,
        "pos_dim": 48,
        "causal": False,
        "chunk_size": 8,
    }
    (folder / "config.json").write_text(json.dumps(config))
    loaded = load_spear_checkpoint(folder)
    assert loaded.config.num_encoder_layers == (1, 2, 2, 2, 1, 1, 1)
    assert torch.equal(_outputs(tiny).last_hidden_state, _outputs(loaded).last_hidden_state)


def test_icefall_style_nested_state_dict_is_accepted(tiny, tmp_path):
    path = tmp_path / "epoch-30.pt"
    torch.save({"model": {"model." + k: v for k, v in tiny.state_dict().items()}}, path)
    loaded = load_spear_checkpoint(path, expected=tiny.config)
    assert torch.equal(_outputs(tiny).last_hidden_state, _outputs(loaded).last_hidden_state)


def test_weights_without_config_infer_the_architecture(tiny, tmp_path):
    from safetensors.torch import save_file

    save_file({k: v.contiguous() for k, v in tiny.state_dict().items()}, str(tmp_path / "weights.safetensors"))
    loaded = load_spear_checkpoint(tmp_path / "weights.safetensors")
    ours, theirs = tiny.config, loaded.config
    for name in (
        "encoder_dim",
        "num_encoder_layers",
        "downsampling_factor",
        "feedforward_dim",
        "num_heads",
        "cnn_module_kernel",
        "pos_dim",
    ):
        assert getattr(ours, name) == getattr(theirs, name), name
    assert torch.equal(_outputs(tiny).last_hidden_state, _outputs(loaded).last_hidden_state)


def test_a_larger_checkpoint_loaded_as_a_smaller_size_names_the_mismatch(tmp_path):
    # Like a Large checkpoint given to build_spear_base: same keys, wider tensors.
    wide = build_spear(spear_config("tiny", encoder_dim=128, feedforward_dim=256), None, seed=0)
    from safetensors.torch import save_file

    save_file({"model." + k: v.contiguous() for k, v in wide.state_dict().items()}, str(tmp_path / "model.safetensors"))
    with pytest.raises(CheckpointError) as info:
        load_spear_checkpoint(tmp_path / "model.safetensors", expected=spear_config("tiny"))
    message = str(info.value)
    assert "\n" not in message
    assert (
        "shape mismatches" in message
        and "encoder_embed.out.weight: checkpoint (128, 3968) vs model (96, 3968)" in message
    )
    assert "more)" in message  # long lists are cut, with a count


def test_config_json_disagreeing_with_the_requested_size_is_an_error(tiny, tmp_path):
    save_spear_checkpoint(tiny, tmp_path / "ckpt")
    with pytest.raises(CheckpointError, match="encoder_dim=.*but spear_base expects"):
        load_spear_checkpoint(tmp_path / "ckpt", expected=spear_config("base"))


def test_missing_and_unexpected_keys_are_listed(tiny, tmp_path):
    from safetensors.torch import save_file

    state = {k: v.contiguous() for k, v in tiny.state_dict().items() if "conv_module2" not in k}
    state["decoder.weight"] = torch.zeros(3)
    save_file(state, str(tmp_path / "model.safetensors"))
    with pytest.raises(CheckpointError) as info:
        load_spear_checkpoint(tmp_path / "model.safetensors", expected=tiny.config)
    message = str(info.value)
    assert "missing: encoder.encoders.0.layers.0.conv_module2" in message
    assert "1 unexpected: decoder.weight" in message


def test_output_downsampling_weights_may_be_absent_when_unused(tiny, tmp_path):
    from safetensors.torch import save_file

    state = {k: v.contiguous() for k, v in tiny.state_dict().items() if k != "encoder.downsample_output.bias"}
    save_file(state, str(tmp_path / "model.safetensors"))
    loaded = load_spear_checkpoint(tmp_path / "model.safetensors", expected=tiny.config)
    assert torch.equal(_outputs(tiny).last_hidden_state, _outputs(loaded).last_hidden_state)
    with pytest.raises(CheckpointError, match="encoder.downsample_output.bias"):
        load_spear_checkpoint(
            tmp_path / "model.safetensors", expected=dataclasses.replace(tiny.config, output_downsampling_factor=2)
        )


def test_pickled_objects_other_than_tensors_are_refused(tmp_path):
    path = tmp_path / "evil.bin"
    torch.save({"weights": torch.zeros(2), "payload": _Payload()}, path)
    with pytest.raises(CheckpointError, match="unreadable weights"):
        read_state_dict(path)


class _Payload:
    def __reduce__(self):
        return (print, ("this must never run",))


def test_missing_checkpoint_and_corrupt_config_give_one_line_errors(tmp_path):
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        load_spear_checkpoint(tmp_path / "nothing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="no model.safetensors or pytorch_model.bin"):
        load_spear_checkpoint(tmp_path / "empty")
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="unreadable config"):
        read_config(tmp_path / "config.json")
    (tmp_path / "config.json").write_text(json.dumps({"encoder_dim": "96,x"}))
    with pytest.raises(CheckpointError, match="encoder_dim"):
        read_config(tmp_path / "config.json")
