"""`spear-bench data fetch hear`: the published HEAR task archives, downloaded, verified and unpacked.

The archives are the HEAR 2021 Zenodo mirror linked from hearbenchmark.com's tasks page
(https://hearbenchmark.com/hear-tasks.html -> https://zenodo.org/record/5887964): every task at
48000 Hz, one ``hear2021-<task folder>-48000.tar.gz`` each. The file names, sizes, checksums and
download links are read from the record itself (Zenodo's records API,
``https://zenodo.org/api/records/5887964``) at run time, never written here; ``--record-url`` (or
``SPEAR_BENCH_HEAR_RECORD_URL``) points elsewhere (a mirror, or the tests' local server).

Each archive is downloaded to ``<to>/.downloads/<name>.part`` with HTTP Range requests, so a cut
connection or a killed command resumes where it stopped; the whole file is checked against the
record's checksum (a mismatch removes it), then unpacked: every folder in it holding a
``task_metadata.json`` becomes ``<to>/<folder>/``. A task folder already there is skipped.
The 16 kHz audio is made from 48000/ by ``spear-bench data resample`` or on the first run.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import requests
from tqdm import tqdm

from spear_bench.datasets.hear_layout import METADATA
from spear_bench.datasets.sources import HEAR_ZENODO_RECORD, hear_archive_name
from spear_bench.errors import DatasetError
from spear_bench.task_registry import HearTaskSpec

DEFAULT_RECORD_URL = f"https://zenodo.org/api/records/{HEAR_ZENODO_RECORD}"
RECORD_URL_ENV = "SPEAR_BENCH_HEAR_RECORD_URL"
CHUNK = 1 << 16  # a cut connection loses at most this much


@dataclass(frozen=True)
class RecordFile:
    key: str  # file name in the record
    url: str
    size: int
    checksum: str  # "md5:<hex>" (Zenodo's form) or "sha256:<hex>"


def record_url(override: str | None = None) -> str:
    return override or os.environ.get(RECORD_URL_ENV) or DEFAULT_RECORD_URL


def read_record(url: str, timeout: float = 60.0) -> dict[str, RecordFile]:
    """The record's files (key -> RecordFile), from either Zenodo API form ("files": [...] or {"entries": {...}})."""
    try:
        response = requests.get(url, timeout=timeout)
        response.raise_for_status()
        record = response.json()
    except (requests.RequestException, ValueError) as error:
        raise DatasetError(f"HEAR record {url}: unreachable or not JSON ({error})") from error
    files = record.get("files")
    if isinstance(files, dict):
        files = list((files.get("entries") or {}).values())
    if not isinstance(files, list) or not files:
        raise DatasetError(f"HEAR record {url}: no file list in the record")
    out = {}
    for entry in files:
        links = entry.get("links") or {}
        link = links.get("content") or links.get("self") or links.get("download")
        if not (entry.get("key") and link and entry.get("checksum")):
            raise DatasetError(f"HEAR record {url}: file entry without key, link or checksum: {entry}")
        out[entry["key"]] = RecordFile(entry["key"], link, int(entry.get("size") or 0), entry["checksum"])
    return out


def archive_for(spec: HearTaskSpec, files: dict[str, RecordFile], url: str) -> RecordFile:
    name = hear_archive_name(spec)
    if name in files:
        return files[name]
    raise DatasetError(
        f"HEAR record {url} has no {name} for task {spec.name} (48000 Hz archives there: "
        f"{', '.join(sorted(k for k in files if k.endswith('-48000.tar.gz'))) or 'none'})"
    )


def _digest(path: Path, algorithm: str) -> str:
    h = hashlib.new(algorithm)
    with path.open("rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def verify(path: Path, checksum: str) -> None:
    """The file against the record's checksum; a mismatch removes the file (it cannot be resumed)."""
    algorithm, _, expected = checksum.partition(":")
    if algorithm not in ("md5", "sha256", "sha1") or not expected:
        raise DatasetError(f"{path.name}: unknown checksum form {checksum!r} in the record")
    got = _digest(path, algorithm)
    if got != expected.lower():
        path.unlink()
        raise DatasetError(
            f"{path}: {algorithm} {got} does not match the record's {expected} (corrupt download, removed; run again)"
        )


def download(
    item: RecordFile, target: Path, quiet: bool = False, tries: int = 5, timeout: float = 60.0, wait_s: float = 1.0
) -> Path:
    """Download ``item`` to ``target`` (resuming ``target.part`` with HTTP Range), verify it, rename it."""
    if target.is_file():
        return target
    part = target.with_name(target.name + ".part")
    part.parent.mkdir(parents=True, exist_ok=True)
    bar = tqdm(total=item.size or None, unit="B", unit_scale=True, desc=item.key, disable=quiet, leave=False)
    try:
        for attempt in range(1, tries + 1):
            have = part.stat().st_size if part.exists() else 0
            if item.size and have >= item.size:
                break
            bar.n = have
            bar.refresh()
            headers = {"Range": f"bytes={have}-"} if have else {}
            try:
                with requests.get(item.url, headers=headers, stream=True, timeout=timeout) as response:
                    if response.status_code == 416 and have:  # nothing left to send
                        break
                    response.raise_for_status()
                    mode = "ab" if have and response.status_code == 206 else "wb"  # 200: the server restarted
                    if mode == "wb":
                        bar.n = 0
                    with part.open(mode) as f:
                        for block in response.iter_content(CHUNK):
                            f.write(block)
                            bar.update(len(block))
                if not item.size or part.stat().st_size >= item.size:
                    break
            except requests.RequestException as error:
                if attempt == tries:
                    got = part.stat().st_size if part.exists() else 0
                    raise DatasetError(
                        f"{item.url}: download stopped at {got} of {item.size} bytes after {tries} tries ({error}); "
                        "run the command again to resume"
                    ) from error
                time.sleep(wait_s)
    finally:
        bar.close()
    verify(part, item.checksum)
    os.replace(part, target)
    return target


def _safe_members(archive: tarfile.TarFile, dest: Path) -> list[tarfile.TarInfo]:
    members = []
    for member in archive.getmembers():
        resolved = (dest / member.name).resolve()
        if not resolved.is_relative_to(dest.resolve()) or member.issym() or member.islnk() or member.isdev():
            raise DatasetError(
                f"{archive.name}: unsafe member {member.name!r} (outside the folder, a link or a device)"
            )
        members.append(member)
    return members


def unpack(archive_path: Path, to: Path) -> list[Path]:
    """Unpack into ``to``: each folder of the archive holding a task_metadata.json becomes ``<to>/<folder>``."""
    scratch = to / f".unpack-{archive_path.name}"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    try:
        with tarfile.open(archive_path) as archive:
            archive.extractall(scratch, members=_safe_members(archive, scratch))
    except (tarfile.TarError, OSError, EOFError) as error:
        shutil.rmtree(scratch, ignore_errors=True)
        raise DatasetError(f"{archive_path}: not a readable tar archive ({error})") from error
    tasks = sorted(p.parent for p in scratch.rglob(METADATA))
    if not tasks:
        shutil.rmtree(scratch, ignore_errors=True)
        raise DatasetError(f"{archive_path}: no HEAR task folder ({METADATA}) in the archive")
    out = []
    for folder in tasks:
        final = to / folder.name
        if not final.exists():
            os.replace(folder, final)
        out.append(final)
    shutil.rmtree(scratch, ignore_errors=True)
    return out


def fetch_hear(
    specs: list[HearTaskSpec],
    to: Path,
    url: str | None = None,
    quiet: bool = False,
    keep_archives: bool = False,
    log: Callable[[str], None] = print,
    tries: int = 5,
) -> list[Path]:
    """Every selected task folder under ``to``: skipped when there, else downloaded, verified, unpacked."""
    to.mkdir(parents=True, exist_ok=True)
    todo = [s for s in specs if not (s.task_dir(to) / METADATA).is_file()]
    for spec in specs:
        if spec not in todo:
            log(f"{spec.name}: {spec.task_dir(to)} already there")
    if not todo:
        return [s.task_dir(to) for s in specs]
    url = record_url(url)
    files = read_record(url)
    items = {spec.name: archive_for(spec, files, url) for spec in todo}  # every name checked before any download
    total = sum(i.size for i in items.values())
    log(f"fetching {len(todo)} HEAR task archive(s), {total / 1e9:.2f} GB, from {url}")
    for spec in todo:
        item = items[spec.name]
        archive = download(item, to / ".downloads" / item.key, quiet=quiet, tries=tries)
        folders = unpack(archive, to)
        if not keep_archives:
            archive.unlink()
        log(f"{spec.name}: {', '.join(str(f) for f in folders)}")
        if not (spec.task_dir(to) / METADATA).is_file():
            raise DatasetError(f"{archive}: unpacked {[f.name for f in folders]}, not the task folder {spec.folder}")
    return [s.task_dir(to) for s in specs]
