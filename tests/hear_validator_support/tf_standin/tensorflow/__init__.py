"""A stand-in for ``tensorflow``, only for running hearvalidator 2021.0.2 on PyTorch models.

hearvalidator's validate.py imports tensorflow at module level (and declares it as a
dependency, which is why it is installed with ``--no-deps``). On a PyTorch model its code
uses exactly one TensorFlow name: ``tf.Module``, in ``isinstance(model, tf.Module)`` to
tell TensorFlow models from PyTorch ones. This module provides that class; no torch
module is an instance of it (as with real TensorFlow), so the validator takes its PyTorch
path and runs every check of that path unchanged.

Once ``tensorflow`` is in ``sys.modules``, einops (used by the dasheng package) asks it
whether a tensor is a TensorFlow one (``isinstance(x, (tf.Tensor, tf.Variable))``), so
those two classes exist too; nothing is an instance of them. Any other attribute raises,
so a code path that really needs TensorFlow (a TensorFlow model) fails loudly instead of
passing. Used only when real TensorFlow is not importable (tests/test_hear_validator.py).
"""

__version__ = "0.0.0+spear-bench-standin"


class Module:
    """Stands for tf.Module: the base class of TensorFlow models, which no PyTorch model derives from."""


class Tensor:
    """Stands for tf.Tensor in einops' backend detection: no torch tensor is one."""


class Variable:
    """Stands for tf.Variable in einops' backend detection: no torch tensor is one."""


def __getattr__(name):
    raise AttributeError(f"tensorflow stand-in (spear-bench tests) has no {name!r}: this path needs real TensorFlow")
