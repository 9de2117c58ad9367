"""The one key of a SUPERB run folder, for the ``s3prl.problem`` tasks and the legacy-runner tasks alike.

A run folder holds s3prl's checkpoints and results; s3prl resumes from what it finds there, so
the folder must change whenever anything that changes the numbers changes: the run's config
(less where it runs and how many loader workers it has), the model (weights by content), the
code version (spear-bench's sources and the libraries' versions) and the seed.
"""

from __future__ import annotations

import hashlib
import json

# Where a run writes, and how many processes load its data: not part of what it computes.
PLACE_KEYS = ("target_dir", "cache_dir", "num_workers")


def run_folder_key(config: dict, model: dict, code: dict, seed: int) -> str:
    """12 hex digits of a hash of (config less :data:`PLACE_KEYS`, model identity, code version, seed)."""
    relevant = {k: v for k, v in config.items() if k not in PLACE_KEYS}
    keyed = {"config": relevant, "model": model, "code": code, "seed": int(seed)}
    return hashlib.sha256(json.dumps(keyed, sort_keys=True, default=str).encode()).hexdigest()[:12]
