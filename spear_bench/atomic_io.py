"""Atomic file writes: a reader (or a resumed run) sees the old file or the whole new one, never a part.

Every write goes to a temporary file beside its destination (same folder, so the same file
system), is flushed to disk, then renamed over the destination with ``os.replace``, which
is atomic on POSIX. A write that fails or is killed leaves the destination untouched; a
killed one may leave its hidden temporary file (``.<name>.<random><suffix>``) behind.
Temporary files are created with the default permissions (``0o666`` less the umask), so
the written file has the permissions of a plain ``open(path, "w")``.

This is the only implementation in spear-bench (results store, checkpoints, quantisers,
teacher features, manifests). It imports nothing of spear-bench.

Its counterpart for files found damaged (cut short by a full disk or a crash outside these
writers, edited by hand): :func:`move_aside` renames one to ``<name>.damaged-<UTC time>``
beside it, kept for inspection, and says so in one line, so that the caller recomputes it.
"""

from __future__ import annotations

import datetime
import os
import secrets
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Callable, Iterator


def _temporary_sibling(path: Path, suffix: str) -> Path:
    return path.with_name(f".{path.name}.{secrets.token_hex(4)}{suffix}")


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def atomic_path(path: str | Path, suffix: str = ".tmp") -> Iterator[Path]:
    """A fresh temporary path beside ``path`` for writers that need a file name (safetensors, lhotse).

    When the block ends without an exception, the file written there replaces ``path``;
    otherwise it is removed. ``suffix`` ends the temporary name, for writers that choose
    the format from it (lhotse: ``.jsonl.gz``).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temporary_sibling(path, suffix)
    try:
        yield tmp
        _fsync(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_with(path: str | Path, write: Callable[[BinaryIO], object]) -> Path:
    """Call ``write(file)`` on a binary file that replaces ``path`` once written (``torch.save``, ``np.save``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temporary_sibling(path, ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException as error:
        tmp.unlink(missing_ok=True)
        if isinstance(error, OSError) and error.filename is None:  # ENOSPC from write(): say which file
            error.filename = str(path)
        raise
    return path


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` so that readers see the old file or the whole new one."""
    return atomic_write_with(path, lambda handle: handle.write(data))


def atomic_write_text(path: str | Path, text: str) -> Path:
    """:func:`atomic_write_bytes` of ``text`` in UTF-8."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def warn(message: str) -> None:
    """One warning line on stderr (the damaged-file reports; never mixed into stdout's summaries)."""
    print(f"warning: {message}", file=sys.stderr, flush=True)


def move_aside(path: str | Path, problem: str, consequence: str) -> Path | None:
    """Rename the damaged file ``path`` to ``<name>.damaged-<UTC time>`` and warn in one line.

    ``problem`` says what is wrong with it, ``consequence`` what happens now ("the unit is
    computed again"). Returns the new path, or None when another process moved or replaced
    it first (nothing to do then).
    """
    path = Path(path)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    kept = path.with_name(f"{path.name}.damaged-{stamp}")
    try:
        os.rename(path, kept)
    except FileNotFoundError:
        return None
    warn(f"{path}: {problem}; moved aside to {kept.name}, {consequence}")
    return kept
