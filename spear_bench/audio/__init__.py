"""Audio: reading and validating files, resampling, the 128-bin fbank, batching.

Generated speech and sounds for demos and tests are in :mod:`spear_bench.audio.synth`.
"""

from spear_bench.audio.fbank import Fbank, FbankConfig, compute_fbank, fbank_batch, num_fbank_frames, waveform_fbank
from spear_bench.audio.io import (
    AUDIO_SUFFIXES,
    SAMPLE_RATE,
    collate_waveforms,
    find_audio_files,
    load_audio,
    resample,
    validate_waveform,
)

__all__ = [
    "AUDIO_SUFFIXES",
    "SAMPLE_RATE",
    "Fbank",
    "FbankConfig",
    "collate_waveforms",
    "compute_fbank",
    "fbank_batch",
    "find_audio_files",
    "load_audio",
    "num_fbank_frames",
    "resample",
    "validate_waveform",
    "waveform_fbank",
]
