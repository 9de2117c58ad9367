"""Generated speech and sounds: deterministic, 16 kHz, in range."""

import pytest
import soundfile as sf
import torch

from spear_bench.audio import load_audio, synth
from spear_bench.errors import SpearBenchError


def test_speak_is_deterministic_16k_speech():
    a = synth.speak("seven", voice="en+m3")
    b = synth.speak("seven", voice="en+m3")
    assert torch.equal(a, b)
    assert 0.2 * 16000 < a.numel() < 2 * 16000
    assert float(a.abs().max()) > 0.1


def test_voices_differ():
    assert not torch.equal(synth.speak("seven", voice="en+m3")[:4000], synth.speak("seven", voice="en+f2")[:4000])


def test_unknown_voice_is_a_clear_error():
    with pytest.raises(SpearBenchError, match="no-such-voice"):
        synth.speak("hello", voice="no-such-voice")


@pytest.mark.parametrize("color", ["white", "pink", "brown"])
def test_noise_is_seeded_and_normalised(color):
    a = synth.noise(0.5, seed=1, color=color)
    assert torch.equal(a, synth.noise(0.5, seed=1, color=color))
    assert not torch.equal(a, synth.noise(0.5, seed=2, color=color))
    assert a.numel() == 8000
    assert abs(float(a[800:-800].pow(2).mean().sqrt()) - 0.1) < 0.03


def test_tone_chirp_clicks_and_place_have_the_requested_length():
    assert synth.tone(440, 0.25).numel() == 4000
    assert synth.chirp(200, 2000, 0.5).numel() == 8000
    assert synth.clicks(5, 1.0, seed=0).numel() == 16000
    clip = synth.place([(0.5, torch.ones(100))], duration=1.0)
    assert clip.numel() == 16000 and clip[8000:8100].sum() == 100 and clip[:8000].abs().sum() == 0


def test_write_wav_round_trips_at_16_bit(tmp_path):
    wave = synth.tone(440, 0.1)
    path = synth.write_wav(tmp_path / "t.wav", wave)
    assert sf.info(path).subtype == "PCM_16"
    assert float((load_audio(path) - wave).abs().max()) < 1e-4
