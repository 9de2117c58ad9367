"""SPEAR through the s3prl hub (spear_tiny / spear_base ... spear_local), the HEAR module and X-ARES."""

import pytest
import torch
from _upstreams_tiny import three_waves

from spear_bench.audio import num_fbank_frames
from spear_bench.models import load_encoder
from spear_bench.models.checkpoint import save_spear_checkpoint
from spear_bench.upstreams import register

register()

import s3prl.hub  # noqa: E402
from s3prl.nn import Featurizer, S3PRLUpstream  # noqa: E402

import hear_spear  # noqa: E402


def padded(waves):
    return torch.nn.utils.rnn.pad_sequence(waves, batch_first=True), torch.tensor([len(w) for w in waves])


def check_upstream_and_featurizer(upstream: S3PRLUpstream, layers: int, dim: int):
    assert (
        upstream.num_layers == layers
        and set(upstream.hidden_sizes) == {dim}
        and set(upstream.downsample_rates) == {320}
    )
    waves = three_waves()
    with torch.no_grad():
        hidden, hidden_lens = upstream(*padded(waves))
        features, feature_lens = Featurizer(upstream)(hidden, hidden_lens)
    expected_lens = torch.tensor([(len(w) - 1) // 320 + 1 for w in waves])
    assert all(h.shape == (3, int(expected_lens.max()), dim) for h in hidden)
    assert features.shape == (3, int(expected_lens.max()), dim) and torch.equal(feature_lens, expected_lens)
    assert torch.isfinite(features).all()


def test_spear_tiny_entry_gives_one_hidden_state_per_zipformer_layer():
    check_upstream_and_featurizer(S3PRLUpstream("spear_tiny").eval(), layers=10, dim=96)


def test_spear_base_entry_at_real_size():
    upstream = S3PRLUpstream("spear_base").eval()
    check_upstream_and_featurizer(upstream, layers=12, dim=512)
    assert sum(p.numel() for p in upstream.parameters()) == pytest.approx(93.3e6, rel=0.005)


@pytest.mark.slow
@pytest.mark.parametrize("entry, layers, dim", [("spear_large", 11, 1024), ("spear_xlarge", 13, 1280)])
def test_spear_large_and_xlarge_entries_at_real_size(entry, layers, dim):
    check_upstream_and_featurizer(S3PRLUpstream(entry).eval(), layers=layers, dim=dim)


def test_spear_local_and_a_size_entry_load_a_checkpoint_folder(tmp_path):
    original = load_encoder("spear_tiny[random-init]", seed=7)
    save_spear_checkpoint(original, tmp_path / "ckpt")
    waves = three_waves()
    with torch.no_grad():
        reference = original(*padded(waves)).hidden_states
        for expert in (
            s3prl.hub.spear_local(ckpt=str(tmp_path / "ckpt")),
            s3prl.hub.spear_tiny(ckpt=str(tmp_path / "ckpt")),
        ):
            hidden = expert.eval()(waves)["hidden_states"]
            assert all(torch.allclose(a, b, atol=1e-5) for a, b in zip(hidden, reference))


def test_hear_spear_frames_every_20_ms_centred_at_20j_plus_15_ms():
    model = hear_spear.load_model(model="tiny")
    audio = 2 * torch.rand(2, 20000) - 1
    embeddings, timestamps = hear_spear.get_timestamp_embeddings(audio, model)
    frames = (num_fbank_frames(20000) + 7 - 7) // 2  # edge-padded fbank through the (T - 7) // 2 front end
    assert embeddings.shape == (2, frames, 96) and embeddings.dtype == torch.float32
    assert torch.allclose(timestamps[0], 15.0 + 20.0 * torch.arange(frames, dtype=torch.float32))
    scene = hear_spear.get_scene_embeddings(audio, model)
    assert scene.shape == (2, 96) and torch.allclose(scene, embeddings.mean(1), atol=1e-6)


def test_hear_spear_layer_all_is_the_papers_concatenation_of_every_layer():
    model = hear_spear.load_model(model="tiny", layer="all")
    assert model.timestamp_embedding_size == 10 * 96
    audio = 2 * torch.rand(1, 16000) - 1
    embeddings, _ = hear_spear.get_timestamp_embeddings(audio, model)
    with torch.no_grad():
        out = model.encoder(audio, torch.tensor([16000]))
    assert torch.allclose(embeddings, torch.cat(out.hidden_states, -1), atol=1e-5)


def test_hear_spear_model_file_uses_the_checkpoints_own_size(tmp_path):
    save_spear_checkpoint(load_encoder("spear_tiny[random-init]", seed=3), tmp_path / "ckpt")
    model = hear_spear.load_model(str(tmp_path / "ckpt"))  # model="base" by default: the checkpoint decides
    assert model.timestamp_embedding_size == 96


@pytest.mark.slow  # a real-size SPEAR Base forward on 2 x 3 s
def test_xares_adapter_defaults_to_spear_base():
    from spear_bench.xares_adapter import SpearBenchXaresEncoder

    encoder = SpearBenchXaresEncoder()
    assert (encoder.model_name, encoder.output_dim, encoder.hop_size_in_ms) == ("spear_base", 512, 20.0)
    with torch.no_grad():
        assert encoder(torch.randn(2, 50000)).shape == (2, num_fbank_frames(50000) // 2, 512)
