"""Is this process one of s3prl's command lines? Read by the start-up file in every interpreter: imports nothing.

See :mod:`spear_bench.superb.s3prl_command_line` for what such a process gets.
"""

from __future__ import annotations

import importlib.util
import os


def is_s3prl_command_line(argv: list[str]) -> bool:
    """``argv`` (``sys.orig_argv``): ``python [opts] -m s3prl[.x]``, ``s3prl-main``, or a script in s3prl's package."""
    if not argv:
        return False
    if os.path.basename(argv[0]) == "s3prl-main":
        return True
    for i, token in enumerate(argv[1:], start=1):
        if token == "-m":
            return i + 1 < len(argv) and argv[i + 1].split(".")[0] == "s3prl"
        if token == "-c" or not token.startswith("-"):
            if token == "-c":
                return False
            spec = importlib.util.find_spec("s3prl")
            folders = list(spec.submodule_search_locations or []) if spec else []
            script = os.path.realpath(token)
            return any(script.startswith(os.path.realpath(folder) + os.sep) for folder in folders)
    return False
