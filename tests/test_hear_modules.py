"""HEAR modules (hear_spear and its baseline submodules) on tiny models: API, timestamps, layers, chunking."""

import importlib

import pytest
import torch
from _upstreams_tiny import TINY_OVERRIDES

from spear_bench.errors import CheckpointError, ConfigError
from spear_bench.upstreams import resolve_model_name

MODULES = ["hear_spear", "hear_spear.wavlm", "hear_spear.dasheng", "hear_spear.usad"]


def tiny(module: str, model: str, **kwargs):
    name = resolve_model_name(model, module.split(".")[-1] + "_")
    return importlib.import_module(module).load_model(model=model, overrides=TINY_OVERRIDES[name], **kwargs)


def noise(n=2, seconds=1.3, seed=0):
    return 2 * torch.rand(n, int(seconds * 16000), generator=torch.Generator().manual_seed(seed)) - 1


@pytest.mark.parametrize("module", MODULES)
def test_module_has_the_hear_api(module):
    hear = importlib.import_module(module)
    for name in ("load_model", "get_timestamp_embeddings", "get_scene_embeddings"):
        assert callable(getattr(hear, name))


def test_short_model_names_resolve_within_each_family():
    assert resolve_model_name("base", "spear_") == "spear_base"
    assert resolve_model_name("base", "dasheng_") == "dasheng_base"
    assert resolve_model_name("0_6b", "dasheng_") == "dasheng_0_6b"
    assert resolve_model_name("large", "wavlm_") == "wavlm_large"
    assert resolve_model_name("usad_large", "spear_") == "usad_large"


@pytest.mark.parametrize(
    "module, model, hop_ms, first_ms",
    [
        ("hear_spear.wavlm", "base_plus", 20.0, 12.5),
        ("hear_spear.dasheng", "base", 40.0, 15.0),
        ("hear_spear.usad", "large", 20.0, 12.5),
    ],
)
def test_timestamps_are_frame_centres_on_a_regular_grid(module, model, hop_ms, first_ms):
    hear = importlib.import_module(module)
    hear_model = tiny(module, model)
    audio = noise()
    embeddings, timestamps = hear.get_timestamp_embeddings(audio, hear_model)
    assert embeddings.dtype == torch.float32 and embeddings.shape[:2] == timestamps.shape
    assert embeddings.shape[2] == hear_model.timestamp_embedding_size == hear_model.scene_embedding_size
    assert abs(embeddings.shape[1] - audio.shape[1] / (16 * hop_ms)) <= 1.5
    expected = first_ms + hop_ms * torch.arange(embeddings.shape[1], dtype=torch.float32)
    assert torch.allclose(timestamps, expected.expand_as(timestamps))


def test_scene_embedding_is_the_time_mean_of_the_timestamp_embeddings():
    hear = importlib.import_module("hear_spear.usad")
    hear_model = tiny("hear_spear.usad", "base")
    audio = noise()
    embeddings, _ = hear.get_timestamp_embeddings(audio, hear_model)
    scene = hear.get_scene_embeddings(audio, hear_model)
    assert scene.shape == (2, hear_model.scene_embedding_size) and torch.allclose(scene, embeddings.mean(1), atol=1e-6)


def test_layer_all_concatenates_every_hidden_state_and_an_index_selects_one():
    hear = importlib.import_module("hear_spear.wavlm")
    audio = noise(1)
    everything = tiny("hear_spear.wavlm", "large", layer="all")
    second = tiny("hear_spear.wavlm", "large", layer=1)
    encoder = everything.encoder
    with torch.no_grad():
        out = encoder(audio, torch.tensor([audio.shape[1]]))
    concatenated, _ = hear.get_timestamp_embeddings(audio, everything)
    assert everything.timestamp_embedding_size == encoder.num_hidden_states * encoder.hidden_size
    assert torch.allclose(concatenated, torch.cat(out.hidden_states, -1), atol=1e-5)
    one, _ = hear.get_timestamp_embeddings(audio, second)
    assert torch.allclose(one, out.hidden_states[1], atol=1e-5)


def test_long_audio_is_chunked_on_the_frame_grid():
    hear = importlib.import_module("hear_spear.wavlm")
    audio = noise(2, seconds=2.3)
    whole = tiny("hear_spear.wavlm", "base_plus")
    chunked = tiny("hear_spear.wavlm", "base_plus", chunk_seconds=0.5)
    full_embeddings, full_times = hear.get_timestamp_embeddings(audio, whole)
    embeddings, timestamps = hear.get_timestamp_embeddings(audio, chunked)
    # 4 chunks of exactly 25 frames, then the 0.3 s rest: the same frame count and grid as one pass.
    assert embeddings.shape == full_embeddings.shape and torch.equal(timestamps, full_times)
    first_chunk, _ = hear.get_timestamp_embeddings(audio[:, :8000], whole)
    assert torch.allclose(embeddings[:, :24], first_chunk[:, :24], atol=1e-5)


def test_batches_give_the_same_embeddings_as_one_clip_at_a_time():
    hear = importlib.import_module("hear_spear.dasheng")
    audio = noise(3)
    batched, _ = hear.get_timestamp_embeddings(audio, tiny("hear_spear.dasheng", "base", batch_size=3))
    single, _ = hear.get_timestamp_embeddings(audio, tiny("hear_spear.dasheng", "base", batch_size=1))
    assert torch.allclose(batched, single, atol=1e-5)


def test_a_bad_layer_is_a_config_error():
    with pytest.raises(ConfigError, match="layer"):
        tiny("hear_spear.usad", "base", layer="middle")
    with pytest.raises(ConfigError, match="out of range"):
        tiny("hear_spear.usad", "base", layer=7)


def test_an_unknown_model_is_a_one_line_error_naming_it():
    with pytest.raises(ConfigError) as error:
        importlib.import_module("hear_spear.dasheng").load_model(model="huge")
    assert "huge" in str(error.value) and "\n" not in str(error.value)


@pytest.mark.parametrize("module", MODULES)
def test_a_missing_model_file_is_a_one_line_error_naming_it(module, tmp_path):
    missing = str(tmp_path / "weights-that-are-not-there")
    with pytest.raises(CheckpointError) as error:
        importlib.import_module(module).load_model(missing)
    assert missing in str(error.value) and "\n" not in str(error.value)


def test_hear_spear_loads_a_baseline_checkpoint_into_the_named_baseline(tmp_path):
    # `spear-bench run --model wavlm_large@PATH` reaches HEAR tasks as
    # hear_spear.load_model(PATH, model="wavlm_large"): the weights go into WavLM, not SPEAR.
    import json

    import hear_spear
    from spear_bench.upstreams import build_encoder

    tiny = build_encoder("wavlm_large", overrides=TINY_OVERRIDES["wavlm_large"], seed=1)
    tiny.model.save_pretrained(tmp_path)
    (tmp_path / "preprocessor_config.json").write_text(json.dumps({"do_normalize": True}))
    # strict loading: the named architecture decides, here shrunk as the saved one was
    model = hear_spear.load_model(str(tmp_path), model="wavlm_large", overrides=TINY_OVERRIDES["wavlm_large"])
    assert model.encoder.__class__ is tiny.__class__ and model.timestamp_embedding_size == 32
    audio = 0.1 * torch.randn(1, 16000)
    with torch.no_grad():
        assert torch.allclose(
            hear_spear.get_scene_embeddings(audio, model),
            tiny(audio, torch.tensor([16000])).last_hidden_state.mean(1),
            atol=1e-5,
        )
