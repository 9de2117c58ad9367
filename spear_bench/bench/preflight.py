"""Checks before compute: what would fail after an hour of embeddings fails first, in one line.

- the results and cache folders (:func:`check_folder`): a writable folder (or one that can be
  created) on a disk with some free space (:data:`MIN_FREE_BYTES`);
- the device (:func:`check_device`): a torch device that exists on this machine;
- the seed (:func:`check_seed`): one that numpy, torch and Python's random all accept;
- the launcher's options (:func:`check_launch_options`): an option that the chosen launcher
  would ignore is an error naming it, not a silent no-op.

Every message names the option and the value at fault.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import torch

from spear_bench.errors import ConfigError

MIN_FREE_BYTES = 256 * 1024**2  # a results file is KBs, a task's embeddings MBs: 256 MB left is "some free space"
MAX_SEED = 2**32 - 1  # numpy's RandomState accepts 0 .. 2**32 - 1


def check_folder(path: Path | str, option: str, min_free: int = MIN_FREE_BYTES) -> Path:
    """``path`` is (or can be created as) a writable folder on a disk with ``min_free`` bytes free; else a
    ConfigError naming ``option``. Nothing is created: an absent folder is checked through its nearest
    existing parent."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{option} {path}: not a folder (a file of that name exists)")
    existing = path
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise ConfigError(f"{option} {path}: cannot be created ({existing} is a file)")
    try:  # access() says nothing about read-only mounts or ACLs: try to write
        with tempfile.NamedTemporaryFile(dir=existing, prefix=".write-check-"):
            pass
    except OSError as error:
        where = "" if existing == path else f"{existing}: "
        raise ConfigError(f"{option} {path}: not writable ({where}{error.strerror})") from error
    free = shutil.disk_usage(existing).free
    if free < min_free:
        raise ConfigError(
            f"{option} {path}: only {free / 1024**2:.0f} MB free on its disk "
            f"(at least {min_free / 1024**2:.0f} MB needed)"
        )
    return path


def check_device(device: str | None, option: str = "--device") -> None:
    """A device that exists here: cpu, cuda[:N] with that GPU, mps where available. None (not asked for) passes."""
    if device is None:
        return
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError):
        raise ConfigError(f"{option} {device!r}: not a device (expected cpu, cuda or cuda:N)") from None
    if parsed.type == "cpu":
        return
    if parsed.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"{option} {device}: no CUDA GPU on this machine (torch.cuda.is_available() is False)")
        count = torch.cuda.device_count()
        if parsed.index is not None and parsed.index >= count:
            raise ConfigError(f"{option} {device}: this machine has {count} CUDA GPU(s) (cuda:0..cuda:{count - 1})")
        return
    if parsed.type == "mps":
        if not torch.backends.mps.is_available():
            raise ConfigError(f"{option} {device}: no Apple MPS device on this machine")
        return
    raise ConfigError(f"{option} {device}: not supported (expected cpu, cuda or cuda:N)")


def check_seed(seed: int, option: str = "--seed") -> None:
    if not 0 <= seed <= MAX_SEED:
        raise ConfigError(f"{option} {seed}: must be between 0 and {MAX_SEED}")


# launcher -> the options it uses; every other launcher option must keep its default
LAUNCHER_OPTIONS = {
    "local": (),
    "torchrun": ("--nproc",),
    "slurm": ("--slurm-cluster", "--slurm-partition", "--slurm-timeout-min", "--slurm-gpus", "--no-wait"),
}


def check_launch_options(launcher: str, changed: dict[str, object]) -> None:
    """``changed``: the launcher options given with a non-default value (option -> value). Those the launcher
    ignores are one error naming them all."""
    if launcher not in LAUNCHER_OPTIONS:
        return  # an unknown launcher is reported by spear_bench.bench.launchers.get_launcher
    ignored = [name for name in changed if name not in LAUNCHER_OPTIONS[launcher]]
    if ignored:
        given = ", ".join(name if changed[name] is True else f"{name} {changed[name]}" for name in ignored)
        users = sorted({other for name in ignored for other, used in LAUNCHER_OPTIONS.items() if name in used})
        raise ConfigError(
            f"{given}: not used by --launcher {launcher} (only by --launcher {' / '.join(users)}); "
            "drop it or choose that launcher"
        )
