"""Regenerate ``plugins/datasets/manifests/<dataset>.json`` from a local copy of the annotations.

Each dataset folder holds a ``SOURCE.md`` whose sections (``## `official/` — ...``) name a GitHub
repository and a commit, followed by a table ``| local file | source path | git blob | bytes |
sha256[:16] |``. Every file under ``official/`` and ``rulstm/`` must be listed there; its size,
git blob id and sha256 prefix are checked against the local copy before the manifest is written.

    python scripts/make_manifests.py --data-dir /path/to/data [epic55 epic100 egtea]
"""
from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

REPO = Path(__file__).resolve().parents[1]
OUT_DIR = REPO / "plugins" / "datasets" / "manifests"
DATASETS = ("epic55", "epic100", "egtea")
SUBDIRS = ("official", "rulstm")
RAW = "https://raw.githubusercontent.com"

GITHUB_RE = re.compile(r"https://github\.com/([\w.-]+/[\w.-]+?)(?:\.git)?(?=[\s/),]|$)")
COMMIT_RE = re.compile(r"\b[0-9a-f]{40}\b")
#: "Raw URL pattern: https://raw.githubusercontent.com/<repo>/<commit>/SOME/FOLDER/<file>"
PATTERN_RE = re.compile(r"/<commit>/([^\s`]*)<file>")


@dataclass(frozen=True)
class SourceRow:
    local: str
    source: str
    blob: str
    size: int
    sha256_prefix: str
    repo: str
    commit: str


def _cells(line: str) -> list[str]:
    return [c.strip().strip("`") for c in line.strip().strip("|").split("|")]


def parse_source(text: str, where: str) -> list[SourceRow]:
    """Table rows of SOURCE.md, each with the repository and commit of its section.

    A section's repository and commit are the first GitHub URL and the first 40-hex id in it.
    Its table is read by header: ``local file``, ``git blob``, ``bytes``, a ``sha256`` or
    ``sha256[:16]`` column, and either a ``source path`` column or, in the section, a
    ``Raw URL pattern`` whose folder is put before each file's name.
    """
    rows: list[SourceRow] = []
    for section in re.split(r"^## ", text, flags=re.M)[1:]:
        lines = section.splitlines()
        start = next((i for i, line in enumerate(lines) if line.startswith("| local file")), None)
        if start is None:
            continue
        header = _cells(lines[start])
        repo, commit = GITHUB_RE.search(section), COMMIT_RE.search(section)
        if not repo or not commit:
            raise SystemExit(f"{where}: section '{lines[0]}' names no repository or commit")
        pattern = PATTERN_RE.search(section)
        sha_col = next(h for h in header if h.startswith("sha256"))
        for line in lines[start + 2:]:
            if not line.startswith("|"):
                break
            row = dict(zip(header, _cells(line)))
            local = row["local file"]
            if "source path" in row:
                source = row["source path"]
            elif pattern:
                source = pattern[1] + Path(local).name
            else:
                raise SystemExit(f"{where}: section '{lines[0]}' has no source path column and no Raw URL pattern")
            rows.append(SourceRow(local, source, row["git blob"], int(row["bytes"].replace(",", "")), row[sha_col],
                                  repo[1], commit[0]))
    return rows


def digests(path: Path) -> tuple[str, str, int]:
    """sha256, git blob id and size of a file."""
    data = path.read_bytes()
    blob = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
    return hashlib.sha256(data).hexdigest(), blob, len(data)


def local_files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for d in SUBDIRS for p in (root / d).rglob("*") if p.is_file())


def manifest(root: Path) -> list[dict]:
    """Manifest entries of one dataset folder, checked against its SOURCE.md."""
    where = str(root / "SOURCE.md")
    rows = {r.local: r for r in parse_source((root / "SOURCE.md").read_text(encoding="utf-8"), where)}
    files = local_files(root)
    unlisted = sorted(set(files) - set(rows))
    absent = sorted(set(rows) - set(files))
    if unlisted or absent:
        raise SystemExit(f"{where}: not in SOURCE.md: {unlisted}; listed but absent: {absent}")
    entries = []
    for path in files:
        row = rows[path]
        sha256, blob, size = digests(root / path)
        if size != row.size or not sha256.startswith(row.sha256_prefix) or not blob.startswith(row.blob):
            raise SystemExit(f"{root / path}: size/sha256/git blob ({size}, {sha256[:16]}, {blob[:12]}) "
                             f"differ from SOURCE.md ({row.size}, {row.sha256_prefix}, {row.blob})")
        url = f"{RAW}/{row.repo}/{row.commit}/{quote(row.source)}"
        entries.append({"path": path, "url": url, "sha256": sha256, "bytes": size})
    return entries


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True, help="folder with <dataset>/SOURCE.md")
    parser.add_argument("--out", type=Path, default=OUT_DIR, help=f"default: {OUT_DIR.relative_to(REPO)}")
    parser.add_argument("datasets", nargs="*", default=list(DATASETS))
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for name in args.datasets:
        entries = manifest(args.data_dir / name)
        target = args.out / f"{name}.json"
        target.write_text(json.dumps(entries, indent=2) + "\n", encoding="utf-8")
        print(f"{target}: {len(entries)} files, {sum(e['bytes'] for e in entries):,} bytes", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
