"""VC's objective evaluation, as s3prl's ``downstream/a2o-vc-vcc2020/decode.sh`` runs it.

decode.sh: the expert's test pass writes log-mel features (``<expdir>/0/test/hdf5``) and
Griffin-Lim waveforms (``<expdir>/0/test/wav``); ``parallel-wavegan-normalize`` +
``parallel-wavegan-decode`` turn the features into waveforms with the pretrained PWG vocoder
(``pwg_task1``, fetched by s3prl's ``vocoder_download.sh``); s3prl's ``evaluate.py`` scores
them: MCD / F0 / duration against the target speaker's ground truth (pyworld, pysptk,
fastdtw), CER / WER of an ASR model (``facebook/wav2vec2-large-960h-lv60-self``), and the ASV
accept rate of resemblyzer's speaker encoder at the equal-error-rate threshold, written to
``obj.log``. This module runs exactly that ``evaluate.py`` (s3prl's own file, in process) and
reads its ``obj.log``.

Pretrained models that cannot be downloaded here are options: ``vocoder`` (a ``pwg_task1``
folder) and ``asr_model`` (a local copy of the wav2vec 2.0 model). Without them, a demo uses
stand-ins, which the returned metrics flag (``stand_in_vocoder``, ``stand_in_asr`` = 1.0):
the expert's own Griffin-Lim waveforms in place of the vocoder, and a randomly initialised
``Wav2Vec2ForCTC`` of the published architecture (2 of its 24 transformer layers) in place of the
ASR model. resemblyzer's
weights ship inside its wheel: the ASV model is always the real one.
"""

from __future__ import annotations

import contextlib
import io
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

from spear_bench.compat import s3prl_legacy
from spear_bench.errors import CheckpointError, ConfigError

# s3prl's downstream/a2o-vc-vcc2020/data/f0.yaml (commit 3fe32bc8f90ba766614f617f8701ba2a972ebee5,
# read through the search tool's read_file): harvest's F0 range per target speaker.
S3PRL_F0_RANGES = {
    "TEF1": {"f0min": 127, "f0max": 405},
    "TEF2": {"f0min": 108, "f0max": 361},
    "TEM1": {"f0min": 71, "f0max": 227},
    "TEM2": {"f0min": 57, "f0max": 182},
}
# s3prl's downstream/a2o-vc-vcc2020/data/thresholds.yaml (commit e7d2ac71b7fb8855fd714932d85e3ea0862ab5a3):
# [equal error rate, threshold] of resemblyzer on VCC2020 task 1's E3* utterances. Used for the
# real corpus; a demo corpus gets its own (computed by evaluate.py on the demo speakers).
S3PRL_TASK1_THRESHOLD = [0.010800000000032502, 0.7405614256857954]
ASR_MODEL_NAME = "facebook/wav2vec2-large-960h-lv60-self"
# The ASR stand-in keeps 2 of the 24 transformer layers: the 24-layer random model costs ~2 s an
# utterance on a CPU and transcribes no better (both are untrained).
ASR_STAND_IN_LAYERS = 2
MCD_JOBS = 2  # evaluate.py's --n_jobs (its default 10): processes for pyworld's analysis
VOCODER_HINT = (
    "s3prl's pwg_task1 folder (checkpoint-*.pkl, config.yml, stats.h5) "
    "from downstream/a2o-vc-vcc2020/vocoder_download.sh"
)

_MEAN_LINE = re.compile(r"Mean MCD, f0RMSE, f0CORR, DDUR, CER, WER, accept rate: (.*)$")


@dataclass(frozen=True)
class VcScores:
    """The ``Mean ...`` line of s3prl's ``obj.log`` (its rounding: MCD .2f, CER/WER .1f, accept .2f)."""

    mcd: float  # dB
    f0rmse: float
    f0corr: float
    ddur: float  # seconds
    cer: float  # percent
    wer: float  # percent
    asv_accept: float  # percent
    asv_eer: float  # percent: the equal error rate behind the accept threshold

    @classmethod
    def read(cls, obj_log: Path, eer: float, utterances: int | None = None) -> "VcScores":
        """``utterances``: how many converted files evaluate.py was given; each must have its line."""
        lines = Path(obj_log).read_text().splitlines()
        scored = sum(1 for line in lines if line.strip() and not _MEAN_LINE.search(line))
        if utterances is not None and scored != utterances:
            raise ConfigError(f"{obj_log}: s3prl's evaluate.py scored {scored} of {utterances} utterances")
        for line in reversed(lines):
            match = _MEAN_LINE.search(line)
            if match:
                mcd, f0rmse, f0corr, ddur, cer, wer, accept = (float(v) for v in match.group(1).split())
                return cls(mcd, f0rmse, f0corr, ddur, cer, wer, accept, 100.0 * eer)
        raise ConfigError(f"{obj_log}: no 'Mean MCD, ...' line (s3prl's evaluate.py did not finish)")


def eval_data_root(corpus_root: Path, work: Path, demo: bool) -> Path:
    """The ``--data_root`` evaluate.py reads: ``vcc2020/`` (the corpus), ``f0.yaml`` and, for the
    real corpus, s3prl's ``thresholds.yaml``. Built in ``work`` so the corpus folder stays read-only."""
    work.mkdir(parents=True, exist_ok=True)
    link = work / "vcc2020"
    if not link.exists():
        link.symlink_to(Path(corpus_root).resolve() / "vcc2020", target_is_directory=True)
    (work / "f0.yaml").write_text(yaml.safe_dump(S3PRL_F0_RANGES))
    if not demo and not (work / "thresholds.yaml").exists():
        (work / "thresholds.yaml").write_text(yaml.safe_dump({"task1": S3PRL_TASK1_THRESHOLD}))
    return work


def vocode(features_dir: Path, vocoder: Path, out_dir: Path) -> Path:
    """decode.sh's ``parallel-wavegan-normalize`` + ``parallel-wavegan-decode`` with the vocoder
    folder's newest ``*.pkl``, ``config.yml`` and ``stats.h5``; returns the waveform folder."""
    vocoder = Path(vocoder)
    checkpoints = sorted(vocoder.rglob("*.pkl"), key=lambda p: p.stat().st_mtime)
    configs, stats = sorted(vocoder.rglob("config.yml")), sorted(vocoder.rglob("stats.h5"))
    if not (checkpoints and configs and stats):
        raise CheckpointError(f"{vocoder}: not a PWG vocoder folder (wanted {VOCODER_HINT})")
    import parallel_wavegan.bin.decode as decode  # heavy optional dependency of VC's vocoder path only
    import parallel_wavegan.bin.normalize as normalize  # same

    norm_dir, wav_dir = out_dir / "hdf5_norm", out_dir / f"{vocoder.name.split('_')[0]}_wav"
    norm_dir.mkdir(parents=True, exist_ok=True)
    wav_dir.mkdir(parents=True, exist_ok=True)
    for module, argv in (
        (normalize, ["--skip-wav-copy", "--config", str(configs[-1]), "--stats", str(stats[-1])]),
        (decode, ["--dumpdir", str(norm_dir), "--checkpoint", str(checkpoints[-1]), "--outdir", str(wav_dir)]),
    ):
        if module is normalize:
            argv += ["--rootdir", str(features_dir), "--dumpdir", str(norm_dir)]
        saved, sys.argv = sys.argv, [module.__name__, *argv, "--verbose", "0"]
        try:
            module.main()
        finally:
            sys.argv = saved
    return wav_dir


def run_objective_evaluation(
    wav_dir: Path, trgspk: str, data_root: Path, asr_model: Path | None, log_path: Path
) -> VcScores:
    """s3prl's ``evaluate.py`` (``main()``, in process, with compat's VC shims) on ``wav_dir``;
    ``asr_model`` None: the random-init stand-in. Returns the scores of its ``obj.log``."""
    if asr_model is not None and not Path(asr_model).is_dir():
        raise CheckpointError(
            f"task vc: ASR model folder {asr_model} does not exist (wanted a copy of {ASR_MODEL_NAME})"
        )
    argv = ["--wavdir", str(wav_dir), "--trgspk", trgspk, "--data_root", str(data_root), "--n_jobs", str(MCD_JOBS)]
    argv += ["--log_path", str(log_path)]
    stdout = io.StringIO()
    with s3prl_legacy.vc_evaluate_modules(asr_model, ASR_STAND_IN_LAYERS) as evaluate:
        saved, sys.argv = sys.argv, ["evaluate.py", *argv]
        try:
            with contextlib.redirect_stdout(stdout):
                evaluate.main()
        finally:
            sys.argv = saved
    print(stdout.getvalue(), end="")
    eer = re.search(r"\[INFO\]: Equal error rate: (\S+)", stdout.getvalue())
    if eer is None:
        raise ConfigError(f"{log_path}: s3prl's evaluate.py printed no equal error rate")
    converted = len(list(Path(wav_dir).glob("*300??*.wav")))  # evaluate.py's own query
    return VcScores.read(log_path, float(eer.group(1)), converted)
