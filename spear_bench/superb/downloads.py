"""The small files s3prl's SUPERB recipes download at run time, fetched the way s3prl fetches them.

s3prl 0.4.18's ``s3prl.problem`` recipes read metadata that is not part of the corpus archives
and fetch it when their run starts (the 6 legacy-runner tasks fetch nothing; the corpora and
the upstream weights are out of scope here):

- PR: the two g2p lexicons (``s3prl.dataio.encoder.g2p.DEFAULT_LEXICON_URL``, fetched with
  ``s3prl.util.download._urls_to_filepaths``); the corpus folder may supply both in one
  ``librispeech-lexicon.txt``;
- SID: VoxCeleb1's ``iden_split.txt`` (``voxceleb1sid.SPLIT_FILE_URL``, fetched with ``wget``);
- SV: ``iden_split.txt`` and the trial list ``voxceleb1_test_v2.txt`` (``voxceleb1sv.SPLIT_FILE_URL``,
  ``TRIAL_FILE_URL``, fetched with ``s3prl.util.download._download``);
- ER: IEMOCAP's per-fold split lists, ``s3prl_iemocap_split/Session<n>/{train,test}_meta_data.json``
  in the corpus folder (hf.co/datasets/s3prl/iemocap_split at the commit ``superb_er.iemocap_for_superb``
  names, fetched with ``_download``).

(SD's scorer clone of ``nryant/dscore`` is replaced by ``recipe_files.score_rttm_der``; ASR's
and SF's ``vocab_file`` / ``slots_file`` are local in the recipes' configs.)

:func:`fetched_recipe_files` is the pre-run check's hook: a file the corpus folder supplies is
used as it is; a missing one is fetched once into ``<cache>/s3prl_files/<host>/<url path>``
with s3prl's own downloader (``s3prl.util.download._download_url_to_file``: its progress bar,
its temporary file moved into place), and the SHA-256 of what arrived is recorded beside it
(``<file>.sha256``) and checked on every later use. Offline, the error is one line naming the
URL and where to place the file. ``SPEAR_BENCH_S3PRL_URL_BASE`` (or the ``url_base`` argument)
replaces ``https://<host>`` with ``<base>/<host>``: a mirror, or the tests' local HTTP server.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
import socket
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

from filelock import FileLock

from spear_bench import paths
from spear_bench.atomic_io import atomic_path, atomic_write_text
from spear_bench.compat.s3prl import apply_s3prl_compat
from spear_bench.errors import DatasetError
from spear_bench.superb.recipes import IEMOCAP_SPLIT_DIR, Fold

URL_BASE_ENV = "SPEAR_BENCH_S3PRL_URL_BASE"
FETCH_TIMEOUT_S = 60.0  # per socket operation; s3prl's urlopen has none, and a silent host would hang the run

# s3prl's own URLs (tests/test_superb_downloads.py checks each against s3prl's source; the g2p
# lexicons' are recipes.G2P_LEXICON_URLS, the keys of SuperbPR's Fold.local_files).
VOXCELEB1_SPLIT_URL = "https://www.robots.ox.ac.uk/~vgg/data/voxceleb/meta/iden_split.txt"
VOXCELEB1_TRIALS_URL = "https://openslr.magicdatatech.com/resources/49/voxceleb1_test_v2.txt"
IEMOCAP_SPLIT_URL = "https://huggingface.co/datasets/s3prl/iemocap_split/raw/4097f2b496c41eed016d4e5eb0ada4cccd46d1f3"

# The files a recipe copies into its run's cache folder, by their path in the corpus folder.
CORPUS_FILE_URLS: dict[str, str] = {
    "iden_split.txt": VOXCELEB1_SPLIT_URL,
    "voxceleb1_test_v2.txt": VOXCELEB1_TRIALS_URL,
    **{
        f"{IEMOCAP_SPLIT_DIR}/Session{n}/{split}_meta_data.json": (
            f"{IEMOCAP_SPLIT_URL}/Session{n}/{split}_meta_data.json"
        )
        for n in range(1, 6)
        for split in ("train", "test")
    },
}


def url_for(corpus_file: Path) -> str | None:
    """s3prl's URL of a corpus file the recipes download (matched by its corpus-relative tail), or None."""
    parts = Path(corpus_file).parts
    for relative, url in CORPUS_FILE_URLS.items():
        tail = PurePosixPath(relative).parts
        if parts[-len(tail) :] == tail:
            return url
    return None


def cached_path(url: str) -> Path:
    """Where a fetched file lives: ``<cache>/s3prl_files/<host>/<url path>`` (the same whatever the URL base)."""
    parts = urlsplit(url)
    return paths.cache_dir() / "s3prl_files" / parts.netloc / parts.path.lstrip("/")


def source_url(url: str, url_base: str | None = None) -> str:
    """``url`` as fetched: ``<base>/<host><path>`` when a base is given (argument, else the environment)."""
    base = url_base if url_base is not None else os.environ.get(URL_BASE_ENV)
    if not base:
        return url
    parts = urlsplit(url)
    return f"{base.rstrip('/')}/{parts.netloc}{parts.path}"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _checksum_file(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def verified(path: Path, url: str) -> Path:
    """``path`` once its content is what was fetched from ``url`` (the recorded SHA-256), else a one-line error."""
    recorded = _checksum_file(path).read_text().split()[0]
    actual = sha256_of(path)
    if actual != recorded:
        raise DatasetError(
            f"{path}: its sha256 {actual} differs from {recorded}, recorded when it was fetched from {url}; "
            "delete it to fetch it again"
        )
    return path


@contextlib.contextmanager
def _socket_timeout(seconds: float):
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(previous)


def fetch(url: str, where: str, place_at: Path, url_base: str | None = None) -> Path:
    """The cached copy of s3prl's file ``url``, fetched on first use and checked against its recorded SHA-256.

    ``where`` starts an error (the task); ``place_at`` is where a user may put the file instead.
    The file arrives in a temporary sibling, its checksum is written, then it is moved into
    place: a cached file always has its checksum beside it, and a killed fetch leaves no file.
    """
    target = cached_path(url)
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):
        if target.is_file() and _checksum_file(target).is_file():
            return verified(target, url)
        apply_s3prl_compat()
        from s3prl.util.download import _download_url_to_file  # heavy optional dependency (imports s3prl)

        fetched_from = source_url(url, url_base)
        with atomic_path(target, suffix=".part") as part:
            try:
                # s3prl's urllib downloader with its progress bar. Not its ``_download``: that one retries
                # any failure with ``requests`` and saves whatever body comes back, an HTTP 404 page included.
                with _socket_timeout(FETCH_TIMEOUT_S):
                    _download_url_to_file(fetched_from, str(part), progress=True)
            except (OSError, ValueError) as error:  # URLError / HTTPError / timeouts are OSErrors
                reason = " ".join(str(error).split()) or type(error).__name__
                raise DatasetError(
                    f"{where}: {place_at} is missing and s3prl's copy could not be fetched from {fetched_from} "
                    f"({reason}); place the file at {place_at}"
                ) from None
            atomic_write_text(_checksum_file(target), f"{sha256_of(part)}  {target.name}\n")
    return target


def recipe_file(where: str, corpus_file: Path, url: str | None = None, url_base: str | None = None) -> Path:
    """The file a recipe reads: the corpus folder's copy if it has one, else s3prl's, fetched into the cache.

    ``url``: s3prl's URL of the file (default: looked up by the corpus path, :data:`CORPUS_FILE_URLS`).
    A file no recipe downloads is returned as given, for the caller's own check.
    """
    url = url or url_for(corpus_file)
    if Path(corpus_file).is_file() or url is None:
        return Path(corpus_file)
    return fetch(url, where, Path(corpus_file), url_base)


def fetched_recipe_files(where: str, fold: Fold, url_base: str | None = None) -> Fold:
    """``fold`` with each file its recipe downloads resolved by :func:`recipe_file`: ``local_files``
    (s3prl URL -> file) and ``cache_files`` (name in the run's cache folder -> file)."""
    return dataclasses.replace(
        fold,
        local_files={url: recipe_file(where, path, url, url_base) for url, path in fold.local_files.items()},
        cache_files={name: recipe_file(where, path, None, url_base) for name, path in fold.cache_files.items()},
    )
