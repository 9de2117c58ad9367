"""Released weights by name, with no network: a Hub-layout cache folder, HF_HUB_OFFLINE=1, strict loading,
fingerprints in result rows, and one-line errors for the wrong file, a truncated file or no cached copy."""

import dataclasses
import json
import shutil

import pytest
import torch

import spear_bench  # noqa: F401
from spear_bench.cli import main
from spear_bench.errors import CheckpointError, ConfigError
from spear_bench.models import load_encoder
from spear_bench.models import weights as model_weights
from spear_bench.models.catalogue import CATALOGUE, CatalogueEntry
from spear_bench.models.checkpoint import build_spear, config_to_json, save_spear_checkpoint
from spear_bench.models.model_ref import ModelRef
from spear_bench.models.spear import spear_config
from spear_bench.models.weights import weights_fingerprint

REPO = "test-owner/spear-tiny-release"
REVISION = "0123456789abcdef0123456789abcdef01234567"
TINY_PARAMS = 2_987_777


def _hub_snapshot(hf_home, repo: str, revision: str, encoder) -> "Path":  # noqa: F821
    """Write ``encoder`` as huggingface_hub's cache does: hub/models--OWNER--NAME/{blobs,refs,snapshots/REV}."""
    root = hf_home / "hub" / ("models--" + repo.replace("/", "--"))
    snapshot = root / "snapshots" / revision
    save_spear_checkpoint(encoder, snapshot)
    (root / "refs").mkdir(parents=True)
    (root / "refs" / "main").write_text(revision)
    return snapshot


@pytest.fixture
def offline_hub(tmp_path, monkeypatch):
    """An empty HF_HOME with HF_HUB_OFFLINE=1 and a catalogue entry for spear_tiny pointing at a test repo."""
    hf_home = tmp_path / "hf"
    hf_home.mkdir()
    monkeypatch.setenv("HF_HOME", str(hf_home))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(hf_home / "hub"))
    import huggingface_hub.constants as constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(hf_home / "hub"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    entry = CatalogueEntry("spear_tiny", "spear", "spear_tiny", "hf", REPO, REVISION, TINY_PARAMS, "test release")
    monkeypatch.setitem(CATALOGUE, "spear_tiny", entry)
    model_weights._fetched.cache_clear()
    yield hf_home
    model_weights._fetched.cache_clear()


def test_model_ref_parses_the_three_ways_to_name_weights():
    assert ModelRef.parse("spear_base_sa") == ModelRef("spear_base_sa", None, False, False, "spear_base_sa")
    assert ModelRef.parse("base@ckpt/x").name == "spear_base" and ModelRef.parse("base@ckpt/x").weights == "ckpt/x"
    ref = ModelRef.parse("wavlm_large[random-init]")
    assert ref.random_init and ref.label == "wavlm_large[random-init]"
    assert ModelRef.parse("hear:my_module@w.pt").hear
    with pytest.raises(ConfigError, match=r"unknown option \[random\]"):
        ModelRef.parse("spear_base[random]")
    with pytest.raises(ConfigError, match="either @WEIGHTS or"):
        ModelRef.parse("spear_base[random-init]@x")
    with pytest.raises(ConfigError, match="unknown model 'nope'"):
        ModelRef.parse("nope")


def test_every_spear_release_and_baseline_is_catalogued_with_its_size():
    for name in (
        "spear_base_s",
        "spear_base_sa",
        "spear_base_s_v2",
        "spear_base_sa_v2",
        "spear_large_s",
        "spear_large_sa",
        "spear_xlarge_sa",
    ):
        entry = CATALOGUE[name]
        assert entry.repo_id.startswith("marcoyang/spear-") and entry.family == "spear"
        size = entry.size.removeprefix("spear_")
        with torch.device("meta"):
            assert build_spear(spear_config(size)).num_parameters() == entry.parameters
    assert CATALOGUE["wavlm_large"].repo_id == "microsoft/wavlm-large"
    assert CATALOGUE["wavlm_base_plus"].repo_id == "microsoft/wavlm-base-plus"
    assert CATALOGUE["usad_large"].repo_id == "MIT-SLS/USAD-Large"
    assert CATALOGUE["dasheng_1_2b"].source == "dasheng"


def test_a_name_resolves_from_the_hub_cache_offline_and_loads_strictly(offline_hub):
    original = build_spear(spear_config("tiny"), seed=5)
    snapshot = _hub_snapshot(offline_hub, REPO, REVISION, original)
    encoder = load_encoder("spear_tiny")
    for a, b in zip(original.state_dict().values(), encoder.state_dict().values()):
        assert torch.equal(a, b)
    assert model_weights.fetch("spear_tiny") == snapshot
    assert main(["models"]) == 0


def test_models_lists_the_catalogue_with_cached_state(offline_hub, capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    line = next(line for line in out.splitlines() if line.startswith("spear_tiny "))
    assert f"hf:{REPO}@01234567" in line and f"{TINY_PARAMS:,}" in line and line.split()[-3] == "no"
    assert "marcoyang/spear-base-speech-audio" in out and "microsoft/wavlm-large" in out
    _hub_snapshot(offline_hub, REPO, REVISION, build_spear(spear_config("tiny")))
    assert main(["models"]) == 0
    line = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("spear_tiny "))
    assert line.split()[-3] == "yes"


def test_offline_without_a_cached_copy_is_one_line_naming_what_to_fetch(offline_hub, capsys):
    with pytest.raises(
        CheckpointError,
        match=r"spear_tiny: no cached copy of hf:test-owner/spear-tiny-release.*"
        r"spear-bench fetch spear_tiny.*spear_tiny@FOLDER",
    ):
        load_encoder("spear_tiny")
    assert main(["fetch", "spear_tiny"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "spear-bench fetch spear_tiny" in err


def test_the_demo_suite_with_a_released_name_and_no_cache_fails_in_one_line(offline_hub, capsys, tmp_path):
    code = main(["run", "--model", "spear_base_sa", "--suite", "demo", "--results", str(tmp_path / "r"), "--quiet"])
    captured = capsys.readouterr()
    assert code == 2 and captured.err.count("\n") == 1
    assert "spear-bench fetch spear_base_sa" in captured.err and "marcoyang/spear-base-speech-audio" in captured.err
    assert "demo data" not in captured.out  # nothing generated, nothing run on random weights
    assert not (tmp_path / "r").exists()


def test_a_large_checkpoint_under_a_base_name_is_a_one_line_error(offline_hub):
    # A "Large" release in the test repo: the Large config.json over the tiny weights (the config is checked first).
    snapshot = _hub_snapshot(offline_hub, REPO, REVISION, build_spear(spear_config("tiny")))
    (snapshot / "config.json").write_text(json.dumps(config_to_json(spear_config("large"))))
    with pytest.raises(CheckpointError, match=r"config.json: encoder_dim=\[1024.*but spear_tiny expects \[96") as error:
        load_encoder("spear_tiny")
    assert "\n" not in str(error.value)


def test_a_checkpoint_of_another_size_without_config_is_caught_by_strict_loading(offline_hub):
    other = dataclasses.replace(spear_config("tiny"), encoder_dim=(64,) * 7, encoder_unmasked_dim=(32,) * 7)
    snapshot = _hub_snapshot(offline_hub, REPO, REVISION, build_spear(other))
    (snapshot / "config.json").unlink()
    with pytest.raises(
        CheckpointError, match=r"model.safetensors does not match the spear_tiny config: .*shape mismatches"
    ):
        load_encoder("spear_tiny")


def test_a_truncated_safetensors_is_a_one_line_error(offline_hub):
    snapshot = _hub_snapshot(offline_hub, REPO, REVISION, build_spear(spear_config("tiny")))
    weights = snapshot / "model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=r"model.safetensors: unreadable weights") as error:
        load_encoder("spear_tiny")
    assert "\n" not in str(error.value)


def test_a_wrong_parameter_count_is_caught(offline_hub, monkeypatch):
    _hub_snapshot(offline_hub, REPO, REVISION, build_spear(spear_config("tiny")))
    monkeypatch.setitem(
        CATALOGUE, "spear_tiny", dataclasses.replace(CATALOGUE["spear_tiny"], parameters=TINY_PARAMS + 1)
    )
    with pytest.raises(CheckpointError, match=f"{TINY_PARAMS:,} parameters, but spear_tiny"):
        load_encoder("spear_tiny")


def test_architecture_names_need_weights_or_an_explicit_random_init():
    with pytest.raises(
        ConfigError, match=r"spear_base has no published weights.*spear_base_sa.*spear_base\[random-init\]"
    ):
        load_encoder("spear_base")
    assert load_encoder("spear_tiny[random-init]", seed=1) is not None


@pytest.mark.slow
def test_result_rows_carry_the_weights_fingerprint(offline_hub, tmp_path, demo_root):
    """A released name run on a demo task: its rows name it and carry the sha256 of its weights."""

    from spear_bench.bench.launchers import execute
    from spear_bench.bench.orchestrate import RunConfig
    from spear_bench.results.store import ResultsStore

    snapshot = _hub_snapshot(offline_hub, REPO, REVISION, build_spear(spear_config("tiny"), seed=2))
    config = RunConfig(
        suite="demo",
        models=("spear_tiny",),
        tasks=("demo_ks",),
        data_root=str(demo_root),
        results=str(tmp_path / "results"),
        cache=str(tmp_path / "cache"),
        quiet=True,
    )
    lines = []
    outcomes = execute(config, "local", log=lines.append)
    assert [o.status for o in outcomes] == ["done"]
    rows = ResultsStore(tmp_path / "results").rows()
    assert rows and {r.model for r in rows} == {"spear_tiny"}
    assert {r.weights for r in rows} == {weights_fingerprint(snapshot)} and rows[0].weights.startswith("sha256:")
    assert not any("random" in line for line in lines)
    shutil.rmtree(tmp_path / "cache")
