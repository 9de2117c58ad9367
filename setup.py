"""Build hooks (the metadata is in pyproject.toml): ship the startup .pth next to the package.

``spear_bench_heareval_compat.pth`` lands at the top of site-packages, where Python runs it
at start-up: it installs :func:`spear_bench.compat.heareval.install_heareval_hook`, so
``python -m heareval.embeddings.runner`` and ``python -m heareval.predictions.runner`` work
as installed, with no PYTHONPATH or environment variable. Regular wheels get it through
``build_py`` (the build folder is the wheel's root); editable installs (``pip install -e``,
scripts/bootstrap.sh) through ``editable_wheel``, which otherwise only writes its own path hook.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.editable_wheel import editable_wheel

PTH = Path(__file__).resolve().parent / "spear_bench_heareval_compat.pth"


class BuildPyWithPth(build_py):
    def run(self):
        super().run()
        shutil.copy(PTH, Path(self.build_lib) / PTH.name)

    def get_outputs(self, include_bytecode=True):
        return [*super().get_outputs(include_bytecode), str(Path(self.build_lib) / PTH.name)]


class EditableWheelWithPth(editable_wheel):
    def _run_build_commands(self, dist_name, unpacked_wheel, build_lib, tmp_dir):
        files, mapping = super()._run_build_commands(dist_name, unpacked_wheel, build_lib, tmp_dir)
        shutil.copy(PTH, Path(unpacked_wheel) / PTH.name)  # the wheel's root is site-packages
        return files, mapping


setup(cmdclass={"build_py": BuildPyWithPth, "editable_wheel": EditableWheelWithPth})
