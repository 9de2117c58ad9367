"""spear_bench.compat.s3prl: s3prl 0.4.18 beside torch 2.13 / torchaudio 2.11 / transformers 5."""

import argparse
import pickle

import numpy as np
import pytest
import soundfile
import torch

from spear_bench.compat.s3prl import apply_s3prl_compat
from spear_bench.superb.recipe_files import s3prl_local_files, score_rttm_der
from spear_bench.superb.recipes import G2P_LEXICON_URLS

apply_s3prl_compat()

import torchaudio  # noqa: E402  (after the shims, as s3prl sees it)


def tone(seconds=0.5, rate=16000, channels=1):
    t = np.arange(int(seconds * rate)) / rate
    wave = 0.5 * np.sin(2 * np.pi * 440 * t)
    return np.stack([wave * (c + 1) / channels for c in range(channels)], axis=1).astype(np.float32)


def test_s3prl_hub_and_nn_import_with_the_shims():
    import s3prl.hub
    import s3prl.nn

    assert callable(s3prl.hub.wavlm_local) and hasattr(s3prl.nn, "Featurizer")


def test_apply_is_idempotent_and_names_its_shims():
    first = apply_s3prl_compat()
    assert apply_s3prl_compat() == first
    assert {"set_audio_backend", "sox_effects", "torch_load_weights_only"} <= set(first)


def test_set_audio_backend_is_accepted_again():
    torchaudio.set_audio_backend("sox_io")
    assert torchaudio.get_audio_backend() == "soundfile"


def test_sox_effects_tensor_chain_runs_sox():
    stereo = torch.from_numpy(tone(channels=2).T.copy())  # (2, 8000), channel 1 twice channel 0
    out, rate = torchaudio.sox_effects.apply_effects_tensor(
        stereo, 16000, [["channels", "1"], ["rate", "8000"], ["gain", "-6"]]
    )
    assert rate == 8000 and out.shape == (1, 4000)
    # channels 1 averages (0.75 x channel 0's amplitude of 0.5), gain -6 dB halves it.
    assert out.abs().max().item() == pytest.approx(0.5 * 0.75 * 10 ** (-6 / 20), rel=0.03)


def test_sox_effects_file_reads_and_normalises(tmp_path):
    path = tmp_path / "tone.wav"
    soundfile.write(str(path), 0.1 * tone(), 16000)
    out, rate = torchaudio.sox_effects.apply_effects_file(str(path), [["norm"]])
    assert rate == 16000 and out.shape == (1, 8000)
    assert out.abs().max().item() == pytest.approx(1.0, abs=0.01)


@pytest.mark.slow  # s3prl's LoadAudio imports librosa (numba compiles for ~10 s)
def test_s3prl_load_audio_dataset_runs_its_sox_effects(tmp_path):
    from s3prl.dataio.dataset.load_audio import LoadAudio

    path = tmp_path / "a.wav"
    soundfile.write(str(path), tone(channels=2), 16000)
    item = LoadAudio([str(path)], sox_effects=[["channels", "1"], ["rate", "16000"]])[0]
    assert item["wav"].shape == (8000,) and item["wav_len"] == 8000


def test_torchaudio_save_load_info_round_trip_without_torchcodec(tmp_path):
    path = tmp_path / "x.wav"
    wave = torch.from_numpy(tone(channels=2).T.copy())
    torchaudio.save(str(path), wave, 16000)
    loaded, rate = torchaudio.load(str(path))
    info = torchaudio.info(str(path))
    assert rate == 16000 and torch.allclose(loaded, wave, atol=1e-6)
    assert (info.sample_rate, info.num_frames, info.num_channels) == (16000, 8000, 2)


def test_torch_load_is_permissive_only_for_s3prl_callers(tmp_path, monkeypatch):
    # torch honours this variable process-wide; the test is about our shim, not the variable
    monkeypatch.delenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", raising=False)
    path = tmp_path / "runner.ckpt"
    torch.save({"Args": argparse.Namespace(lr=1.0)}, path)  # what s3prl's runner saves
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path)  # everyone else keeps torch's weights_only=True default
    as_s3prl = {"__name__": "s3prl.downstream.runner", "torch": torch}
    exec("loaded = torch.load(path, map_location='cpu')", as_s3prl, locals_ := {"path": path})
    assert locals_["loaded"]["Args"].lr == 1.0


def test_s3prl_hf_wav2vec2_upstream_runs_with_transformers_5(tmp_path):
    import s3prl.hub
    from transformers import Wav2Vec2Config, Wav2Vec2FeatureExtractor, Wav2Vec2Model

    config = Wav2Vec2Config(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, conv_dim=(16,) * 7
    )
    Wav2Vec2Model(config).save_pretrained(tmp_path)
    Wav2Vec2FeatureExtractor(return_attention_mask=True).save_pretrained(tmp_path)
    upstream = s3prl.hub.hf_wav2vec2_custom(str(tmp_path)).eval()
    with torch.no_grad():
        hidden = upstream([torch.randn(16000), torch.randn(8000)])["hidden_states"]
    assert len(hidden) == 3 and hidden[0].shape == (2, 49, 32)


def test_s3prl_legacy_runner_imports_and_push_to_hub_fails_in_one_line():
    import huggingface_hub
    from s3prl.downstream.runner import Runner  # noqa: F401  (imports HfFolder, Repository)

    from spear_bench.errors import SpearBenchError

    with pytest.raises(SpearBenchError) as error:
        huggingface_hub.Repository("somewhere")
    assert "\n" not in str(error.value)


@pytest.mark.slow
def test_legacy_run_downstream_cli_starts_with_our_entries(tmp_path):
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "spear_bench.superb.legacy", "-h"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "--upstream" in done.stdout


def test_pandas_iteritems_is_back_for_s3prls_corpus_readers():
    import pandas as pd

    assert list(pd.Series({"a": 1, "b": 2}).iteritems()) == [("a", 1), ("b", 2)]


def test_recipe_downloads_resolve_to_local_files_and_are_restored(tmp_path):
    import s3prl.util.download as download
    from s3prl.dataio.corpus.voxceleb1sid import VoxCeleb1SID
    from s3prl.dataio.encoder.g2p import G2P

    lexicon = tmp_path / "lexicon.txt"
    lexicon.write_text("CAT K AE1 T\nA AH0\n")
    original, defaults = download._urls_to_filepaths, VoxCeleb1SID.__init__.__defaults__
    with s3prl_local_files({url: lexicon for url in G2P_LEXICON_URLS}, voxceleb1_cache=tmp_path):
        assert G2P().encode("A CAT") == "AH0 K AE1 T"  # SuperbPR's default G2P() reads the local lexicon
        assert VoxCeleb1SID.__init__.__defaults__[-1] == tmp_path
    assert download._urls_to_filepaths is original and VoxCeleb1SID.__init__.__defaults__ == defaults


def test_der_stand_in_for_dscore_on_a_hand_computed_case(tmp_path):
    from s3prl.problem.diarization.util import get_overall_der_from_dscore_file

    rttm = "SPEAKER f 1 {:.2f} {:.2f} <NA> <NA> {} <NA> <NA>\n"
    (tmp_path / "ref.rttm").write_text(rttm.format(0, 4, "A") + rttm.format(2, 4, "B"))
    # B is missed from 2 to 3 s (one speaker heard where two speak): 1 s of 8 s of reference speech.
    (tmp_path / "hyp.rttm").write_text(rttm.format(0, 4, "x") + rttm.format(3, 3, "y"))
    der = score_rttm_der(tmp_path / "dscore", tmp_path / "hyp.rttm", tmp_path / "ref.rttm", tmp_path / "out" / "result")
    assert der == pytest.approx(12.5)
    assert get_overall_der_from_dscore_file(tmp_path / "out" / "result") == pytest.approx(12.5)
    # swapping the hypothesis labels changes nothing (optimal mapping); labelling all as one speaker confuses B
    (tmp_path / "one.rttm").write_text(rttm.format(0, 6, "x"))
    assert score_rttm_der(None, tmp_path / "one.rttm", tmp_path / "ref.rttm", tmp_path / "r2") == pytest.approx(
        100 * 4 / 8
    )
