"""``torch.load`` for libraries that reload the checkpoints they wrote (s3prl, heareval, Lightning 1.9).

What breaks: torch >= 2.6 loads with ``weights_only=True``; those libraries' checkpoints pickle
argparse Namespaces, configs and torch classes, so their own resume / test / evaluate steps raise
``UnpicklingError``. The patch: inside :func:`trusted_torch_load` (entered around the library call that
reloads its own run's files: ``Problem.run``, s3prl's ``run_downstream``, heareval's train and test
steps), ``torch.load`` without an explicit ``weights_only`` loads with ``weights_only=False``; an
explicit value always wins, and outside the scope torch's safe default is untouched. (It replaces
a process-wide wrapper that picked whom to trust from its caller's frame and so refused s3prl's
``run_downstream.py`` run as a script.) When it can go: when each library passes
``weights_only=False`` for its own files (none does in s3prl 0.4.18, heareval 2021.1.3,
pytorch-lightning 1.9.5).
"""

from __future__ import annotations

from spear_bench.compat.patching import ScopedPatches


def _install(patches: ScopedPatches) -> None:
    import torch  # not at the top: `import spear_bench` (every interpreter, the .pth) stays light

    original = torch.load

    def load(*args, **kwargs):
        kwargs.setdefault("weights_only", False)
        return original(*args, **kwargs)

    load.__wrapped__ = original
    load.__doc__ = original.__doc__
    patches.set_attr(torch, "load", load, "torch.load(weights_only=False by default)")


TRUSTED_TORCH_LOAD = ScopedPatches("trusted_torch_load", _install)


def trusted_torch_load() -> ScopedPatches:
    """``with trusted_torch_load(): ...``: torch.load defaults to ``weights_only=False`` inside."""
    return TRUSTED_TORCH_LOAD
