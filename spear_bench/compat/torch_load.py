"""torch.load for libraries that reload the checkpoints they wrote (s3prl, heareval, Lightning 1.9).

What breaks: torch >= 2.6 loads with ``weights_only=True``; those libraries' checkpoints pickle
argparse Namespaces, configs, torch classes. When it can go: when each library passes
``weights_only=False`` itself for its own files (none does in s3prl 0.4.18, heareval 2021.1.3,
pytorch-lightning 1.9.5).
"""

from __future__ import annotations

import sys

_TRUSTED_LOADERS: set[str] = set()


def _caller_package(depth: int) -> str:
    return str(sys._getframe(depth).f_globals.get("__name__", "")).split(".")[0]


def trust_torch_load_from(*packages: str) -> None:
    """``torch.load`` called from inside these top-level packages defaults to ``weights_only=False``.

    torch >= 2.6 loads with ``weights_only=True``. Libraries written before (s3prl, heareval,
    Lightning 1.9) reload checkpoints that they or the user's own runs wrote and that pickle
    configs; for their calls only the old default comes back. Every other caller keeps torch's
    safe default, and an explicit ``weights_only`` always wins. One wrapper serves every package.
    """
    import torch  # not at the top: `import spear_bench` (every interpreter, the .pth) stays light

    _TRUSTED_LOADERS.update(packages)
    if getattr(torch.load, "_spear_bench_trusted_load", False):
        return
    original = torch.load

    def load(*args, **kwargs):
        if "weights_only" not in kwargs and _caller_package(2) in _TRUSTED_LOADERS:
            kwargs["weights_only"] = False
        return original(*args, **kwargs)

    load.__wrapped__ = original
    load.__doc__ = original.__doc__
    load._spear_bench_trusted_load = True
    torch.load = load
