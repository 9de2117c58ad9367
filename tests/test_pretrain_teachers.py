"""Teachers (layer conventions, frame rates, feature cache) and MVQ tokens."""

import numpy as np
import pytest
import torch

import spear_bench  # noqa: F401
from spear_bench.errors import ConfigError
from spear_bench.pretrain import teachers as teachers_module
from spear_bench.pretrain.mvq import MVQConfig, tokens_to_frame_rate, train_quantizer
from spear_bench.pretrain.teachers import LAST, Teacher, TeacherConfig, extract_features, load_features

TINY = {
    "hidden_size": 32,
    "num_hidden_layers": 3,
    "num_attention_heads": 2,
    "intermediate_size": 64,
    "conv_dim": 32,
    "num_conv_pos_embeddings": 16,
    "num_conv_pos_embedding_groups": 2,
}


def test_wavlm_large_layer_is_the_layer_output_before_the_final_layer_norm():
    teacher = Teacher(TeacherConfig("wavlm_large", layer=3, overrides=TINY, random_init=True))
    outputs = []
    layers = teacher.encoder.model.encoder.layers
    handle = layers[2].register_forward_hook(lambda _m, _a, out: outputs.append(out[0]))
    wave = torch.randn(16000, generator=torch.Generator().manual_seed(0))
    (layer3,) = teacher.features([wave])
    handle.remove()
    assert torch.allclose(layer3, outputs[0][0, : layer3.shape[0]], atol=1e-6)
    (final,) = Teacher(TeacherConfig("wavlm_large", layer=LAST, overrides=TINY, random_init=True)).features([wave])
    assert not torch.allclose(layer3, final)  # last_hidden_state has the final LayerNorm
    assert layer3.shape == (49, 32)  # 50 Hz: (16000 - 400) // 320 + 1


def test_default_layers_follow_the_paper():
    assert TeacherConfig("wavlm_large").resolved_layer == 21
    assert TeacherConfig("hubert_large").resolved_layer == 21
    assert TeacherConfig("dasheng_1_2b").resolved_layer == LAST


def test_hubert_large_teacher_builds_from_transformers():
    (feats,) = Teacher(TeacherConfig("hubert_large", layer=2, overrides=TINY, random_init=True)).features(
        [torch.randn(8000)]
    )
    assert feats.shape == (24, 32) and torch.isfinite(feats).all()


def test_dasheng_teacher_gives_25_hz_features_and_tokens_repeat_to_50_hz():
    teacher = Teacher(
        TeacherConfig("dasheng_1_2b", overrides={"embed_dim": 32, "depth": 2, "num_heads": 2}, random_init=True)
    )
    (feats,) = teacher.features([torch.randn(32000)])
    assert teacher.frame_rate == 25.0 and feats.shape == (50, 32)
    tokens = torch.tensor([[1, 2], [3, 4]])
    assert tokens_to_frame_rate(tokens, 25.0, 50.0).tolist() == [[1, 2], [1, 2], [3, 4], [3, 4]]


def test_layer_out_of_range_is_a_config_error():
    with pytest.raises(ConfigError, match="layer 9 out of range"):
        Teacher(TeacherConfig("wavlm_large", layer=9, overrides=TINY, random_init=True))


def test_teacher_without_weights_is_random_only_on_request(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", "/nonexistent-spear-bench-hf-home")
    monkeypatch.setenv("TORCH_HOME", "/nonexistent-spear-bench-torch-home")
    with pytest.raises(ConfigError, match=r"hubert_large has no published weights.*random_init: true"):
        Teacher(TeacherConfig("hubert_large", layer=2, overrides=TINY))
    from spear_bench.errors import CheckpointError
    from spear_bench.models import weights

    weights._fetched.cache_clear()
    with pytest.raises(
        CheckpointError,
        match=r"wavlm_large: no cached copy of hf:microsoft/wavlm-large .*spear-bench fetch wavlm_large",
    ):
        Teacher(TeacherConfig("wavlm_large", layer=2))
    assert TeacherConfig("wavlm_large", random_init=True).label == "wavlm_large[random-init]"


def test_unknown_teacher_is_a_config_error():
    with pytest.raises(ConfigError, match="unknown teacher"):
        TeacherConfig("whisper").spec


def test_feature_cache_is_written_once_and_reused(tmp_path, monkeypatch):
    config = TeacherConfig("wavlm_large", layer=1, overrides=TINY, random_init=True)
    waves = {"a": torch.randn(8000), "b": torch.randn(12000)}
    utterances = [(k, w.numel() / 16000, (lambda w=w: w)) for k, w in waves.items()]
    folder = extract_features(config, utterances, tmp_path, progress=False)
    feats = load_features(folder, ["a", "b"])
    assert feats["a"].dtype == np.float16 and feats["b"].shape == (37, 32)

    def fail(*_args, **_kwargs):
        raise AssertionError("the teacher was rebuilt although every feature file exists")

    monkeypatch.setattr(teachers_module, "Teacher", fail)
    assert extract_features(config, utterances, tmp_path, progress=False) == folder
    # another layer is another cache folder
    assert TeacherConfig("wavlm_large", layer=2, overrides=TINY, random_init=True).cache_key() != config.cache_key()


def test_mvq_tokens_are_uint8_and_reconstruct_structured_features():
    gen = torch.Generator().manual_seed(0)
    feats = torch.randn(3000, 4, generator=gen) @ torch.randn(4, 16, generator=gen) + 5.0
    q = train_quantizer(
        feats,
        MVQConfig(num_codebooks=2, phase_one_iters=15, phase_two_iters=15, batch_frames=256),
        {"frame_rate": 50.0},
        progress=False,
    )
    codes = q.encode(feats[:20])
    assert codes.dtype == torch.uint8 and codes.shape == (20, 2)
    assert torch.allclose(q.mean, feats.mean(0)) and torch.allclose(q.std, feats.std(0))
    assert q.relative_reconstruction_error(feats[:1000]) < 0.5


def test_mvq_rejects_codebook_counts_the_package_cannot_train():
    with pytest.raises(ConfigError, match="num_codebooks"):
        MVQConfig(num_codebooks=6)
