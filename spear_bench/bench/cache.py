"""On-disk embedding cache: computed once, reused by every later run.

An entry is one audio file's arrays (``.npz``) at
``<root>/<model>__<weights hash>__<layer>__<settings hash>/<task>/<split>/<file>.<audio hash>.npz``:
the key is the model name, a hash of its weights (every tensor of the state dict, so random
weights built by different code never collide), the layer mode, a hash of ``settings``
(code version, module, module kwargs and the loaded model's settings such as chunking and
edge padding: :func:`spear_bench.bench.fingerprint.embedding_settings`), the task, the
split, the file name and a hash of the audio bytes (a changed file is a miss). Each entry is written
atomically (temporary file + rename), so a killed run leaves whole entries only and a rerun
computes just the missing ones. ``hits``/``misses`` count lookups for the run summary; the
process-wide :data:`TALLY` counts them too, so a unit that fails after computing embeddings
still reports them.

An entry that cannot be read (cut short, not an ``.npz``) is moved aside
(:func:`spear_bench.atomic_io.move_aside`: kept as ``<entry>.damaged-<time>``, one warning line)
and computed again.

Audio hashes are remembered (:class:`FileHashes`): a file's content hash is stored under its
path, size, modification time and inode in ``<root>/file_hashes.sqlite``, so a rerun stats
its files instead of reading them again; a file changed in place gets a new size or time and
is hashed again. The same hashes key the results (the unit key of a HEAR or SUPERB task covers
its audio: :func:`spear_bench.bench.orchestrate.unit_config`).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import sqlite3
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from spear_bench.atomic_io import atomic_write_bytes, atomic_write_text, move_aside
from spear_bench.hashing import file_hash
from spear_bench.results.store import git_commit


@dataclass
class CacheTally:
    """Lookups of every :class:`EmbeddingCache` of this process (a failed unit's summary reads it)."""

    hits: int = 0
    misses: int = 0


TALLY = CacheTally()


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.+-]", "_", str(name))


@dataclass
class EmbeddingCache:
    root: Path
    model: str
    weights_hash: str
    layer: str
    hits: int = 0
    misses: int = 0
    written: list = field(default_factory=list)
    settings: dict = field(default_factory=dict)  # everything else that changes embeddings (see the module docstring)

    @property
    def settings_hash(self) -> str:
        return hashlib.sha256(json.dumps(self.settings, sort_keys=True, default=str).encode()).hexdigest()[:12]

    @property
    def model_dir(self) -> Path:
        name = f"{_safe(self.model)}__{self.weights_hash[:16]}__{_safe(self.layer)}__{self.settings_hash}"
        return Path(self.root) / name

    def describe(self, info: dict) -> None:
        """Write a human-readable description of the model key (once), with the settings and the git commit."""
        path = self.model_dir / "model.json"
        if not path.exists():
            record = {
                "model": self.model,
                "weights_hash": self.weights_hash,
                "layer": self.layer,
                **info,
                "settings": self.settings,
                "git_commit": git_commit(),
            }
            atomic_write_text(path, json.dumps(record, indent=1, default=str))

    def path(self, task: str, split: str, file: str, audio_hash: str) -> Path:
        return self.model_dir / _safe(task) / _safe(split) / f"{_safe(file)}.{audio_hash}.npz"

    def get(self, task: str, split: str, file: str, audio_hash: str) -> dict[str, np.ndarray] | None:
        path = self.path(task, split, file, audio_hash)
        if path.is_file():
            try:
                with np.load(path) as data:
                    arrays = {k: data[k] for k in data.files}
                self.hits += 1
                TALLY.hits += 1
                return arrays
            except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as error:
                move_aside(path, f"unreadable cache entry ({error})", "computing it again")
        self.misses += 1
        TALLY.misses += 1
        return None

    def audio_hashes(self, paths) -> list[str]:
        """The content hashes that key the entries of these audio files (remembered: :class:`FileHashes`)."""
        return file_hashes(self.root).hashes(paths, create=True)

    def put(self, task: str, split: str, file: str, audio_hash: str, arrays: dict[str, np.ndarray]) -> Path:
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        path = self.path(task, split, file, audio_hash)
        atomic_write_bytes(path, buffer.getvalue())
        return path

    @property
    def hit_rate(self) -> float:
        total = self.hits + self.misses
        return self.hits / total if total else 0.0


class FileHashes:
    """Content hashes of files (:func:`spear_bench.hashing.file_hash`), remembered by path, size, mtime and inode.

    One sqlite file, shared by the processes of a run (torchrun workers) and by reruns, and a
    copy in this process's memory. The file is made only by a writer of the cache
    (``hashes(..., create=True)``: :meth:`EmbeddingCache.audio_hashes`); a reader (the unit key,
    ``run --plan``) uses it when it exists and otherwise remembers in memory only, so that it
    writes nothing. An unreadable memo is moved aside and started afresh (it only saves time).
    """

    FILE = "file_hashes.sqlite"

    def __init__(self, folder: Path | str):
        self.path = Path(folder) / self.FILE
        self._db: sqlite3.Connection | None = None
        self._memory: dict[str, tuple[tuple[int, int, int], str]] = {}

    def _connect(self) -> sqlite3.Connection:
        if self._db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            for attempt in (0, 1):
                try:
                    db = sqlite3.connect(self.path, timeout=60)
                    db.execute(
                        "CREATE TABLE IF NOT EXISTS hashes (path TEXT PRIMARY KEY, size INTEGER, "
                        "mtime_ns INTEGER, inode INTEGER, hash TEXT)"
                    )
                    db.execute("SELECT count(*) FROM hashes").fetchone()
                    self._db = db
                    break
                except sqlite3.DatabaseError as error:
                    if attempt or isinstance(error, sqlite3.OperationalError) and "locked" in str(error):
                        raise
                    move_aside(self.path, f"unreadable file-hash memo ({error})", "hashing the audio again")
        return self._db

    def hash(self, path: Path | str) -> str:
        """The file's content hash; read from the memo when its size, mtime and inode are unchanged."""
        return self.hashes([path])[0]

    def hashes(self, paths, create: bool = False) -> list[str]:
        """The files' content hashes; ``create``: make the memo file when it does not exist yet."""
        db = self._connect() if create or self._db is not None or self.path.is_file() else None
        out = []
        unstored = []
        for path in paths:
            path = str(Path(path).absolute())
            info = os.stat(path)
            signature = (info.st_size, info.st_mtime_ns, info.st_ino)
            row = (
                db.execute("SELECT size, mtime_ns, inode, hash FROM hashes WHERE path = ?", (path,)).fetchone()
                if db
                else None
            )
            if row is not None and tuple(row[:3]) == signature:
                digest = row[3]
            else:
                remembered = self._memory.get(path)
                digest = remembered[1] if remembered and remembered[0] == signature else file_hash(Path(path))
                unstored.append((path, *signature, digest))
            self._memory[path] = (signature, digest)
            out.append(digest)
        if unstored and db is not None:
            with db:
                db.executemany("INSERT OR REPLACE INTO hashes VALUES (?, ?, ?, ?, ?)", unstored)
        return out

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


_MEMOS: dict[Path, FileHashes] = {}


def file_hashes(folder: Path | str) -> FileHashes:
    """The process's one :class:`FileHashes` of ``folder`` (a connection is opened once per process)."""
    key = Path(folder).absolute()
    if key not in _MEMOS:
        _MEMOS[key] = FileHashes(key)
    return _MEMOS[key]
