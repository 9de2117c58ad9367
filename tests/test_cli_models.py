"""``spear-bench info`` and ``spear-bench embed`` through spear_bench.cli.main."""

from __future__ import annotations

import json

import numpy as np
import pytest

from spear_bench.cli import main


@pytest.fixture
def audio_dir(tmp_path):
    from spear_bench.audio.synth import chirp, tone, write_wav

    folder = tmp_path / "audio"
    (folder / "sub").mkdir(parents=True)
    write_wav(folder / "tone.wav", tone(440.0, 1.0))
    write_wav(folder / "sub" / "chirp.wav", chirp(200.0, 2000.0, 1.5))
    return folder


def test_info_json_reports_parameter_count_and_structure(capsys):
    assert main(["info", "base", "--json"]) == 0
    facts = json.loads(capsys.readouterr().out)
    assert facts["parameters"] == 93_289_363
    assert facts["num_hidden_states"] == 12 and facts["hidden_size"] == 512
    assert facts["num_encoder_layers"] == [1, 2, 3, 3, 1, 1, 1] and facts["frame_rate"] == 50.0


def test_info_table_for_xlarge_is_instant_and_human_readable(capsys):
    assert main(["info", "xlarge"]) == 0
    out = capsys.readouterr().out
    assert "596,973,236" in out and "num_hidden_states" in out


def test_info_reads_a_checkpoint_folder(tmp_path, capsys):
    from spear_bench.models.checkpoint import build_spear_tiny, save_spear_checkpoint

    save_spear_checkpoint(build_spear_tiny(None, 0), tmp_path / "ckpt")
    assert main(["info", str(tmp_path / "ckpt"), "--json"]) == 0
    facts = json.loads(capsys.readouterr().out)
    assert facts["source"] == str(tmp_path / "ckpt") and facts["hidden_size"] == 96


def test_info_of_an_unknown_model_is_a_one_line_error(capsys):
    assert main(["info", "no_such_model"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no_such_model" in err


def test_embed_writes_one_file_per_input_keeping_folder_structure(audio_dir, tmp_path):
    out = tmp_path / "emb"
    assert main(["embed", "spear_tiny[random-init]", str(audio_dir), "--out", str(out)]) == 0
    tone = np.load(out / "tone.npy")
    chirp = np.load(out / "sub" / "chirp.npy")
    assert tone.shape == (50, 96)  # 1 s -> 100 fbank frames (+ 7 edge frames) -> 50 frames at 50 Hz
    assert chirp.shape[1] == 96 and np.isfinite(chirp).all()


def test_embed_all_layers_stacks_every_hidden_state(audio_dir, tmp_path):
    out = tmp_path / "emb"
    assert (
        main(["embed", "spear_tiny[random-init]", str(audio_dir / "tone.wav"), "--out", str(out), "--layer", "all"])
        == 0
    )
    assert np.load(out / "tone.npy").shape == (10, 50, 96)


def test_embed_single_layer_matches_that_hidden_state(audio_dir, tmp_path):
    import torch

    from spear_bench.audio import load_audio
    from spear_bench.models import load_encoder

    out = tmp_path / "emb"
    assert (
        main(
            [
                "embed",
                "spear_tiny[random-init]",
                str(audio_dir / "tone.wav"),
                "--out",
                str(out),
                "--layer",
                "3",
                "--format",
                "safetensors",
            ]
        )
        == 0
    )
    from safetensors import safe_open

    with safe_open(str(out / "tone.safetensors"), "pt") as f:
        saved = f.get_tensor("embedding")
        assert f.metadata()["layer"] == "3"
    wave = load_audio(audio_dir / "tone.wav")
    with torch.no_grad():
        expected = load_encoder("spear_tiny[random-init]")(wave[None]).hidden_states[3][0]
    assert torch.allclose(saved, expected, atol=1e-6)


def test_embed_stops_at_bad_audio_with_one_line_error_and_keeps_written_files(audio_dir, tmp_path, capsys):
    (audio_dir / "zz_broken.wav").write_bytes(b"not audio at all")
    out = tmp_path / "emb"
    assert main(["embed", "spear_tiny[random-init]", str(audio_dir), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "zz_broken.wav" in err
    assert (out / "tone.npy").exists() and (out / "sub" / "chirp.npy").exists()
    assert not (out / "zz_broken.npy").exists()


def test_embed_skip_errors_goes_on_and_resumes_without_recomputing(audio_dir, tmp_path, capsys):
    (audio_dir / "a_broken.wav").write_bytes(b"")
    out = tmp_path / "emb"
    assert main(["embed", "spear_tiny[random-init]", str(audio_dir), "--out", str(out), "--skip-errors"]) == 0
    assert (out / "tone.npy").exists()
    stamp = (out / "tone.npy").stat().st_mtime_ns
    assert main(["embed", "spear_tiny[random-init]", str(audio_dir), "--out", str(out), "--skip-errors"]) == 0
    assert (out / "tone.npy").stat().st_mtime_ns == stamp
    assert "2 already there" in capsys.readouterr().out


def test_embed_rejects_a_layer_out_of_range(audio_dir, tmp_path, capsys):
    assert (
        main(["embed", "spear_tiny[random-init]", str(audio_dir), "--out", str(tmp_path / "e"), "--layer", "10"]) == 2
    )
    assert "10 hidden states" in capsys.readouterr().err
