#!/usr/bin/env bash
# Creates .venv (if missing) and installs spear-bench with its pinned stack.
# Idempotent: re-runs only when pyproject.toml, constraints.txt or this script change.
#
# Why the order matters (see README, "Install"):
#   1. torch==2.13.0 first: the CPU wheel. Any looser torch requirement resolved later
#      would pull a multi-GB CUDA build from PyPI.
#   2. torchaudio==2.11.0 with --no-deps: PyPI's build carries a CUDA extension that does
#      not load beside the CPU torch; spear_bench/compat/torchaudio_import.py makes torchaudio import without
#      it (only its pure-Python parts are used: kaldi fbank, resample).
#   3. the project itself, editable, against constraints.txt (the full tested pin set).
#   4. requirements-nodeps.txt with --no-deps (cross-check tools with impossible pins).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}

need_apt=()
command -v espeak-ng >/dev/null 2>&1 || need_apt+=(espeak-ng)
command -v sox >/dev/null 2>&1 || need_apt+=(sox)
if [ "${SPEAR_BENCH_TEST_TOOLS:-0}" = 1 ]; then
  # Test-only tools: the report tests render the HTML leaderboard in headless Chromium and
  # compile the LaTeX tables with pdflatex.
  command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
  command -v pdflatex >/dev/null 2>&1 || need_apt+=(texlive-latex-base texlive-latex-recommended)
fi
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "[bootstrap] installing Debian packages: ${need_apt[*]} (demo and test audio are generated with them)"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  if ! ($SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}") >/tmp/spear-bench-apt.log 2>&1; then
    echo "[bootstrap] could not install ${need_apt[*]} (see /tmp/spear-bench-apt.log); install them by hand" >&2
    exit 1
  fi
fi

stamp_src=$(cat pyproject.toml setup.py spear_bench_heareval_compat.pth constraints.txt requirements-nodeps.txt scripts/bootstrap.sh | sha256sum | cut -c1-16)
stamp="$VENV/.installed-$stamp_src"
if [ -f "$stamp" ]; then
  exit 0
fi

if [ ! -x "$VENV/bin/python" ]; then
  echo "[bootstrap] creating $VENV with $($PYTHON --version)"
  "$PYTHON" -m venv "$VENV"
fi
PIP="$VENV/bin/python -m pip"
export PIP_DISABLE_PIP_VERSION_CHECK=1
echo "[bootstrap] installing torch==2.13.0 (CPU) and torchaudio==2.11.0 (no deps)"
$PIP install -q torch==2.13.0
$PIP install -q --no-deps torchaudio==2.11.0
echo "[bootstrap] installing spear-bench (editable) with pinned dependencies"
$PIP install -q -c constraints.txt -e ".[dev]"
# Tools whose declared requirements cannot be met beside this stack (heareval,
# hearvalidator ...): installed without their dependencies; what they really need is
# pinned in constraints.txt and listed in requirements-nodeps.txt.
if grep -qvE '^\s*(#|$)' requirements-nodeps.txt; then
  echo "[bootstrap] installing requirements-nodeps.txt (--no-deps)"
  $PIP install -q --no-deps -c constraints.txt -r requirements-nodeps.txt
fi
# fairseq (s3prl's ST expert; fairseq-fixed is fairseq 0.12 for Python >= 3.11): an sdist whose C++/Cython
# extensions build against torch. In pip's isolated build environment that torch would be PyPI's
# (CUDA) build, so it is built against the venv's own, with its pin from constraints.txt (minutes, once;
# pip caches the wheel). Its declared dependencies pin older hydra/omegaconf: --no-deps.
echo "[bootstrap] installing fairseq-fixed (--no-deps --no-build-isolation; compiles its extensions)"
$PIP install -q --no-deps --no-build-isolation -c constraints.txt fairseq-fixed
rm -f "$VENV"/.installed-*
touch "$stamp"
echo "[bootstrap] done: $VENV"
