"""Every random state a training step consumes, captured for a checkpoint and restored on resume.

A captured state holds torch's global generator, Python's ``random`` (e.g. the Zipformer's
Balancer/Whiten draw from it), NumPy's global generator and the trainer's own
``torch.Generator`` (key ``augment``: token/noise mixing, masking, SpecAugment, mixup). Everything is a
tensor, number, string or tuple of them, so it loads with ``torch.load(weights_only=True)``
(NumPy's state is stored as tensors for that reason).
"""

from __future__ import annotations

import random

import numpy as np
import torch


def seed_everything(seed: int) -> None:
    """Seed torch, Python's ``random`` and NumPy's global generators."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def capture_rng(generator: torch.Generator) -> dict:
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "python": random.getstate(),
        "numpy": {
            "kind": kind,
            "keys": torch.from_numpy(keys.astype(np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached": float(cached),
        },
        "augment": generator.get_state(),
    }


def restore_rng(state: dict, generator: torch.Generator) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])
    n = state["numpy"]
    np.random.set_state((n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached"]))
    generator.set_state(state["augment"])
