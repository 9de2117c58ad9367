"""spear-bench: the SPEAR encoder, its evaluation on SUPERB and HEAR, pre-training,
fine-tunes and reports.

Data flows one way through the subpackages:
``audio`` -> ``models`` -> ``bench`` (probes, fine-tunes, pre-training) -> ``results`` -> ``report``.
"""

from spear_bench.compat.torchaudio_import import install_torchaudio_hook

install_torchaudio_hook()

__version__ = "0.1.0"


def load_encoder(name_or_path, **kwargs):
    """Return a SPEAR encoder in eval mode: ``base|large|xlarge`` (random init, seeded) or a checkpoint path."""
    from spear_bench.models import load_encoder as _load

    return _load(name_or_path, **kwargs)


__all__ = ["load_encoder", "__version__"]
