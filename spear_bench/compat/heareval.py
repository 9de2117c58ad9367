"""Make hear-eval-kit's own runners work as installed beside this project's stack.

A HEAR user runs ``python -m heareval.embeddings.runner MODULE`` and
``python -m heareval.predictions.runner DIR``. heareval 2021.1.3 (installed with
``--no-deps``, see requirements-nodeps.txt) was written for TensorFlow 2, NumPy 1, torch 1.x
and pytorch-lightning 1.x; here both runners break. What breaks, and the shim for each
(nothing in site-packages is edited; each shim applies only while or after the module it
fixes is imported):

- ``heareval.embeddings`` imports ``tensorflow`` at module level, but uses it only for
  TensorFlow models (``isinstance(model, tf.Module)``) and, on a CUDA machine, to ask
  ``tf.test.is_gpu_available``. When real TensorFlow is not importable, a stand-in
  (:class:`_TensorflowStandIn`) is bound to the ``tf`` name of heareval's two modules (their
  ``import tensorflow as tf`` line is rewritten at load), and never put in ``sys.modules``,
  so no other library sees a fake TensorFlow.
  No torch model is a ``tf.Module``; the GPU question answers True (there is no TensorFlow
  model whose GPU could be missing), and any other use raises.
- ``python-slugify`` (heareval's embeddings runner): a pinned dependency of this project.
- pytorch-lightning 1.9.5's ``EarlyStopping`` and ``ModelCheckpoint`` read ``np.Inf``,
  removed in NumPy 2.0: those two modules get a ``np`` that also has ``Inf`` (= ``np.inf``).
- torch >= 2.6 loads with ``weights_only=True``; heareval (``torch.load(best_model_path)``)
  and Lightning (``trainer.test(ckpt_path=...)``) reload the checkpoints Lightning has just
  written, which pickle heareval's hyper-parameters (torch classes and functions). Calls
  made from inside ``heareval``, ``pytorch_lightning`` and ``lightning_fabric`` default to
  ``weights_only=False`` (:func:`spear_bench.compat.torch_load.trust_torch_load_from`); every other
  caller keeps torch's safe default.
- Event tasks fail with ``KeyError: <max epochs>`` in
  ``epoch_best_postprocessing_or_default`` (hear-eval-kit issue #432): heareval sets
  ``trainer.fit_loop.current_epoch``, which Lightning 1.9 no longer reads, so the test pass
  looks up the post-processing of the last epoch instead of the best one. The shim sets
  the counter Lightning 1.9 reads (``fit_loop.epoch_progress.current.completed``) to the
  grid point's epoch before heareval's ``task_predictions_test``, the fix discussed there.

The hook is installed at interpreter start by ``spear_bench_heareval_compat.pth``, which
the package installs into site-packages (setup.py), so the runners need no PYTHONPATH or
environment variable. :func:`install_heareval_hook` may also be called directly.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import sys
import types
from typing import Callable

from spear_bench.compat.torch_load import trust_torch_load_from

_TF_USERS = ("heareval.embeddings.task_embeddings", "heareval.embeddings.runner")
_NP_INF_USERS = ("pytorch_lightning.callbacks.early_stopping", "pytorch_lightning.callbacks.model_checkpoint")
_PREDICTIONS = "heareval.predictions.task_predictions"
TRUSTED_CHECKPOINT_LOADERS = ("heareval", "pytorch_lightning", "lightning_fabric")


class _TensorflowStandIn(types.ModuleType):
    """What heareval's embeddings code asks of TensorFlow when the model is a torch module."""

    class Module:
        """tf.Module: no torch model derives from it, so heareval takes its torch path."""

    class test:  # noqa: N801  (tf.test)
        @staticmethod
        def is_gpu_available(*args, **kwargs) -> bool:
            # heareval refuses to run when torch sees a GPU and TensorFlow does not; without
            # TensorFlow there is no TensorFlow model to put on a GPU.
            return True

    def __getattr__(self, name):
        raise AttributeError(
            f"tensorflow is not installed (spear-bench's stand-in for heareval has no {name!r}): "
            "this path needs real TensorFlow"
        )


def _tensorflow_importable() -> bool:
    if "tensorflow" in sys.modules:
        return not isinstance(sys.modules["tensorflow"], _TensorflowStandIn)
    try:
        return importlib.util.find_spec("tensorflow") is not None
    except (ImportError, ValueError):
        return False


TENSORFLOW_STANDIN = _TensorflowStandIn("tensorflow")
_TF_IMPORT = "import tensorflow as tf\n"
# Same line count, so heareval's tracebacks keep their line numbers.
_TF_STANDIN_IMPORT = 'tf = __import__("spear_bench.compat.heareval", fromlist=["_"]).TENSORFLOW_STANDIN\n'


def _heareval_code(fullname: str, loader) -> types.CodeType:
    """The module's code, its ``import tensorflow as tf`` bound to the stand-in when TensorFlow is absent.

    Only heareval's own ``tf`` name sees the stand-in: ``sys.modules`` gets no fake TensorFlow
    (other libraries, einops for one, ask it about their tensors). Rewriting the import rather
    than wrapping the module's execution also covers ``python -m heareval.embeddings.runner``,
    which runpy runs from ``get_code`` as ``__main__``.
    """
    source = loader.get_source(fullname)
    if not _tensorflow_importable():
        if _TF_IMPORT not in source:
            raise ImportError(
                f"{fullname}: spear-bench's heareval shim expected the line {_TF_IMPORT.strip()!r} (heareval 2021.1.3)"
            )
        source = source.replace(_TF_IMPORT, _TF_STANDIN_IMPORT, 1)
    return compile(source, loader.get_filename(fullname), "exec", dont_inherit=True)


class _NumpyWithInf(types.ModuleType):
    """numpy plus the ``Inf`` alias NumPy 2 removed, for the Lightning 1.9 callbacks that read it."""

    def __init__(self):
        super().__init__("numpy")
        import numpy

        self._numpy = numpy
        self.Inf = numpy.inf

    def __getattr__(self, name):
        return getattr(self._numpy, name)


def _fix_predictions(module: types.ModuleType) -> None:
    original = module.task_predictions_test

    def task_predictions_test(embedding_path, grid_point, *args, **kwargs):
        # hear-eval-kit #432: the test pass must see the best epoch as the trainer's current epoch.
        grid_point.trainer.fit_loop.epoch_progress.current.completed = grid_point.epoch
        return original(embedding_path, grid_point, *args, **kwargs)

    task_predictions_test.__wrapped__ = original
    module.task_predictions_test = task_predictions_test


def _patch(fullname: str, exec_module: Callable, module: types.ModuleType) -> None:
    exec_module(module)
    if fullname in _NP_INF_USERS:
        module.np = _NumpyWithInf()
    elif fullname == _PREDICTIONS:
        trust_torch_load_from(*TRUSTED_CHECKPOINT_LOADERS)
        _fix_predictions(module)


class _PatchingLoader(importlib.abc.Loader):
    def __init__(self, fullname: str, wrapped: importlib.abc.Loader):
        self._fullname = fullname
        self._wrapped = wrapped

    def create_module(self, spec):
        return self._wrapped.create_module(spec)

    def get_code(self, fullname):
        if fullname in _TF_USERS:
            return _heareval_code(fullname, self._wrapped)
        return self._wrapped.get_code(fullname)

    def exec_module(self, module):
        if self._fullname in _TF_USERS:
            exec(self.get_code(self._fullname), module.__dict__)
            return
        _patch(self._fullname, self._wrapped.exec_module, module)

    def __getattr__(self, name):  # is_package, get_source, get_filename ... (runpy asks for them)
        return getattr(self._wrapped, name)


class _HearevalFinder(importlib.abc.MetaPathFinder):
    TARGETS = frozenset((*_TF_USERS, *_NP_INF_USERS, _PREDICTIONS))

    def find_spec(self, fullname, path, target=None):
        if fullname not in self.TARGETS:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return None
        spec.loader = _PatchingLoader(fullname, spec.loader)
        return spec


def install_heareval_hook() -> None:
    """Patch heareval (and the Lightning 1.9 modules it uses) when they are imported; idempotent."""
    if any(isinstance(f, _HearevalFinder) for f in sys.meta_path):
        return
    sys.meta_path.insert(0, _HearevalFinder())
    # Modules imported before the hook (a process started without the .pth) get the same fixes now.
    for name in _NP_INF_USERS:
        if name in sys.modules:
            sys.modules[name].np = _NumpyWithInf()
    if _PREDICTIONS in sys.modules and not hasattr(sys.modules[_PREDICTIONS].task_predictions_test, "__wrapped__"):
        trust_torch_load_from(*TRUSTED_CHECKPOINT_LOADERS)
        _fix_predictions(sys.modules[_PREDICTIONS])
