"""Audio: reading, validation, resampling, fbank, batching, generated speech and sounds."""
