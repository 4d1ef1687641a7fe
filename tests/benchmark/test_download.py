"""Manifests, local checks and verified downloads, against an HTTP server on 127.0.0.1."""
import hashlib
import json
import subprocess
import sys
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from benchmark.download import (BAD, MISSING, PRESENT, RemoteFile, check, download, load_manifest,
                                source_url)
from benchmark.errors import ConfigError, DownloadError

REPO = Path(__file__).resolve().parents[2]
SHARED_DATA = REPO.parent / "shared" / "data"
MANIFESTS = sorted((REPO / "plugins" / "datasets" / "manifests").glob("*.json"))
PICK = ["official/EPIC_many_shot_verbs.csv", "official/EPIC_many_shot_nouns.csv",
        "rulstm/training_videos.csv", "rulstm/validation_videos.csv"]


@contextmanager
def serve(root: Path, cut: str | None = None):
    """Serve ``root`` on 127.0.0.1 (free port) in a thread; yield (base URL, request paths).

    A path ending with ``cut`` announces its full length but sends 10 bytes and hangs up."""
    requests: list[str] = []

    class Handler(SimpleHTTPRequestHandler):
        timeout = 10

        def copyfile(self, source, outputfile):
            if cut and self.path.endswith(cut):
                outputfile.write(source.read(10))
                self.close_connection = True
                return
            super().copyfile(source, outputfile)

        def log_request(self, code="-", size="-"):
            requests.append(self.path)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", requests
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def real_or_stand_in(rel: str) -> bytes:
    src = SHARED_DATA / "epic55" / rel
    return src.read_bytes() if src.is_file() else f"stand-in for {rel}\n".encode() * 50


@dataclass
class Mirror:
    url: str
    root: Path  # served copy of <dataset>/
    files: list[RemoteFile]
    requests: list[str]

    def corrupt(self, rel: str) -> None:
        path = self.root / rel
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0xFF
        path.write_bytes(bytes(data))


@pytest.fixture(autouse=True)
def no_proxy_no_mirror_env(monkeypatch):
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.delenv("BENCH_DATA_BASE_URL", raising=False)


@pytest.fixture
def mirror(tmp_path):
    """A served copy of a few epic55 files (real ones when /work/shared/data has them)."""
    root = tmp_path / "mirror" / "epic55"
    files = []
    for rel in PICK:
        data = real_or_stand_in(rel)
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
        files.append(RemoteFile(rel, f"https://origin.invalid/{rel}", hashlib.sha256(data).hexdigest(), len(data)))
    with serve(tmp_path / "mirror") as (url, requests):
        yield Mirror(url, root, files, requests)


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.is_file() and p.name.startswith("."))


def test_download_fetches_every_file_and_a_second_call_nothing(mirror, tmp_path):
    dest = tmp_path / "data"
    assert {s.state for s in check(dest, "epic55", mirror.files)} == {MISSING}
    summary = download(dest, "epic55", mirror.files, base_url=mirror.url, progress=False)
    assert [f.path for f in summary.downloaded] == PICK and not summary.already_present
    assert summary.bytes == sum(f.bytes for f in mirror.files)
    for rel in PICK:
        assert (dest / "epic55" / rel).read_bytes() == (mirror.root / rel).read_bytes()
    assert {s.state for s in check(dest, "epic55", mirror.files)} == {PRESENT}
    served = len(mirror.requests)
    again = download(dest, "epic55", mirror.files, base_url=mirror.url, progress=False)
    assert not again.downloaded and len(again.already_present) == len(PICK)
    assert len(mirror.requests) == served and leftovers(dest) == []


def test_manifest_urls_are_used_without_a_base_url_and_env_sets_one(mirror, tmp_path, monkeypatch):
    direct = [RemoteFile(f.path, f"{mirror.url}/epic55/{f.path}", f.sha256, f.bytes) for f in mirror.files[:1]]
    assert len(download(tmp_path / "a", "epic55", direct, progress=False).downloaded) == 1
    monkeypatch.setenv("BENCH_DATA_BASE_URL", mirror.url + "/")
    assert len(download(tmp_path / "b", "epic55", mirror.files, progress=False).downloaded) == len(PICK)
    assert source_url(mirror.files[0], "epic55", "http://m/x/") == f"http://m/x/epic55/{PICK[0]}"


def test_corrupted_file_fails_cleanly_and_the_others_arrive(mirror, tmp_path):
    bad = PICK[1]
    mirror.corrupt(bad)
    dest = tmp_path / "data"
    with pytest.raises(DownloadError) as err:
        download(dest, "epic55", mirror.files, base_url=mirror.url, progress=False)
    msg = str(err.value)
    expected = next(f.sha256 for f in mirror.files if f.path == bad)
    actual = hashlib.sha256((mirror.root / bad).read_bytes()).hexdigest()
    assert "\n" not in msg and bad in msg and expected in msg and actual in msg
    assert not (dest / "epic55" / bad).exists() and leftovers(dest) == []
    states = {s.file.path: s.state for s in check(dest, "epic55", mirror.files)}
    assert states == {p: MISSING if p == bad else PRESENT for p in PICK}


def test_bad_download_keeps_the_previous_copy(mirror, tmp_path):
    bad = PICK[0]
    dest = tmp_path / "data"
    download(dest, "epic55", mirror.files, base_url=mirror.url, progress=False)
    good = (dest / "epic55" / bad).read_bytes()
    mirror.corrupt(bad)
    # a good copy is never fetched again
    assert not download(dest, "epic55", mirror.files, base_url=mirror.url, progress=False).downloaded
    # an outdated copy (other content) stays as it is when its replacement fails the check
    (dest / "epic55" / bad).write_bytes(b"older version\n")
    with pytest.raises(DownloadError, match="checksum mismatch"):
        download(dest, "epic55", mirror.files, base_url=mirror.url, progress=False)
    assert (dest / "epic55" / bad).read_bytes() == b"older version\n" and leftovers(dest) == []
    assert good != b"older version\n"


def test_oversized_response_names_its_sha256_and_leaves_nothing(mirror, tmp_path):
    f = mirror.files[0]
    served = (mirror.root / f.path).read_bytes() * 100
    (mirror.root / f.path).write_bytes(served)
    actual = hashlib.sha256(served).hexdigest()
    with pytest.raises(DownloadError, match=f"expected sha256 {f.sha256} .* got {actual} \\({len(served)} bytes"):
        download(tmp_path / "data", "epic55", [f], base_url=mirror.url, progress=False)
    assert not (tmp_path / "data" / "epic55" / f.path).exists() and leftovers(tmp_path / "data") == []


def test_connection_lost_midway_leaves_nothing(tmp_path):
    src = tmp_path / "mirror" / "d" / "a.csv"
    src.parent.mkdir(parents=True)
    src.write_bytes(b"0123456789" * 100)
    f = RemoteFile("a.csv", "https://origin.invalid/a.csv", hashlib.sha256(src.read_bytes()).hexdigest(), 1000)
    with serve(tmp_path / "mirror", cut="a.csv") as (url, _):
        with pytest.raises(DownloadError, match=f"a.csv: connection to {url}/d/a.csv closed after 10 of 1000 bytes"):
            download(tmp_path / "data", "d", [f], base_url=url, progress=False)
    assert not (tmp_path / "data" / "d" / "a.csv").exists() and leftovers(tmp_path / "data") == []


def test_404_names_the_url(mirror, tmp_path):
    (mirror.root / PICK[2]).unlink()
    with pytest.raises(DownloadError) as err:
        download(tmp_path / "data", "epic55", mirror.files, base_url=mirror.url, progress=False)
    assert "HTTP 404" in str(err.value) and f"{mirror.url}/epic55/{PICK[2]}" in str(err.value)
    assert not (tmp_path / "data" / "epic55" / PICK[2]).exists() and leftovers(tmp_path / "data") == []


def test_unreachable_server_names_the_url_and_is_tried_once(tmp_path):
    with serve(tmp_path) as (url, _):
        pass  # the port is closed again
    files = [RemoteFile(f"{c}.csv", f"{url}/{c}.csv", "0" * 64, 1) for c in "abc"]
    with pytest.raises(DownloadError) as err:
        download(tmp_path / "data", "d", files, progress=False, timeout=5)
    host = url.removeprefix("http://")
    assert str(err.value).startswith(f"a.csv: cannot fetch {url}/a.csv: ")
    assert f"b.csv: not tried ({host} unreachable); and 1 more failed" in str(err.value)


def test_check_reports_a_bad_checksum(mirror, tmp_path):
    dest = tmp_path / "data"
    download(dest, "epic55", mirror.files, base_url=mirror.url, progress=False)
    (dest / "epic55" / PICK[3]).write_bytes(b"x" * mirror.files[3].bytes)
    assert [s.state for s in check(dest, "epic55", mirror.files)] == [PRESENT] * 3 + [BAD]


@pytest.mark.parametrize("entry, expected", [
    ({"path": "../x", "url": "u", "sha256": "0" * 64, "bytes": 1}, "without '..'"),
    ({"path": "x", "url": "u", "sha256": "abc", "bytes": 1}, "64 hex"),
    ({"path": "x", "url": "u", "sha256": "0" * 64}, "expected {path, url, sha256, bytes}"),
])
def test_bad_manifest_is_a_config_error(tmp_path, entry, expected):
    path = tmp_path / "m.json"
    path.write_text(json.dumps([entry]))
    with pytest.raises(ConfigError, match=expected):
        load_manifest(path)


def test_shipped_manifests_cover_the_datasets():
    assert {p.stem for p in MANIFESTS} >= {"epic55", "epic100", "egtea"}


@pytest.mark.parametrize("manifest", MANIFESTS, ids=lambda p: p.stem)
def test_shipped_manifest_matches_the_shared_data(manifest):
    root = SHARED_DATA / manifest.stem
    if not root.is_dir():
        pytest.skip(f"{root} absent")
    files = load_manifest(manifest)
    assert [s.file.path for s in check(SHARED_DATA, manifest.stem, files) if not s.ok] == []
    on_disk = {p.relative_to(root).as_posix() for d in ("official", "rulstm") for p in (root / d).rglob("*")
               if p.is_file()}
    assert {f.path for f in files} == on_disk
    for f in files:
        assert f.url.startswith("https://raw.githubusercontent.com/")
        owner, repo, commit, *rest = f.url.removeprefix("https://raw.githubusercontent.com/").split("/")
        assert len(commit) == 40 and rest[-1] == Path(f.path).name


def test_make_manifests_reproduces_the_shipped_ones(tmp_path):
    if not all((SHARED_DATA / p.stem).is_dir() for p in MANIFESTS):
        pytest.skip(f"{SHARED_DATA} absent")
    res = subprocess.run([sys.executable, REPO / "scripts" / "make_manifests.py", "--data-dir", SHARED_DATA,
                          "--out", tmp_path, *(p.stem for p in MANIFESTS)], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    for p in MANIFESTS:
        assert (tmp_path / p.name).read_text() == p.read_text()
