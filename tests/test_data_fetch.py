"""`spear-bench data fetch hear` against a local records API and file server on 127.0.0.1.

The server speaks the two things the command uses: a Zenodo-style record (file names, sizes,
md5 checksums, links) and file downloads with HTTP Range. The archives are built here: a HEAR
task folder at 48000 Hz (noise, so that gzip cannot shrink it) under ``tasks/``, as
hear-preprocess tars its output.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from spear_bench.cli import main as cli_main
from spear_bench.datasets.fetch import fetch_hear
from spear_bench.datasets.sources import hear_archive_name
from spear_bench.errors import DatasetError
from spear_bench.task_registry import load_suite

SPEC = load_suite("hear").task("gunshot_triangulation")  # the smallest HEAR task
ARCHIVE = hear_archive_name(SPEC)


def _task_archive(folder: str) -> bytes:
    """A tar.gz holding tasks/<folder>/ (metadata, vocabulary, 7 folds of one 48 kHz clip each)."""
    buffer = io.BytesIO()
    rng = np.random.default_rng(0)
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:

        def add(name: str, data: bytes) -> None:
            info = tarfile.TarInfo(f"tasks/{folder}/{name}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))

        folds = [f"fold{i:02d}" for i in range(7)]
        metadata = {"task_name": "gunshot_triangulation", "split_mode": "new_split_kfold", "splits": folds}
        add("task_metadata.json", json.dumps(metadata).encode())
        add("labelvocabulary.csv", b"idx,label\n0,a\n")
        for fold in folds:
            add(f"{fold}.json", json.dumps({"x.wav": ["a"]}).encode())
            wav = io.BytesIO()
            sf.write(wav, rng.uniform(-0.5, 0.5, 48000).astype(np.float32), 48000, format="WAV", subtype="PCM_16")
            add(f"48000/{fold}/x.wav", wav.getvalue())
    return buffer.getvalue()


class _Server:
    """Records API + files with Range; ``cuts`` = how many next downloads stop after ``cut_fraction``."""

    def __init__(self, files: dict[str, bytes], checksums: dict[str, str] | None = None, entries_form=False):
        self.files = files
        self.checksums = checksums or {}
        self.entries_form = entries_form
        self.cuts = 0
        self.cut_fraction = 0.4
        self.requests: list[tuple[str, str | None]] = []  # (path, Range header)
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):
                server.requests.append((self.path, self.headers.get("Range")))
                if self.path == "/api/records/1":
                    return self._send(200, json.dumps(server.record()).encode(), "application/json")
                key = self.path.rsplit("/", 1)[-1]
                if not self.path.startswith("/files/") or key not in server.files:
                    return self._send(404, b"not found", "text/plain")
                data = server.files[key]
                start = 0
                if self.headers.get("Range"):
                    start = int(self.headers["Range"].split("=")[1].split("-")[0])
                body = data[start:]
                self.send_response(206 if start else 200)
                self.send_header("Content-Length", str(len(body)))
                if start:
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                self.end_headers()
                if server.cuts:
                    server.cuts -= 1
                    self.wfile.write(body[: int(len(body) * server.cut_fraction)])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(body)

            def _send(self, code, body, kind):
                self.send_response(code)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def record(self) -> dict:
        entries = [
            {
                "key": key,
                "size": len(data),
                "checksum": self.checksums.get(key, "md5:" + hashlib.md5(data).hexdigest()),
                "links": {"self": f"{self.base}/files/{key}"},
            }
            for key, data in self.files.items()
        ]
        if self.entries_form:  # the newer export form
            return {"files": {"entries": {e["key"]: e for e in entries}}}
        return {"files": entries}

    @property
    def record_url(self) -> str:
        return f"{self.base}/api/records/1"

    def downloads(self) -> list[str | None]:
        return [rng for path, rng in self.requests if path.startswith("/files/")]

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def served():
    servers = []

    def make(**kwargs):
        files = {ARCHIVE: _task_archive(SPEC.folder), "LICENSE.txt": b"licences"}
        servers.append(_Server(files, **kwargs))
        return servers[-1]

    yield make
    for s in servers:
        s.close()


def _fetch(server, to: Path, **kwargs):
    return fetch_hear([SPEC], to, server.record_url, quiet=True, log=lambda *_: None, **kwargs)


def test_fetch_downloads_verifies_and_unpacks_into_the_task_layout(served, tmp_path):
    server = served()
    (folder,) = _fetch(server, tmp_path / "hear")
    assert folder == tmp_path / "hear" / SPEC.folder
    assert (folder / "task_metadata.json").is_file() and len(list((folder / "48000").glob("fold*/x.wav"))) == 7
    assert not (tmp_path / "hear" / ".downloads" / ARCHIVE).exists()  # the archive goes once unpacked
    assert server.downloads() == [None]
    _fetch(server, tmp_path / "hear")  # already there: no request at all
    assert len(server.requests) == 2  # the record and the one download


def test_fetch_reads_the_newer_record_form_too(served, tmp_path):
    server = served(entries_form=True)
    (folder,) = _fetch(server, tmp_path / "hear", keep_archives=True)
    assert (folder / "labelvocabulary.csv").is_file()
    assert (tmp_path / "hear" / ".downloads" / ARCHIVE).is_file()


def test_fetch_resumes_a_partial_download_with_a_range_request(served, tmp_path):
    server = served()
    data = server.files[ARCHIVE]
    part = tmp_path / "hear" / ".downloads" / f"{ARCHIVE}.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(data[: len(data) // 2])  # a killed earlier run
    _fetch(server, tmp_path / "hear")
    assert server.downloads() == [f"bytes={len(data) // 2}-"]
    assert (tmp_path / "hear" / SPEC.folder / "48000" / "fold06" / "x.wav").is_file()


def test_a_cut_connection_is_resumed_where_it_stopped(served, tmp_path):
    server = served()
    server.cuts = 1
    _fetch(server, tmp_path / "hear")
    ranges = server.downloads()
    assert ranges[0] is None and ranges[1].startswith("bytes=") and int(ranges[1][6:-1]) > 0
    assert (tmp_path / "hear" / SPEC.folder / "task_metadata.json").is_file()


def test_a_download_cut_every_time_stops_with_one_line_and_resumes_on_the_next_run(served, tmp_path):
    server = served()
    server.cuts = 2
    with pytest.raises(
        DatasetError, match=r"download stopped at \d+ of \d+ bytes after 2 tries.*run the command again"
    ):
        _fetch(server, tmp_path / "hear", tries=2)
    part = tmp_path / "hear" / ".downloads" / f"{ARCHIVE}.part"
    kept = part.stat().st_size
    assert 0 < kept < len(server.files[ARCHIVE])
    _fetch(server, tmp_path / "hear")
    assert server.downloads()[-1] == f"bytes={kept}-"
    assert (tmp_path / "hear" / SPEC.folder / "task_metadata.json").is_file()


def test_a_wrong_checksum_fails_removes_the_file_and_unpacks_nothing(served, tmp_path):
    server = served(checksums={ARCHIVE: "md5:" + "0" * 32})
    with pytest.raises(DatasetError, match=r"md5 [0-9a-f]{32} does not match the record's 0{32}"):
        _fetch(server, tmp_path / "hear")
    assert not (tmp_path / "hear" / SPEC.folder).exists()
    assert not list((tmp_path / "hear" / ".downloads").iterdir())


def test_a_task_missing_from_the_record_is_named_before_any_download(served, tmp_path):
    server = served()
    del server.files[ARCHIVE]
    with pytest.raises(DatasetError, match=f"has no {ARCHIVE} for task gunshot_triangulation"):
        _fetch(server, tmp_path / "hear")
    assert server.downloads() == []


def test_the_cli_fetches_with_an_overridden_record_url(served, tmp_path, capsys):
    server = served()
    code = cli_main(
        [
            "data",
            "fetch",
            "hear",
            "--tasks",
            "Gun",
            "--to",
            str(tmp_path / "d"),
            "--record-url",
            server.record_url,
            "--quiet",
        ]
    )
    assert code == 0, capsys.readouterr()
    assert (tmp_path / "d" / SPEC.folder / "task_metadata.json").is_file()
