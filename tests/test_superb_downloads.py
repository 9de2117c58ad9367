"""The files s3prl's SUPERB recipes download at run time: from the corpus folder, else fetched from a local
HTTP server on 127.0.0.1 (standing in for s3prl's hosts through the URL base) with s3prl's downloader."""

from __future__ import annotations

import contextlib
import functools
import http.server
import inspect
import threading
from pathlib import Path

import pytest

from spear_bench.compat.s3prl import apply_s3prl_compat
from spear_bench.errors import DatasetError
from spear_bench.superb import downloads
from spear_bench.superb.downloads import (
    CORPUS_FILE_URLS,
    IEMOCAP_SPLIT_URL,
    URL_BASE_ENV,
    VOXCELEB1_SPLIT_URL,
    VOXCELEB1_TRIALS_URL,
    cached_path,
    fetch,
    fetched_recipe_files,
    recipe_file,
    source_url,
)
from spear_bench.superb.recipe_files import check_task_files, recipe_files
from spear_bench.superb.recipes import G2P_LEXICON_URLS, recipe_for
from spear_bench.task_registry import load_suite

SERVER_TIMEOUT_S = 10.0


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # keep pytest's output to the test's own
        pass


@contextlib.contextmanager
def local_server(root: Path):
    """An HTTP server on 127.0.0.1 serving ``root`` (``<root>/<host>/<path>``: s3prl's URLs); yields its base URL."""
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.timeout = SERVER_TIMEOUT_S
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(SERVER_TIMEOUT_S)
        assert not thread.is_alive()


OFFLINE_BASE = "http://127.0.0.1:0"  # nothing can listen on port 0: every connection is refused at once


def publish(mirror: Path, url: str, content: bytes) -> Path:
    """Put ``content`` where the local server serves s3prl's ``url``."""
    path = mirror / Path(source_url(url, "http://x").split("http://x/", 1)[1])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SPEAR_BENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv(URL_BASE_ENV, raising=False)
    return tmp_path / "cache"


SPLIT = b"1 id10001/v1/00001.wav\n3 id10270/v1/00001.wav\n"


def test_missing_file_is_fetched_into_the_cache_with_a_progress_bar_and_its_checksum(tmp_path, cache, capfd):
    publish(tmp_path / "mirror", VOXCELEB1_SPLIT_URL, SPLIT)
    corpus_file = tmp_path / "VoxCeleb1" / "iden_split.txt"
    with local_server(tmp_path / "mirror") as base:
        got = recipe_file("SUPERB task sid", corpus_file, url_base=base)
    assert (
        got == cache / "s3prl_files" / "www.robots.ox.ac.uk" / "~vgg" / "data" / "voxceleb" / "meta" / "iden_split.txt"
    )
    assert got.read_bytes() == SPLIT and not corpus_file.exists()
    recorded = (got.parent / "iden_split.txt.sha256").read_text().split()[0]
    assert recorded == downloads.sha256_of(got)
    progress = capfd.readouterr().err
    assert "Downloading: " + base in progress  # s3prl's downloader, its tqdm bar to the last byte:
    assert f"{len(SPLIT)}.0/{len(SPLIT)}.0" in progress
    assert sorted(p.name for p in got.parent.iterdir()) == [
        "iden_split.txt",
        "iden_split.txt.lock",
        "iden_split.txt.sha256",
    ]


def test_cached_file_is_verified_and_used_without_the_network(tmp_path, cache):
    publish(tmp_path / "mirror", VOXCELEB1_TRIALS_URL, b"1 a.wav b.wav\n")
    with local_server(tmp_path / "mirror") as base:
        first = fetch(VOXCELEB1_TRIALS_URL, "SUPERB task sv", tmp_path / "voxceleb1_test_v2.txt", base)
    again = fetch(VOXCELEB1_TRIALS_URL, "SUPERB task sv", tmp_path / "voxceleb1_test_v2.txt", OFFLINE_BASE)
    assert again == first and again.read_bytes() == b"1 a.wav b.wav\n"


def test_changed_cached_file_is_a_one_line_error_naming_it_and_its_url(tmp_path, cache):
    publish(tmp_path / "mirror", VOXCELEB1_TRIALS_URL, b"1 a.wav b.wav\n")
    with local_server(tmp_path / "mirror") as base:
        cached = fetch(VOXCELEB1_TRIALS_URL, "SUPERB task sv", tmp_path / "voxceleb1_test_v2.txt", base)
    cached.write_bytes(b"0 a.wav b.wav\n")
    with pytest.raises(DatasetError) as raised:
        fetch(VOXCELEB1_TRIALS_URL, "SUPERB task sv", tmp_path / "voxceleb1_test_v2.txt", base)
    message = str(raised.value)
    assert "\n" not in message and message.startswith(f"{cached}: its sha256 ")
    assert f"fetched from {VOXCELEB1_TRIALS_URL}; delete it to fetch it again" in message


def test_unreachable_host_is_a_one_line_error_naming_the_url_and_where_to_place_the_file(tmp_path, cache):
    corpus_file = tmp_path / "IEMOCAP_full_release" / "s3prl_iemocap_split" / "Session2" / "test_meta_data.json"
    with pytest.raises(DatasetError) as raised:
        recipe_file("SUPERB task er", corpus_file, url_base=OFFLINE_BASE)
    message = str(raised.value)
    url = f"{OFFLINE_BASE}/huggingface.co/datasets/s3prl/iemocap_split/raw/4097f2b496c41eed016d4e5eb0ada4cccd46d1f3"
    assert "\n" not in message
    assert message.startswith(f"SUPERB task er: {corpus_file} is missing and s3prl's copy could not be fetched")
    assert f"from {url}/Session2/test_meta_data.json (" in message and "refused" in message
    assert message.endswith(f"; place the file at {corpus_file}")
    assert not cached_path(CORPUS_FILE_URLS["s3prl_iemocap_split/Session2/test_meta_data.json"]).exists()


def test_file_missing_on_the_server_is_an_error_not_a_saved_error_page(tmp_path, cache):
    (tmp_path / "mirror").mkdir()
    with local_server(tmp_path / "mirror") as base, pytest.raises(DatasetError, match="HTTP Error 404"):
        fetch(VOXCELEB1_SPLIT_URL, "SUPERB task sid", tmp_path / "iden_split.txt", base)
    left = sorted(p.name for p in cached_path(VOXCELEB1_SPLIT_URL).parent.iterdir())
    assert left == ["iden_split.txt.lock"]  # no file, no checksum, no partial download


def test_corpus_copy_wins_and_nothing_is_fetched(tmp_path, cache):
    corpus_file = tmp_path / "VoxCeleb1" / "iden_split.txt"
    corpus_file.parent.mkdir()
    corpus_file.write_bytes(SPLIT)
    assert recipe_file("SUPERB task sid", corpus_file, url_base=OFFLINE_BASE) == corpus_file
    assert not cache.exists()


def test_url_base_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv(URL_BASE_ENV, "http://127.0.0.1:1/mirror/")
    assert source_url(VOXCELEB1_SPLIT_URL) == (
        "http://127.0.0.1:1/mirror/www.robots.ox.ac.uk/~vgg/data/voxceleb/meta/iden_split.txt"
    )
    monkeypatch.delenv(URL_BASE_ENV)
    assert source_url(VOXCELEB1_SPLIT_URL) == VOXCELEB1_SPLIT_URL


def test_urls_are_the_ones_s3prl_downloads():
    apply_s3prl_compat()
    import s3prl.dataio.corpus.voxceleb1sid as voxceleb1sid
    import s3prl.dataio.corpus.voxceleb1sv as voxceleb1sv
    import s3prl.dataio.encoder.g2p as g2p
    import s3prl.problem.common.superb_er as superb_er

    assert voxceleb1sid.SPLIT_FILE_URL == voxceleb1sv.SPLIT_FILE_URL == VOXCELEB1_SPLIT_URL
    assert voxceleb1sv.TRIAL_FILE_URL == VOXCELEB1_TRIALS_URL
    assert tuple(g2p.DEFAULT_LEXICON_URL) == G2P_LEXICON_URLS
    source = inspect.getsource(superb_er.iemocap_for_superb)
    for split in ("train", "test"):
        assert f'f"{IEMOCAP_SPLIT_URL}/Session{{test_session_id}}/{split}_meta_data.json"' in source


def _iemocap_sessions(data_root: Path) -> Path:
    for n in range(1, 6):
        (data_root / "IEMOCAP_full_release" / f"Session{n}").mkdir(parents=True)
    return data_root


def test_pre_run_check_fetches_the_split_lists_and_the_run_gets_them(tmp_path, cache, monkeypatch):
    spec = load_suite("superb").task("er")
    mirror = tmp_path / "mirror"
    for relative, url in CORPUS_FILE_URLS.items():
        if relative.startswith("s3prl_iemocap_split/"):
            publish(mirror, url, f'{{"meta_data": [], "file": "{relative}"}}'.encode())
    data_root = _iemocap_sessions(tmp_path / "data")
    with local_server(mirror) as base:
        monkeypatch.setenv(URL_BASE_ENV, base)
        check_task_files(spec, data_root)
    monkeypatch.setenv(URL_BASE_ENV, OFFLINE_BASE)  # from here on, only the cache has them
    fold = recipe_for(spec).folds(spec.data_dir(data_root))[2]
    with recipe_files(spec, fold, tmp_path / "run_cache"):
        copied = (tmp_path / "run_cache" / "test_session3_test_metadata.json").read_text()
    assert '"file": "s3prl_iemocap_split/Session3/test_meta_data.json"' in copied


def test_pre_run_check_offline_names_the_first_missing_file(tmp_path, cache, monkeypatch):
    monkeypatch.setenv(URL_BASE_ENV, OFFLINE_BASE)
    data_root = _iemocap_sessions(tmp_path / "data")
    with pytest.raises(DatasetError) as raised:
        check_task_files(load_suite("superb").task("er"), data_root)
    expected = data_root / "IEMOCAP_full_release" / "s3prl_iemocap_split" / "Session1" / "train_meta_data.json"
    assert "\n" not in str(raised.value) and str(raised.value).endswith(f"place the file at {expected}")


def test_pr_lexicons_missing_from_the_corpus_are_fetched_one_file_per_url(tmp_path, cache):
    fold = recipe_for(load_suite("superb").task("pr")).folds(tmp_path / "LibriSpeech")[0]
    for n, url in enumerate(G2P_LEXICON_URLS):
        publish(tmp_path / "mirror", url, f"WORD{n} W ER1 D\n".encode())
    with local_server(tmp_path / "mirror") as base:
        fetched = fetched_recipe_files("SUPERB task pr", fold, base)
    assert list(fetched.local_files) == list(G2P_LEXICON_URLS)
    assert [path.read_text() for path in fetched.local_files.values()] == ["WORD0 W ER1 D\n", "WORD1 W ER1 D\n"]
    assert all(path == cached_path(url) for url, path in fetched.local_files.items())
