"""The project's exceptions. Each carries a one-line message naming the file or setting at fault.

The CLI prints ``str(error)`` without a traceback (``--debug`` shows it).
"""


class SpearBenchError(Exception):
    """Base class: a user-facing error with a one-line message."""

    def __init__(self, message: str):
        # Keep messages on one line whatever the caller passed.
        super().__init__(" ".join(str(message).split()))


class AudioError(SpearBenchError):
    """Audio that cannot be used: unreadable, corrupt, empty, NaN/Inf, wrong rate."""


class CheckpointError(SpearBenchError):
    """A checkpoint that is missing, unreadable or does not match its config."""


class ConfigError(SpearBenchError):
    """An invalid configuration value or unknown name."""


class DatasetError(SpearBenchError):
    """A dataset folder that is missing or malformed."""
