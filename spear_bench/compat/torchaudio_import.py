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
