"""s3prl's own command lines, as installed: ``python -m s3prl.main SuperbKS ...`` and ``run_downstream.py``.

A user of this environment runs s3prl as s3prl documents it, with spear-bench's models as
upstreams (``-u spear_base``, ``build_upstream.name: spear_base``). s3prl 0.4.18 cannot even import
here without the compatibility patches, and its hub does not know spear-bench's entries. The
start-up file ``spear_bench_heareval_compat.pth`` (setup.py installs it into site-packages) asks
:func:`spear_bench.superb.s3prl_argv.is_s3prl_command_line` in every interpreter; when the process is one of s3prl's
command lines (``python -m s3prl...``, ``s3prl-main``, or a script inside the s3prl package such as
``run_downstream.py``), it applies the s3prl patches, legacy ones included, for the whole process
(the process is s3prl's: there is nothing else to keep them from) and registers spear-bench's hub
entries (:func:`install`). Any other process only pays for reading ``sys.orig_argv``.
"""

from __future__ import annotations

from spear_bench.compat.s3prl_legacy import legacy_patches
from spear_bench.upstreams import register


def install() -> None:
    """The s3prl patches, legacy ones included, for the rest of this process, and spear-bench's hub entries."""
    legacy_patches().forever()
    register()
