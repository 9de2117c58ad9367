"""Our models as s3prl upstreams: hub registration, S3PRLUpstream + Featurizer, s3prl's legacy Featurizer."""

import pytest
import torch
import torch.nn.functional as F
import yaml
from _upstreams_tiny import TINY_OVERRIDES, three_waves

from spear_bench.errors import CheckpointError, ConfigError
from spear_bench.models.registry import BASELINES
from spear_bench.upstreams import BASELINE_HUB_PREFIX, UpstreamExpert, build_encoder, hub_entries, register

register()

import s3prl.hub  # noqa: E402
from s3prl.nn import Featurizer, S3PRLUpstream  # noqa: E402

BASELINE_ENTRIES = [BASELINE_HUB_PREFIX + bundle.name for bundle in BASELINES]
EXPECTED_HOP = {"wavlm": 320, "usad": 320, "dasheng": 640}


def padded(waves):
    return torch.nn.utils.rnn.pad_sequence(waves, batch_first=True), torch.tensor([len(w) for w in waves])


def tiny_upstream(entry: str) -> S3PRLUpstream:
    model = entry[len(BASELINE_HUB_PREFIX) :]
    return S3PRLUpstream(entry, extra_conf=TINY_OVERRIDES[model]).eval()


def test_hubconf_defines_exactly_the_registry_entries():
    from spear_s3prl import hubconf

    defined = {name for name, value in vars(hubconf).items() if callable(value) and not name.startswith("_")}
    defined -= {"hub_entries", "make_hub_entry"}
    assert defined == set(hub_entries())
    assert {"spear_base", "spear_large", "spear_xlarge", "spear_local"} <= defined
    assert set(BASELINE_ENTRIES) <= defined


def test_register_sets_every_entry_on_s3prl_hub_without_shadowing_s3prl_names():
    names = register()
    assert set(names) == set(hub_entries())
    for name in names:
        assert getattr(s3prl.hub, name).__module__ == "spear_bench.upstreams"
    assert s3prl.hub.wavlm_base_plus.__module__.startswith("s3prl")  # s3prl's own entry is untouched
    assert set(names) <= set(S3PRLUpstream.available_names())


@pytest.mark.parametrize("entry", BASELINE_ENTRIES)
def test_upstream_and_featurizer_shapes_on_three_unpadded_waves(entry):
    upstream = tiny_upstream(entry)
    family = next(b.family for b in BASELINES if BASELINE_HUB_PREFIX + b.name == entry)
    hop = EXPECTED_HOP[family]
    assert set(upstream.downsample_rates) == {hop}
    waves = three_waves()
    with torch.no_grad():
        hidden, hidden_lens = upstream(*padded(waves))
    assert len(hidden) == upstream.num_layers == upstream.upstream.encoder.num_hidden_states
    expected_lens = torch.tensor([(len(w) - 1) // hop + 1 for w in waves])
    for states, lens in zip(hidden, hidden_lens):
        assert states.shape == (3, int(expected_lens.max()), upstream.hidden_sizes[0])
        assert torch.equal(lens, expected_lens)
    featurizer = Featurizer(upstream)
    with torch.no_grad():
        features, feature_lens = featurizer(hidden, hidden_lens)
    assert features.shape == hidden[0].shape and torch.equal(feature_lens, expected_lens)


@pytest.mark.parametrize("normalize", [False, True])
def test_featurizer_weighted_sum_equals_softmax_of_its_weights_times_stacked_hidden_states(normalize):
    upstream = tiny_upstream("spear_bench_usad_base")
    featurizer = Featurizer(upstream, normalize=normalize)
    with torch.no_grad():
        featurizer.weights.copy_(torch.tensor([0.3, -1.2, 2.0]))
        hidden, hidden_lens = upstream(*padded(three_waves()))
        features, _ = featurizer(hidden, hidden_lens)
    stacked = torch.stack(hidden)  # (L, B, T, D)
    if normalize:
        stacked = F.layer_norm(stacked, stacked.shape[-1:])
    expected = (torch.softmax(torch.tensor([0.3, -1.2, 2.0]), 0)[:, None, None, None] * stacked).sum(0)
    assert torch.allclose(features, expected, atol=1e-6)


def test_s3prl_hidden_states_are_the_encoders_own_for_each_unpadded_wave():
    upstream = tiny_upstream("spear_bench_wavlm_large")
    encoder = upstream.upstream.encoder
    waves = three_waves()
    with torch.no_grad():
        hidden, hidden_lens = upstream(*padded(waves))
        for index, wave in enumerate(waves):
            alone = encoder(wave[None], torch.tensor([len(wave)]))
            frames = alone.hidden_states[-1].shape[1]
            assert torch.allclose(hidden[-1][index, :frames], alone.hidden_states[-1][0], atol=1e-4)


def test_legacy_featurizer_of_the_downstream_runner_accepts_the_expert():
    from s3prl.upstream.interfaces import Featurizer as RunnerFeaturizer

    expert = s3prl.hub.spear_bench_dasheng_base(**TINY_OVERRIDES["dasheng_base"]).eval()
    featurizer = RunnerFeaturizer(expert, upstream_device="cpu")
    waves = three_waves()
    with torch.no_grad():
        features = featurizer(waves, expert(waves))
    assert [f.shape[0] for f in features] == [round(len(w) / 640) for w in waves]
    assert featurizer.downsample_rate == 640 and featurizer.output_dim == 32


def test_model_config_file_sets_seed_and_overrides(tmp_path):
    config = tmp_path / "upstream.yaml"
    config.write_text(yaml.safe_dump({"seed": 5, "overrides": TINY_OVERRIDES["usad_base"]}))
    expert = s3prl.hub.spear_bench_usad_base(model_config=str(config))
    reference = build_encoder("usad_base", seed=5, overrides=TINY_OVERRIDES["usad_base"])
    state = expert.encoder.state_dict()
    assert all(torch.equal(state[k], v) for k, v in reference.state_dict().items())


def test_a_missing_ckpt_is_a_one_line_error_naming_it(tmp_path):
    missing = str(tmp_path / "nowhere.pt")
    with pytest.raises(CheckpointError) as error:
        S3PRLUpstream("spear_bench_dasheng_base", path_or_url=missing)
    assert missing in str(error.value) and "\n" not in str(error.value)


def test_spear_local_without_a_ckpt_is_a_config_error():
    with pytest.raises(ConfigError, match="spear_local needs a checkpoint"):
        s3prl.hub.spear_local()


def test_unknown_model_in_the_expert_is_a_one_line_config_error():
    with pytest.raises(ConfigError) as error:
        UpstreamExpert(model="spear_gigantic")
    assert "spear_gigantic" in str(error.value) and "\n" not in str(error.value)
