"""Scoped patches: a set of replacements applied while a ``with`` of it is open, restored when the last closes.

Every patch in :mod:`spear_bench.compat` is one of these, entered around the call that needs it
(``with s3prl_patches(): problem.run(...)``): outside it, the libraries are exactly as installed.
Nesting is counted (an inner ``with`` neither re-applies nor restores early). :meth:`ScopedPatches.forever`
applies a set for the rest of the process, for the processes that belong to the patched tool
(``python -m s3prl.main``, heareval's runners); each caller says why.
"""

from __future__ import annotations

import contextlib
from typing import Callable

_MISSING = object()


class ScopedPatches(contextlib.AbstractContextManager):
    """``install(patches)`` records each change through :meth:`set_attr`, :meth:`set_item`, :meth:`enter`,
    :meth:`on_exit`; leaving the outermost ``with`` undoes them in reverse order."""

    def __init__(self, name: str, install: Callable[["ScopedPatches"], None]):
        self.name = name
        self._install = install
        self._depth = 0
        self._undo: list[Callable[[], None]] = []
        self.applied: list[str] = []  # what the open scope changed, by name

    def set_attr(self, owner, attribute: str, value, label: str | None = None) -> None:
        old = (
            owner.__dict__.get(attribute, _MISSING) if isinstance(owner, type) else getattr(owner, attribute, _MISSING)
        )
        setattr(owner, attribute, value)
        self._undo.append(lambda: delattr(owner, attribute) if old is _MISSING else setattr(owner, attribute, old))
        self.applied.append(label or f"{getattr(owner, '__name__', owner)}.{attribute}")

    def set_item(self, mapping: dict, key, value, label: str | None = None) -> None:
        old = mapping.get(key, _MISSING)
        mapping[key] = value
        self._undo.append(lambda: mapping.pop(key, None) if old is _MISSING else mapping.__setitem__(key, old))
        self.applied.append(label or str(key))

    def enter(self, manager: contextlib.AbstractContextManager) -> None:
        manager.__enter__()
        self._undo.append(lambda: manager.__exit__(None, None, None))
        self.applied.extend(getattr(manager, "applied", []))

    def on_exit(self, undo: Callable[[], None]) -> None:
        self._undo.append(undo)

    def __enter__(self) -> "ScopedPatches":
        if self._depth == 0:
            try:
                self._install(self)
            except BaseException:
                self._restore()
                raise
        self._depth += 1
        return self

    def __exit__(self, *exc) -> None:
        self._depth -= 1
        if self._depth == 0:
            self._restore()

    def _restore(self) -> None:
        while self._undo:
            self._undo.pop()()
        self.applied.clear()

    @property
    def active(self) -> bool:
        return self._depth > 0

    def forever(self) -> list[str]:
        """Apply for the rest of the process (idempotent); the names of the changes."""
        if not getattr(self, "_forever", False):
            self.__enter__()
            self._forever = True
        return list(self.applied)
