"""Baseline encoders (WavLM, Dasheng, USAD): sizes, shapes, seeding, local weights, errors."""

import importlib
import json
import textwrap

import pytest
import torch
import torchaudio.compliance.kaldi  # noqa: F401 - before any torch.device("meta") block: its constants must be real
from _upstreams_tiny import HOP_SAMPLES, TINY_OVERRIDES, three_waves

from spear_bench.errors import CheckpointError, ConfigError
from spear_bench.models import get_bundle, load_encoder
from spear_bench.models.baselines.dasheng import DASHENG_SIZES, build_dasheng
from spear_bench.models.registry import BASELINES
from spear_bench.upstreams import build_encoder

BASELINE_NAMES = [bundle.name for bundle in BASELINES]


def count(model) -> int:
    return sum(p.numel() for p in model.parameters())


def padded(waves):
    return torch.nn.utils.rnn.pad_sequence(waves, batch_first=True), torch.tensor([len(w) for w in waves])


def test_every_baseline_is_registered_with_its_family_and_frame_rate():
    assert sorted(BASELINE_NAMES) == sorted(TINY_OVERRIDES)
    for name in BASELINE_NAMES:
        bundle = get_bundle(name)
        assert bundle.family in ("wavlm", "dasheng", "usad")
        assert bundle.frame_rate == 16000 / HOP_SAMPLES[bundle.family]


@pytest.mark.parametrize(
    "name, exact, published, tolerance",
    [
        ("wavlm_large", 315_453_120, 316.62e6, 0.005),  # WavLM paper: Large 316.62M
        ("usad_base", 94_893_248, 94e6, 0.015),  # USAD model card: Base 94M
        ("usad_large", 316_971_712, 330e6, 0.05),  # USAD model card: Large 330M (see docs/upstreams.md)
    ],
)
def test_real_size_constructs_with_published_parameter_count(name, exact, published, tolerance):
    importlib.import_module(get_bundle(name).builder.split(":")[0])  # module constants must not be meta tensors
    with torch.device("meta"):  # shapes only: the real size without its memory or init time
        encoder = build_encoder(name)
    assert count(encoder) == exact
    assert abs(exact - published) / published < tolerance


def test_wavlm_base_plus_real_size_builds_on_cpu_with_its_parameter_count():
    encoder = build_encoder("wavlm_base_plus")
    assert count(encoder) == 94_381_936  # transformers WavLMModel; paper: 94.70M with the pre-training heads
    assert encoder.num_hidden_states == 13 and encoder.hidden_size == 768


@pytest.mark.parametrize(
    "name, exact, published, tolerance",
    [
        ("dasheng_base", 85_447_808, 86e6, 0.01),
        ("dasheng_0_6b", 630_333_568, 0.6e9, 0.06),
        ("dasheng_1_2b", 1_134_047_360, 1.2e9, 0.06),
    ],
)
def test_dasheng_real_width_parameter_count_matches_published(name, exact, published, tolerance):
    # torchaudio's mel filterbank cannot be built on the meta device, so count a 1- and a
    # 2-block model at the real width and extrapolate to the real depth (blocks are identical).
    one, two = count(build_dasheng(name, depth=1)), count(build_dasheng(name, depth=2))
    total = one + (DASHENG_SIZES[name].depth - 1) * (two - one)
    assert total == exact
    assert abs(exact - published) / published < tolerance


@pytest.mark.parametrize("name", BASELINE_NAMES)
def test_baseline_forward_gives_hidden_states_on_the_frame_grid(name):
    encoder = build_encoder(name, overrides=TINY_OVERRIDES[name])
    hop = HOP_SAMPLES[get_bundle(name).family]
    waves = three_waves()
    with torch.no_grad():
        out = encoder(*padded(waves))
    assert len(out.hidden_states) == encoder.num_hidden_states
    assert out.last_hidden_state.shape[:2] == out.hidden_states[0].shape[:2]
    assert out.last_hidden_state.shape[0] == 3 and out.last_hidden_state.shape[2] == encoder.hidden_size
    for wave, frames in zip(waves, out.lengths.tolist()):
        assert abs(frames - len(wave) / hop) <= 1.5
    assert out.last_hidden_state.shape[1] == max(out.lengths.tolist())
    assert all(h.shape == out.hidden_states[0].shape for h in out.hidden_states)
    assert torch.isfinite(out.last_hidden_state).all()


@pytest.mark.parametrize("name", ["wavlm_large", "dasheng_base", "usad_base"])
def test_padding_in_a_batch_does_not_change_an_utterance(name):
    # WavLM Base+ is excluded on purpose: its first CNN layer group-normalises over time,
    # padding included (as in fairseq and s3prl).
    encoder = build_encoder(name, overrides=TINY_OVERRIDES[name])
    waves = three_waves()
    with torch.no_grad():
        batch = encoder(*padded(waves))
        alone = encoder(waves[2][None], torch.tensor([len(waves[2])]))
    frames = alone.last_hidden_state.shape[1]
    assert torch.allclose(batch.last_hidden_state[2, :frames], alone.last_hidden_state[0], atol=1e-4)


@pytest.mark.parametrize("name", ["wavlm_base_plus", "dasheng_base", "usad_base"])
def test_random_init_depends_only_on_the_seed(name):
    first = build_encoder(name, seed=3, overrides=TINY_OVERRIDES[name]).state_dict()
    again = build_encoder(name, seed=3, overrides=TINY_OVERRIDES[name]).state_dict()
    other = build_encoder(name, seed=4, overrides=TINY_OVERRIDES[name]).state_dict()
    assert all(torch.equal(first[k], again[k]) for k in first)
    assert any(not torch.equal(first[k], other[k]) for k in first if first[k].is_floating_point())


def test_load_encoder_builds_a_registered_baseline():
    encoder = load_encoder("dasheng_base[random-init]")
    assert type(encoder).__name__ == "DashengEncoder" and not encoder.training


def _same_output(a, b):
    """Same valid frames for three waves of different lengths (padding frames may differ)."""
    waves = three_waves(1)
    with torch.no_grad():
        out_a, out_b = a(*padded(waves)), b(*padded(waves))
    assert torch.equal(out_a.lengths, out_b.lengths)
    return all(
        torch.allclose(out_a.last_hidden_state[i, :n], out_b.last_hidden_state[i, :n], atol=1e-5)
        for i, n in enumerate(out_a.lengths.tolist())
    )


def test_wavlm_loads_a_local_hugging_face_folder(tmp_path):
    tiny = build_encoder("wavlm_large", seed=1, overrides=TINY_OVERRIDES["wavlm_large"])
    tiny.model.save_pretrained(tmp_path)
    (tmp_path / "preprocessor_config.json").write_text(json.dumps({"do_normalize": True}))
    # The name's architecture decides (strict loading), so the tiny folder loads with the same size overrides.
    loaded = build_encoder("wavlm_large", path=str(tmp_path), overrides=TINY_OVERRIDES["wavlm_large"])
    assert loaded.normalize_waveform and _same_output(tiny, loaded)


def test_dasheng_loads_the_package_checkpoint_format(tmp_path):
    tiny = build_encoder("dasheng_base", seed=1, overrides=TINY_OVERRIDES["dasheng_base"])
    config = {"embed_dim": 32, "depth": 2, "num_heads": 2}
    torch.save({"model": tiny.model.state_dict(), "config": config}, tmp_path / "dasheng.pt")
    # The release's config carries its own sizes; the size overrides make the tiny one load.
    loaded = build_encoder("dasheng_base", path=str(tmp_path / "dasheng.pt"), overrides=TINY_OVERRIDES["dasheng_base"])
    assert _same_output(tiny, loaded)


def test_usad_loads_weights_saved_in_the_release_layout(tmp_path):
    from spear_bench.models.baselines.usad import save_usad

    tiny = build_encoder("usad_base", seed=1, overrides=TINY_OVERRIDES["usad_base"])
    save_usad(tiny, tmp_path)
    assert _same_output(tiny, build_encoder("usad_base", path=str(tmp_path)))


def test_usad_folder_with_remote_code_is_loaded_by_that_code(tmp_path):
    # A stand-in for the downloaded release: remote code in the folder (here wrapping our
    # reconstruction) that returns the release's output dict {"x", "hidden_states", ...}.
    from spear_bench.models.baselines.usad import save_usad

    tiny = build_encoder("usad_base", seed=2, overrides=TINY_OVERRIDES["usad_base"])
    save_usad(tiny, tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    config["auto_map"] = {"AutoConfig": "configuration_usad.USADConfig", "AutoModel": "modeling_usad.USADModel"}
    (tmp_path / "config.json").write_text(json.dumps(config))
    (tmp_path / "configuration_usad.py").write_text(
        textwrap.dedent("""
        from transformers import PretrainedConfig
        class USADConfig(PretrainedConfig):
            model_type = "usad"
    """)
    )
    (tmp_path / "modeling_usad.py").write_text(
        textwrap.dedent("""
        import dataclasses, torch
        from transformers import PreTrainedModel
        from spear_bench.models.baselines.usad import UsadConfig, UsadModel, usad_fbank
        from .configuration_usad import USADConfig
        class USADModel(PreTrainedModel):
            config_class = USADConfig
            def __init__(self, config):
                super().__init__(config)
                names = {f.name for f in dataclasses.fields(UsadConfig)}
                self.model = UsadModel(UsadConfig(**{k: v for k, v in config.to_dict().items() if k in names}))
            def forward(self, wav):
                mel = usad_fbank(wav[0])[None]
                x, hidden, _ = self.model(mel, torch.tensor([mel.shape[1]]))
                return {"x": x, "mel": mel, "hidden_states": list(hidden), "ffn": []}
    """)
    )
    loaded = build_encoder("usad_base", path=str(tmp_path))
    assert type(loaded).__name__ == "RemoteCodeUsadEncoder"
    assert _same_output(tiny, loaded)


def test_usad_weights_that_do_not_fit_the_reconstruction_are_a_one_line_error(tmp_path):
    from safetensors.torch import save_file

    (tmp_path / "config.json").write_text(json.dumps({"encoder_dim": 32, "num_layers": 1, "num_attention_heads": 2}))
    save_file({"model.encoder.unknown.weight": torch.zeros(2)}, str(tmp_path / "model.safetensors"))
    with pytest.raises(CheckpointError) as error:
        build_encoder("usad_base", path=str(tmp_path))
    assert "\n" not in str(error.value) and "modeling_usad.py" in str(error.value)


@pytest.mark.parametrize("name", ["wavlm_base_plus", "dasheng_1_2b", "usad_large"])
def test_a_missing_checkpoint_path_is_a_one_line_error_naming_it(name, tmp_path):
    missing = tmp_path / "no-such-weights"
    with pytest.raises(CheckpointError) as error:
        build_encoder(name, path=str(missing))
    assert str(missing) in str(error.value) and "\n" not in str(error.value)


def test_an_unknown_size_override_is_a_config_error():
    with pytest.raises(ConfigError, match="unknown config override"):
        build_encoder("dasheng_base", overrides={"depht": 2})


def test_an_unknown_model_name_is_a_one_line_config_error():
    with pytest.raises(ConfigError) as error:
        build_encoder("wavlm_huge")
    assert "wavlm_huge" in str(error.value) and "\n" not in str(error.value)
