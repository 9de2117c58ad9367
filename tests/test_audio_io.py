"""Reading, validating and resampling audio; every bad input gives one AudioError line naming the file."""

import numpy as np
import pytest
import soundfile as sf
import torch

from spear_bench.audio import collate_waveforms, find_audio_files, load_audio, validate_waveform
from spear_bench.errors import AudioError


def _sine(sr, seconds, channels=1):
    t = np.arange(int(sr * seconds)) / sr
    x = 0.3 * np.sin(2 * np.pi * 440 * t).astype(np.float32)
    return np.stack([x] * channels, axis=1) if channels > 1 else x


def _one_line_naming(error, path):
    message = str(error.value)
    assert "\n" not in message
    assert str(path) in message
    return message


def test_stereo_44k1_flac_becomes_mono_16k(tmp_path):
    path = tmp_path / "stereo.flac"
    sf.write(path, _sine(44100, 1.0, channels=2), 44100)
    wave = load_audio(path)
    assert wave.dtype == torch.float32 and wave.dim() == 1
    assert wave.numel() == 16000
    assert 0.25 < float(wave.abs().max()) < 0.35


def test_16k_wav_is_read_unchanged(tmp_path):
    path = tmp_path / "a.wav"
    x = _sine(16000, 0.5)
    sf.write(path, x, 16000, subtype="FLOAT")
    assert torch.equal(load_audio(path), torch.from_numpy(x))


@pytest.mark.parametrize(
    "make, expected",
    [
        (lambda p: None, "no such audio file"),
        (lambda p: p.write_bytes(b""), "empty file"),
        (lambda p: sf.write(p, np.zeros(0, np.float32), 16000), "empty audio"),
        (lambda p: p.write_bytes(b"RIFF\x00\x00garbage-not-a-wave-file" * 10), "unreadable or corrupt"),
        (lambda p: sf.write(p, np.array([0.1, np.nan, 0.2] * 100, np.float32), 16000, subtype="FLOAT"), "NaN"),
        (lambda p: sf.write(p, np.array([0.1, np.inf, 0.2] * 100, np.float32), 16000, subtype="FLOAT"), "Inf"),
    ],
    ids=["missing", "zero-bytes", "zero-samples", "corrupt", "nan", "inf"],
)
def test_bad_audio_gives_one_line_error_naming_the_file(tmp_path, make, expected):
    path = tmp_path / "bad.wav"
    make(path)
    with pytest.raises(AudioError) as error:
        load_audio(path)
    assert expected in _one_line_naming(error, path)


def test_directory_instead_of_file_is_an_error(tmp_path):
    with pytest.raises(AudioError) as error:
        load_audio(tmp_path)
    assert "is a directory" in _one_line_naming(error, tmp_path)


def test_wrong_sample_rate_of_a_tensor_is_an_error():
    with pytest.raises(AudioError, match="sample rate 8000 Hz, expected 16000"):
        validate_waveform(torch.zeros(100), "clip-7", sample_rate=8000)


def test_non_1d_and_integer_waveforms_are_errors():
    with pytest.raises(AudioError, match="1-D"):
        validate_waveform(torch.zeros(2, 100), "x")
    with pytest.raises(AudioError, match="floating-point"):
        validate_waveform(torch.zeros(100, dtype=torch.int16), "x")


def test_collate_pads_with_zeros_and_keeps_lengths():
    batch, lengths = collate_waveforms([torch.ones(3), torch.ones(5)])
    assert batch.shape == (2, 5)
    assert lengths.tolist() == [3, 5]
    assert batch[0, 3:].abs().sum() == 0


def test_find_audio_files_expands_folders_sorted_and_rejects_missing(tmp_path):
    (tmp_path / "sub").mkdir()
    for name in ["sub/b.wav", "a.flac", "notes.txt"]:
        (tmp_path / name).write_bytes(b"x")
    assert [p.name for p in find_audio_files([tmp_path])] == ["a.flac", "b.wav"]
    with pytest.raises(AudioError, match="no such file or folder"):
        find_audio_files([tmp_path / "nope"])
