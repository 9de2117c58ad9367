"""torchaudio imports (pure-Python parts) after spear_bench, without editing site-packages."""

import subprocess
import sys


def test_torchaudio_imports_after_spear_bench_in_a_fresh_interpreter():
    code = (
        "import spear_bench, torch, torchaudio, torchaudio.functional as F; "
        "print(F.resample(torch.zeros(1, 441), 44100, 16000).shape[-1])"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "160"


def test_hook_is_installed_once():
    from spear_bench.compat.torchaudio_import import _NoExtensionFinder, install_torchaudio_hook

    install_torchaudio_hook()
    install_torchaudio_hook()
    assert sum(isinstance(f, _NoExtensionFinder) for f in sys.meta_path) == 1
