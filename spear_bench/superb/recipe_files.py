"""The files a SUPERB recipe reads besides the audio, from the corpus folder, checked before s3prl starts.

s3prl's recipes download small metadata files at run time (the PR g2p lexicon, VoxCeleb1's
``iden_split.txt`` and ``voxceleb1_test_v2.txt``, IEMOCAP's split lists) and SuperbSD clones
``nryant/dscore`` to score. A copy in the corpus folder is used; a missing one is fetched from
s3prl's URL into the cache by :mod:`spear_bench.superb.downloads` in the pre-run check
(:func:`check_fold_files`; offline, a one-line error naming the URL and where to place the file),
and :func:`s3prl_local_files` points s3prl at them for the run.
"""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path

from spear_bench.compat.s3prl import apply_s3prl_compat
from spear_bench.errors import AudioError, DatasetError
from spear_bench.superb.downloads import fetched_recipe_files
from spear_bench.superb.recipes import Fold, recipe_for
from spear_bench.task_registry import SuperbTaskSpec

KALDI_FILES = ("wav.scp", "segments", "utt2spk", "reco2dur")


def check_fold_files(spec: SuperbTaskSpec, fold: Fold) -> Fold:
    """``fold`` with the files its recipe downloads taken from the corpus folder or fetched into the cache
    (:mod:`.downloads`), once every file it reads is there; else a one-line DatasetError naming the first missing."""
    fold = fetched_recipe_files(f"SUPERB task {spec.name}", fold)
    splits = ("train", "dev", "test") if fold.kaldi_data_dir else ()
    kaldi = [fold.kaldi_data_dir / split / name for split in splits for name in KALDI_FILES]
    for path in [*fold.local_files.values(), *fold.cache_files.values(), *kaldi]:
        if not Path(path).is_file():
            raise DatasetError(
                f"SUPERB task {spec.name}: expected {path} "
                "(s3prl's recipe downloads it; the corpus folder must supply it offline)"
            )
    return fold


def check_task_files(spec: SuperbTaskSpec, data_root: Path) -> Path:
    """The corpus folder, once every path the task's recipe reads is there (its layout's required paths
    and each fold's offline files): a one-line DatasetError naming the first missing one, before any model loads."""
    root = spec.check_data(data_root)
    if spec.s3prl_entry == "legacy":
        return root  # spear_bench.superb.legacy_tasks checks every list and audio file before s3prl starts
    for fold in recipe_for(spec).folds(root):
        check_fold_files(spec, fold)
    return root


def write_kaldi_dirs(source: Path, target: Path) -> None:
    """Copy <source>/{train,dev,test} to ``target``, wav.scp paths relative to the corpus folder made absolute."""
    corpus = source.parent
    for split in ("train", "dev", "test"):
        (target / split).mkdir(parents=True, exist_ok=True)
        for name in KALDI_FILES:
            text = (source / split / name).read_text()
            if name == "wav.scp":
                entries = (line.split(" ", 1) for line in text.splitlines() if line.strip())
                text = "".join(f"{reco} {(corpus / path).resolve()}\n" for reco, path in entries)
            (target / split / name).write_text(text)


@contextlib.contextmanager
def recipe_files(spec: SuperbTaskSpec, fold: Fold, cache_dir: Path):
    """The files the recipe would download, from the corpus or fetched into the cache (one-line error if neither)."""
    fold = check_fold_files(spec, fold)
    cache_dir.mkdir(parents=True, exist_ok=True)
    for name, source in fold.cache_files.items():
        shutil.copyfile(source, cache_dir / name)
    if fold.kaldi_data_dir is not None:
        write_kaldi_dirs(fold.kaldi_data_dir, cache_dir / "kaldi_data")
    with s3prl_local_files(fold.local_files, voxceleb1_cache=cache_dir):
        yield


@contextlib.contextmanager
def s3prl_local_files(url_files: dict[str, Path], voxceleb1_cache: Path | None = None):
    """s3prl's recipes download small metadata files at run time; here they come from the corpus folder.

    Three named shims, undone on exit:

    - ``url_files``: ``s3prl.util.download._urls_to_filepaths`` (also bound by name in
      ``s3prl.dataio.encoder.g2p``, SuperbPR's lexicon) returns the given local file for a
      listed URL and defers to s3prl for any other;
    - ``voxceleb1_cache``: ``VoxCeleb1SID`` looks for ``iden_split.txt`` in its cache root
      (default ``~/.cache/s3prl``, fetched with wget when absent); the run's own cache folder,
      where spear-bench copied the corpus's split file, replaces that default;
    - ``dscore``: SuperbSD scores its RTTMs by cloning ``nryant/dscore`` from GitHub and
      running its ``score.py``; :func:`score_rttm_der` computes the same DER (md-eval's
      definition: collar 0, overlapped speech scored, optimal speaker mapping) with
      ``pyannote.metrics`` and writes dscore's OVERALL line for s3prl's parser.
    """
    apply_s3prl_compat()
    import s3prl.dataio.corpus.voxceleb1sid as voxceleb1sid
    import s3prl.dataio.encoder.g2p as g2p
    import s3prl.problem.diarization.util as diarization_util
    import s3prl.util.download as download

    original = download._urls_to_filepaths
    local = {url: str(Path(path).resolve()) for url, path in url_files.items()}

    def urls_to_filepaths(*urls, refresh=False, download: bool = True):
        if all(url in local for url in urls):
            paths = [local[url] for url in urls]
            return paths if len(paths) > 1 else paths[0]
        return original(*urls, refresh=refresh, download=download)

    init_defaults = voxceleb1sid.VoxCeleb1SID.__init__.__defaults__
    score_with_dscore = diarization_util.score_with_dscore
    diarization_util.score_with_dscore = score_rttm_der
    download._urls_to_filepaths = download.urls_to_filepaths = g2p._urls_to_filepaths = urls_to_filepaths
    if voxceleb1_cache is not None:
        voxceleb1sid.VoxCeleb1SID.__init__.__defaults__ = (init_defaults[0], Path(voxceleb1_cache))
    try:
        yield
    finally:
        download._urls_to_filepaths = download.urls_to_filepaths = g2p._urls_to_filepaths = original
        voxceleb1sid.VoxCeleb1SID.__init__.__defaults__ = init_defaults
        diarization_util.score_with_dscore = score_with_dscore


def _read_rttm(path: Path):
    from pyannote.core import Annotation, Segment

    annotations: dict[str, Annotation] = {}
    for line in Path(path).read_text().splitlines():
        fields = line.split()
        if not fields or fields[0] != "SPEAKER":
            continue
        if len(fields) < 8:
            raise AudioError(
                f"{path}: RTTM line needs 'SPEAKER <file> <chan> <start> <dur> <NA> <NA> <speaker>': {line!r}"
            )
        file, start, duration, speaker = fields[1], float(fields[3]), float(fields[4]), fields[7]
        annotation = annotations.setdefault(file, Annotation(uri=file))
        annotation[Segment(start, start + duration), len(annotation)] = speaker
    return annotations


def score_rttm_der(dscore_dir, hyp_rttm, gt_rttm, score_result) -> float:
    """dscore's overall DER in percent (same signature as s3prl's ``score_with_dscore``)."""
    from pyannote.metrics.diarization import DiarizationErrorRate

    metric = DiarizationErrorRate(collar=0.0, skip_overlap=False)
    references, hypotheses = _read_rttm(gt_rttm), _read_rttm(hyp_rttm)
    for file, reference in references.items():
        metric(reference, hypotheses.get(file, type(reference)(uri=file)), uem=reference.get_timeline().extent())
    der = 100.0 * abs(metric)
    Path(score_result).parent.mkdir(parents=True, exist_ok=True)
    Path(score_result).write_text(f"File DER JER\n*** OVERALL *** {der:.2f} nan\n")
    return der
