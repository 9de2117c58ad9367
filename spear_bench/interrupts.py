"""Ctrl-C and SIGTERM: stop, keep what is finished, say so in one line, exit 130 or 143.

A cluster stops a job with SIGTERM (then SIGKILL after a grace period); a user with Ctrl-C
(SIGINT). :func:`sigterm_raises` turns SIGTERM into :class:`Terminated`, a
``KeyboardInterrupt``, so both unwind the same way: every file being written is a temporary
sibling that is removed (``spear_bench.atomic_io``), everything already renamed into place
stays, and the command's ``finally`` blocks run. The CLI (``spear_bench.cli.main``) then prints
:func:`interrupted_line` and exits with the shell's convention, 128 + the signal number.

What finished: long-running commands call :func:`note_finished` as work completes ("3 of 8
units finished, stored in results/"); the line quotes the latest note. Imports nothing of
spear-bench.
"""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from typing import Iterator


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread like Ctrl-C's KeyboardInterrupt."""


_state: dict = {"finished": "", "signal": None}


def note_finished(text: str) -> None:
    """Record what is finished and kept so far (replaces the previous note)."""
    _state["finished"] = text


def finished_note() -> str:
    return _state["finished"]


def received() -> int | None:
    """The signal that interrupted the command (inside :func:`signals_raise`), or None."""
    return _state["signal"]


def _raise_interrupt(signum, frame) -> None:
    _state["signal"] = signum
    raise Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()


@contextmanager
def signals_raise() -> Iterator[None]:
    """While the block runs (in the main thread), SIGINT and SIGTERM raise (:class:`Terminated` for SIGTERM)
    and are recorded (:func:`received`); the previous handlers afterwards. Notes start empty."""
    _state.update(finished="", signal=None)
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signum: signal.signal(signum, _raise_interrupt) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def exit_code(signum: int | None) -> int:
    """128 + the signal number (the shell convention): 130 for Ctrl-C (or no signal seen), 143 for SIGTERM."""
    return 128 + (signum or signal.SIGINT)


def interrupted_line(signum: int | None, command: str) -> str:
    """The one line printed when ``command`` is interrupted."""
    name = signal.Signals(signum or signal.SIGINT).name
    finished = finished_note() or "nothing had finished yet"
    return (
        f"interrupted ({name}) during {command}: {finished}; what finished is kept, "
        "and rerunning the same command resumes from there"
    )
