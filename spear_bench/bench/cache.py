"""On-disk embedding cache: computed once, reused by every later run.

An entry is one audio file's arrays (``.npz``) at
``<root>/<model>__<weights hash>__<layer>__<settings hash>/<task>/<split>/<file>.<audio hash>.npz``:
the key is the model name, a hash of its weights (every tensor of the state dict, so random
weights built by different code never collide), the layer mode, a hash of ``settings``
(code version, module, module kwargs and the loaded model's settings such as chunking and
edge padding: :func:`spear_bench.bench.fingerprint.embedding_settings`), the task, the
split, the file name and a hash of the audio bytes (a changed file is a miss). Each entry is written
atomically (temporary file + rename), so a killed run leaves whole entries only and a rerun
computes just the missing ones. ``hits``/``misses`` count lookups for the run summary.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from spear_bench.atomic_io import atomic_write_bytes, atomic_write_text
from spear_bench.results.store import git_commit


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
                return arrays
            except (OSError, ValueError, EOFError):
                path.unlink(missing_ok=True)  # unreadable entry: recompute it
        self.misses += 1
        return None

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
