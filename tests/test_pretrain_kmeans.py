"""K-means targets (Table 21) against the MVQ path on the same features: token shapes, storage, training on either."""

import numpy as np
import pytest
import torch
import yaml

from spear_bench.errors import ConfigError
from spear_bench.pretrain.config import load_pretrain_config
from spear_bench.pretrain.data import token_field
from spear_bench.pretrain.kmeans import KMeansConfig, KMeansQuantizer, storage_dtype, train_kmeans
from spear_bench.pretrain.mvq import MVQConfig, train_quantizer
from spear_bench.pretrain.pipeline import layout, load_quantizer, prepare_training_data
from spear_bench.pretrain.trainer import run_pretraining

TINY_SPEAR = {
    "encoder_dim": 48,
    "feedforward_dim": 96,
    "num_encoder_layers": [1, 1, 1, 1, 1, 1, 1],
    "encoder_unmasked_dim": 32,
    "num_heads": 2,
    "cnn_module_kernel": [7, 7, 5, 5, 5, 7, 7],
}


@pytest.fixture(scope="module")
def features():
    """Frames around 12 well-separated centres (600 x 16), as teacher features would be."""
    generator = torch.Generator().manual_seed(0)
    centres = torch.randn(12, 16, generator=generator) * 6
    labels = torch.randint(0, 12, (600,), generator=generator)
    return centres[labels] + 0.3 * torch.randn(600, 16, generator=generator)


def test_kmeans_and_mvq_tokens_have_their_declared_shapes_on_the_same_features(features):
    meta = {"frame_rate": 50.0}
    kmeans = train_kmeans(features, KMeansConfig(num_clusters=12, batch_size=256, n_init=3), meta)
    mvq_config = MVQConfig(num_codebooks=4, phase_one_iters=30, phase_two_iters=30, batch_frames=256)
    mvq = train_quantizer(features, mvq_config, meta, progress=False)
    k_tokens, m_tokens = kmeans.encode(features), mvq.encode(features)
    assert k_tokens.shape == (600, kmeans.num_codebooks) == (600, 1) and k_tokens.dtype == torch.uint8
    assert m_tokens.shape == (600, mvq.num_codebooks) == (600, 4) and m_tokens.dtype == torch.uint8
    assert kmeans.codebook_size == 12 and mvq.codebook_size == 256
    assert int(k_tokens.max()) < 12
    # Well-separated clusters are recovered, so k-means explains most of the variance.
    assert kmeans.relative_reconstruction_error(features) < 0.05


def test_kmeans_tokens_are_the_nearest_centroids(features):
    from sklearn.metrics import pairwise_distances_argmin

    config = KMeansConfig(num_clusters=8, batch_size=128, n_init=2, seed=3)
    kmeans = train_kmeans(features, config, {"frame_rate": 50.0})
    expected = pairwise_distances_argmin(features.double().numpy(), kmeans.centers.double().numpy())
    np.testing.assert_array_equal(kmeans.encode(features)[:, 0].numpy(), expected)


def test_more_than_256_clusters_are_stored_as_uint16_and_reload(tmp_path, features):
    config = KMeansConfig(num_clusters=300, batch_size=600, n_init=1, max_iter=5)
    kmeans = train_kmeans(features, config, {"frame_rate": 25.0})
    codes = kmeans.encode(features).numpy().astype(storage_dtype(kmeans.codebook_size))
    assert codes.dtype == np.uint16 and codes.shape == (600, 1) and codes.max() < 300
    loaded = load_quantizer(kmeans.save(tmp_path / "speech.pt"))
    assert isinstance(loaded, KMeansQuantizer) and loaded.quantizer_id == kmeans.quantizer_id
    assert torch.equal(loaded.encode(features), kmeans.encode(features))


def test_too_few_frames_for_the_clusters_is_a_config_error(features):
    with pytest.raises(ConfigError, match="needs at least"):
        train_kmeans(features[:10], KMeansConfig(num_clusters=20), {"frame_rate": 50.0})


def test_unknown_target_kind_is_a_config_error(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({"token_sets": [{"name": "speech", "target": "vq"}]}))
    with pytest.raises(ConfigError, match="bad.yaml.*target='vq'"):
        load_pretrain_config(path)


def _config(tmp_path, tiny_wavlm: dict, target: str):
    speech = {
        "name": "speech",
        "target": target,
        "teacher": {"name": "wavlm_large", "layer": 1, "random_init": True, "overrides": tiny_wavlm},
        "mvq": {"num_codebooks": 2, "phase_one_iters": 20, "phase_two_iters": 20, "batch_frames": 256},
        "kmeans": {"num_clusters": 16, "batch_size": 256, "n_init": 2},
    }
    values = {
        "work_dir": str(tmp_path / target),
        "data": {"demo": {"num_speech": 4, "num_audio": 2, "num_noises": 1, "seed": 1}},
        "token_sets": [speech],
        "model": {"size": "tiny", "overrides": TINY_SPEAR},
        "schedule": {"lr_steps": 50, "lr_epochs": 5, "warmup_steps": 2},
        "optim": {"clipping_update_period": 2},
        "train": {"max_steps": 2, "batch_duration": 8.0, "save_every": 2, "log_every": 1, "tensorboard": False},
    }
    path = tmp_path / f"{target}.yaml"
    path.write_text(yaml.safe_dump(values))
    return load_pretrain_config(path)


@pytest.mark.slow
@pytest.mark.parametrize("target,codebooks,size", [("kmeans", 1, 16), ("mvq", 2, 256)])
def test_demo_pretraining_runs_on_either_target(tmp_path, target, codebooks, size, tiny_wavlm):
    config = _config(tmp_path, tiny_wavlm, target)
    cuts = prepare_training_data(config, progress=False)
    for cut in cuts:
        tokens = cut.load_custom(token_field("speech"))
        assert tokens.shape[1] == codebooks and tokens.dtype == np.uint8 and tokens.max() < size
    assert load_quantizer(layout(config).quantizer(config.token_sets[0])).meta.get("kind", "mvq") == target
    result = run_pretraining(config, progress=False)
    assert result.final_step == 2 and all(np.isfinite(r["loss"]) for r in result.records)
    heads = torch.load(layout(config).exp / "checkpoints" / "step-00000002" / "train_state.pt", weights_only=False)
    weights = [v for k, v in heads["model"].items() if k.startswith("heads.speech.heads.") and k.endswith("weight")]
    assert len(weights) == codebooks and weights[0].shape[0] == size
