"""Import-time compatibility with the pinned torchaudio build.

PyPI's torchaudio 2.11.0 ships a CUDA-built extension (``torchaudio/lib/*.so``) that cannot
load beside the CPU torch 2.13.0 wheel, which makes ``import torchaudio`` raise. Its
pure-Python parts (kaldi-compliant fbank, resample, transforms) work without the
extension, and torchaudio itself supports running without it: its ``_load_lib`` returns
False when the library file is absent. This module installs an import hook that makes
``_load_lib`` report "absent" when loading the library fails, so nothing in site-packages
is edited and a working extension is still used. It is installed when ``spear_bench`` is
imported; import ``spear_bench`` (or call :func:`install_torchaudio_hook`) before torchaudio.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys

_TARGET = "torchaudio._extension.utils"


class _NoExtensionLoader(importlib.abc.Loader):
    def __init__(self, wrapped: importlib.abc.Loader):
        self._wrapped = wrapped

    def create_module(self, spec):
        return self._wrapped.create_module(spec)

    def exec_module(self, module):
        self._wrapped.exec_module(module)
        original = module._load_lib

        def load_lib_or_report_absent(lib: str) -> bool:
            try:
                return original(lib)
            except OSError:
                return False  # behave as a build without the extension

        module._load_lib = load_lib_or_report_absent


class _NoExtensionFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path, target=None):
        if fullname != _TARGET:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return None
        spec.loader = _NoExtensionLoader(spec.loader)
        return spec


def install_torchaudio_hook() -> None:
    """Make ``import torchaudio`` fall back to its pure-Python parts when its extension fails to load."""
    if any(isinstance(f, _NoExtensionFinder) for f in sys.meta_path):
        return
    sys.meta_path.insert(0, _NoExtensionFinder())


# --- torch.load from libraries that reload their own checkpoints -----------------------------------

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
    import torch

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
