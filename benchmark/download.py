"""Annotation files of real datasets: manifests, local checks and verified downloads.

A manifest is a JSON list of ``{"path", "url", "sha256", "bytes"}``; ``path`` is relative to
``<data_dir>/<dataset>/``. A download streams into a temporary file next to its destination,
hashing as it goes, and renames it into place only when size and sha256 match, so a failed or
interrupted download never leaves a partial file nor replaces a file already there.
"""
from __future__ import annotations

import hashlib
import http.client
import json
import os
import re
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, Iterable
from urllib.parse import quote, urlsplit

from tqdm.auto import tqdm

from . import atomic
from .errors import ConfigError, DownloadError

BASE_URL_ENV = "BENCH_DATA_BASE_URL"
DEFAULT_TIMEOUT_S = 60.0
PRESENT, MISSING, BAD = "present", "missing", "bad checksum"
CHUNK = 1 << 16
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")


class Unreachable(DownloadError):
    """The server could not be reached (the other files from that host are not tried)."""


@dataclass(frozen=True)
class RemoteFile:
    """One file of a dataset: where it goes, where it comes from, what it must hash to."""

    path: str
    url: str
    sha256: str
    bytes: int


@dataclass(frozen=True)
class FileStatus:
    """A manifest entry and the state of its local copy: present, missing or bad checksum."""

    file: RemoteFile
    local: Path
    state: str

    @property
    def ok(self) -> bool:
        return self.state == PRESENT


@dataclass
class DownloadSummary:
    """What :func:`download` did: files fetched, files already present, bytes fetched."""

    downloaded: list[RemoteFile] = field(default_factory=list)
    already_present: list[RemoteFile] = field(default_factory=list)

    @property
    def bytes(self) -> int:
        return sum(f.bytes for f in self.downloaded)


# ----------------------------------------------------------------------------- manifests


def _entry(item: object, where: str) -> RemoteFile:
    if not isinstance(item, dict) or set(item) != {"path", "url", "sha256", "bytes"}:
        raise ConfigError(f"{where}: expected {{path, url, sha256, bytes}}, got {item!r}")
    path = PurePosixPath(str(item["path"]))
    if path.is_absolute() or ".." in path.parts or not path.parts:
        raise ConfigError(f"{where}: path {item['path']!r} must be relative, without '..'")
    sha256 = str(item["sha256"]).lower()
    if not SHA256_RE.match(sha256):
        raise ConfigError(f"{where}: {item['path']}: sha256 must be 64 hex digits")
    if not isinstance(item["bytes"], int) or item["bytes"] < 0:
        raise ConfigError(f"{where}: {item['path']}: bytes must be a non-negative integer")
    return RemoteFile(path.as_posix(), str(item["url"]), sha256, item["bytes"])


def load_manifest(path: str | Path) -> list[RemoteFile]:
    """Read and validate a manifest file."""
    try:
        items = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: cannot read manifest: {exc}") from exc
    if not isinstance(items, list):
        raise ConfigError(f"{path}: a manifest is a JSON list")
    return [_entry(item, str(path)) for item in items]


# ----------------------------------------------------------------------------- local checks


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def local_path(data_dir: Path, dataset_name: str, file: RemoteFile) -> Path:
    return Path(data_dir) / dataset_name / file.path


def _state(local: Path, file: RemoteFile) -> str:
    if not local.is_file():
        return MISSING
    if local.stat().st_size != file.bytes or sha256_of(local) != file.sha256:
        return BAD
    return PRESENT


def check(data_dir: Path, dataset_name: str, files: Iterable[RemoteFile]) -> list[FileStatus]:
    """The state of every file of a manifest under ``<data_dir>/<dataset_name>/``."""
    out = []
    for f in files:
        local = local_path(data_dir, dataset_name, f)
        out.append(FileStatus(f, local, _state(local, f)))
    return out


# ----------------------------------------------------------------------------- downloads


def source_url(file: RemoteFile, dataset_name: str, base_url: str | None) -> str:
    """The manifest URL, or ``<base_url>/<dataset>/<path>`` for a mirror."""
    if not base_url:
        return file.url
    return f"{base_url.rstrip('/')}/{quote(dataset_name)}/{quote(file.path)}"


def _copy_hashing(response: IO[bytes], out: IO[bytes], limit: int, bar: tqdm) -> tuple[str, int, bool]:
    """Write at most ``limit`` bytes; return the sha256 and size of what was read.

    Beyond ``limit`` the response is only hashed, up to ``2 * limit + 1 MiB`` (a larger one
    reports the sha256 of that prefix), so a wrong file still names its actual checksum. The
    flag tells whether the end of the response was reached.
    """
    digest, size, cap = hashlib.sha256(), 0, 2 * limit + (1 << 20)
    while size <= cap:
        chunk = response.read(CHUNK)
        if not chunk:
            return digest.hexdigest(), size, True
        digest.update(chunk)
        if size < limit:
            out.write(chunk[: limit - size])
        size += len(chunk)
        bar.update(len(chunk))
    return digest.hexdigest(), size, False


def _fetch_to(url: str, out: IO[bytes], file: RemoteFile, timeout: float, bar: tqdm) -> tuple[str, int]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            sha256, size, at_end = _copy_hashing(response, out, file.bytes, bar)
            left = getattr(response, "length", None)  # bytes announced by Content-Length, not received
            if at_end and left:
                raise DownloadError(f"{file.path}: connection to {url} closed after {size} of {size + left} bytes")
            return sha256, size
    except urllib.error.HTTPError as exc:
        raise DownloadError(f"{file.path}: HTTP {exc.code} {exc.reason} for {url}") from exc
    except urllib.error.URLError as exc:
        raise Unreachable(f"{file.path}: cannot fetch {url}: {exc.reason}") from exc
    except ValueError as exc:  # not a URL
        raise DownloadError(f"{file.path}: cannot fetch {url!r}: {exc}") from exc
    except (OSError, http.client.HTTPException) as exc:  # timeouts, broken connections
        raise DownloadError(f"{file.path}: cannot fetch {url}: {type(exc).__name__}: {exc}") from exc


def fetch(file: RemoteFile, url: str, dest: Path, timeout: float = DEFAULT_TIMEOUT_S, bar: tqdm | None = None) -> None:
    """Download ``url`` to ``dest`` if it has the size and sha256 of ``file``; else raise
    :class:`DownloadError` and leave ``dest`` (present or not) as it was."""
    bar = bar if bar is not None else tqdm(disable=True)
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DownloadError(f"{file.path}: cannot write to {dest.parent}: {exc.strerror or exc}") from exc
    with atomic.open_atomic(dest, suffix=".part") as out:
        sha256, size = _fetch_to(url, out, file, timeout, bar)
        if size != file.bytes or sha256 != file.sha256:
            raise DownloadError(f"{file.path}: checksum mismatch for {url}: expected sha256 "
                                f"{file.sha256} ({file.bytes} bytes), got {sha256} ({size} bytes)")


def _one_line(errors: list[str], shown: int = 2) -> str:
    text = "; ".join(errors[:shown])
    if len(errors) > shown:
        text += f"; and {len(errors) - shown} more failed"
    return text


def download(data_dir: Path, dataset_name: str, files: Iterable[RemoteFile], base_url: str | None = None,
             progress: bool = True, timeout: float = DEFAULT_TIMEOUT_S) -> DownloadSummary:
    """Fetch every file that is missing or has a bad checksum; files already correct are kept.

    ``base_url`` (default ``$BENCH_DATA_BASE_URL``) fetches from ``<base_url>/<dataset>/<path>``
    instead of the manifest URLs. Every file is tried, except those from a host that could not
    be reached; if any fails, one :class:`DownloadError` names the failures after the others
    are in place.
    """
    base_url = base_url or os.environ.get(BASE_URL_ENV) or None
    summary, errors, unreachable = DownloadSummary(), [], set()
    todo = []
    for status in check(data_dir, dataset_name, files):
        (summary.already_present if status.ok else todo).append(status)
    total = sum(s.file.bytes for s in todo)
    with tqdm(total=total, unit="B", unit_scale=True, desc=dataset_name, disable=None if progress else True) as bar:
        for status in todo:
            url = source_url(status.file, dataset_name, base_url)
            host = urlsplit(url).netloc
            if host in unreachable:
                errors.append(f"{status.file.path}: not tried ({host} unreachable)")
                continue
            try:
                fetch(status.file, url, status.local, timeout, bar)
                summary.downloaded.append(status.file)
            except Unreachable as exc:
                unreachable.add(host)
                errors.append(str(exc))
            except DownloadError as exc:
                errors.append(str(exc))
    if errors:
        raise DownloadError(_one_line(errors))
    return summary
