"""hearvalidator 2021.0.2 (the HEAR 2021 API checker) on our HEAR modules, at their default (real) sizes.

hearvalidator is installed with ``pip install --no-deps hearvalidator==2021.0.2`` (it
declares tensorflow); its module imports tensorflow, so when TensorFlow is absent the
stand-in in tests/hear_validator_support/tf_standin is put on PYTHONPATH (see its
docstring for exactly what it replaces). Each run is a subprocess started outside the
repository, as a user would run ``hear-validator <module>``.
"""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

SUPPORT = Path(__file__).parent / "hear_validator_support"


def run_validator(module: str, tmp_path: Path) -> subprocess.CompletedProcess:
    assert importlib.util.find_spec("hearvalidator") is not None, (
        "hearvalidator is not installed: pip install --no-deps hearvalidator==2021.0.2"
    )
    paths = [str(SUPPORT / "modules")]
    if importlib.util.find_spec("tensorflow") is None:
        paths.append(str(SUPPORT / "tf_standin"))
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(paths + [os.environ.get("PYTHONPATH", "")]),
        "OMP_NUM_THREADS": "1",
    }
    return subprocess.run(
        [sys.executable, "-m", "hearvalidator.validate", module, "--device", "cpu"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_tensorflow_standin_offers_only_module_and_fails_loudly_otherwise():
    sys.path.insert(0, str(SUPPORT / "tf_standin"))
    try:
        spec = importlib.util.spec_from_file_location(
            "tf_standin", SUPPORT / "tf_standin" / "tensorflow" / "__init__.py"
        )
        standin = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(standin)
    finally:
        sys.path.pop(0)
    import torch

    assert not isinstance(torch.nn.Linear(1, 1), standin.Module)
    assert not isinstance(torch.zeros(1), (standin.Tensor, standin.Variable))
    with pytest.raises(AttributeError, match="real TensorFlow"):
        standin.device("cpu")


@pytest.mark.slow
def test_validator_rejects_a_module_that_breaks_the_api(tmp_path):
    done = run_validator("broken_hear_module", tmp_path)
    assert done.returncode != 0
    assert "Expected embeddings to be torch.float32" in done.stdout + done.stderr


@pytest.mark.slow
@pytest.mark.parametrize("module", ["hear_spear", "hear_spear.wavlm", "hear_spear.dasheng", "hear_spear.usad"])
def test_validator_passes_on_spear_and_each_baseline_module(module, tmp_path):
    done = run_validator(module, tmp_path)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "Looks good!" in done.stdout
