"""`bench data download` and `bench data info` in subprocesses, against an HTTP server on 127.0.0.1."""
import hashlib
import json
import os
import shutil
import subprocess
import sys
import threading
from contextlib import contextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
PICK = ["official/EPIC_many_shot_verbs.csv", "rulstm/training_videos.csv", "rulstm/validation_videos.csv"]

# A dataset plugin with its own manifest: videos from the two video lists, two segments each.
PLUGIN = '''
from pathlib import Path

import numpy as np

from benchmark import AnticipationData, ClassSpace, Dataset, Sample, Segment, hookimpl


class Tiny(Dataset):
    name = "{name}"
    manifest_file = Path(__file__).with_name("{name}.json")

    def fingerprint(self, data_dir):
        return "tiny"

    def load(self, data_dir):
        root = Path(data_dir) / self.name
        verbs = (root / "official/EPIC_many_shot_verbs.csv").read_text().splitlines()[1:]
        splits = {{}}
        for split, name in (("train", "training"), ("val", "validation")):
            videos = (root / f"rulstm/{{name}}_videos.csv").read_text().split()
            segs = [Segment(f"{{v}}-{{i}}", v, i, i + 1, 0, 0, 0) for v in videos for i in range(2)]
            splits[split] = [Sample(s.uid, s.video, s, s.start - 1, ()) for s in segs]
        classes = ClassSpace(["a"], verbs, ["n"], np.zeros(1, int), np.zeros(1, int))
        return AnticipationData(self.name, "real", classes, splits, {{}}, 1, 1.0, "tiny")


class Broken(Dataset):
    name = "tiny-broken"
    manifest_file = Path(__file__).with_name("tiny-broken.json")

    def load(self, data_dir):
        raise ValueError("broken on purpose")


@hookimpl
def bench_register_datasets():
    return [Tiny, Broken]
'''


def bench(*args, env=None):
    full_env = {k: v for k, v in os.environ.items() if k != "BENCH_DATA_BASE_URL"}
    full_env.update({"no_proxy": "127.0.0.1,localhost", **(env or {})})
    return subprocess.run([sys.executable, "-m", "benchmark.cli", *map(str, args)], cwd=REPO,
                          capture_output=True, text=True, env=full_env, timeout=120)


@contextmanager
def serve(root: Path):
    """Serve ``root`` on 127.0.0.1 (free port) in a thread; yield its base URL."""

    class Quiet(SimpleHTTPRequestHandler):
        timeout = 10

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Quiet, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def content(rel: str) -> bytes:
    src = SHARED_DATA / "epic55" / rel
    return src.read_bytes() if src.is_file() else b"verb_class,verb\n0,take\n" if "verbs" in rel else b"P01\nP02\n"


def write_plugin(folder: Path, name: str) -> Path:
    """The plugin file and the manifests of ``name`` (PICK) and ``tiny-broken`` (no files)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "tiny.py").write_text(PLUGIN.format(name=name))
    entries = [{"path": rel, "url": f"https://origin.invalid/{rel}", "sha256": hashlib.sha256(content(rel)).hexdigest(),
                "bytes": len(content(rel))} for rel in PICK]
    (folder / f"{name}.json").write_text(json.dumps(entries))
    (folder / "tiny-broken.json").write_text("[]")
    return folder


@pytest.fixture
def mirror(tmp_path):
    """(plugins dir, served folder of dataset tiny-epic, base URL)."""
    served = tmp_path / "mirror" / "tiny-epic"
    for rel in PICK:
        (served / rel).parent.mkdir(parents=True, exist_ok=True)
        (served / rel).write_bytes(content(rel))
    with serve(tmp_path / "mirror") as url:
        yield write_plugin(tmp_path / "plugs", "tiny-epic"), served, url


def expected_table(videos: dict[str, int]) -> list[str]:
    return [f"{split} {n} {2 * n}" for split, n in videos.items()]


def states(out: str) -> dict[str, str]:
    """path -> state, from the file lines of `bench data info`."""
    rows = [line.strip().rsplit(" ", 1) for line in out.splitlines() if line.startswith("  ")]
    return {path: state.strip() for state, path in rows}


def squeeze(text: str) -> str:
    return "\n".join(" ".join(line.split()) for line in text.splitlines())


def test_help_for_data_commands():
    for cmd in (["data"], ["data", "download"], ["data", "info"]):
        res = bench(*cmd, "--help")
        assert res.returncode == 0 and "usage: bench data" in res.stdout
    assert "--base-url" in bench("data", "download", "--help").stdout


def test_download_then_info_then_download_again(mirror, tmp_path):
    plugs, served, url = mirror
    data = tmp_path / "data"
    res = bench("data", "info", "tiny-epic", "--data-dir", data, "--plugins-dir", plugs)
    assert res.returncode == 2 and states(res.stdout) == dict.fromkeys(PICK, "missing")
    assert res.stderr.count("\n") == 1 and "tiny-epic: 3 of 3 annotation files are missing or fail" in res.stderr
    assert "bench data download tiny-epic" in res.stdout and "segments" not in res.stdout
    res = bench("data", "download", "tiny-epic", "--data-dir", data, "--base-url", url, "--plugins-dir", plugs)
    assert res.returncode == 0, res.stderr
    assert "3 files downloaded" in res.stdout and "0 already present" in res.stdout
    assert all((data / "tiny-epic" / rel).read_bytes() == (served / rel).read_bytes() for rel in PICK)
    res = bench("data", "info", "tiny-epic", "--data-dir", data, "--plugins-dir", plugs)
    out = squeeze(res.stdout)
    videos = {s: len((served / f"rulstm/{f}_videos.csv").read_text().split())
              for s, f in (("train", "training"), ("val", "validation"))}
    verbs = len((served / PICK[0]).read_text().splitlines()) - 1
    assert res.returncode == 0 and states(res.stdout) == dict.fromkeys(PICK, "present")
    assert "3 files: 3 present, 0 missing, 0 bad checksum" in out
    assert all(row in out for row in expected_table(videos)) and f"1 actions, {verbs} verbs, 1 nouns" in out
    res = bench("data", "download", "tiny-epic", "--data-dir", data, "--plugins-dir", plugs,
                env={"BENCH_DATA_BASE_URL": url})
    assert res.returncode == 0 and "0 files downloaded" in res.stdout and "3 already present" in res.stdout


def test_corrupted_or_missing_served_file_exits_2_with_one_line(mirror, tmp_path):
    plugs, served, url = mirror
    data = tmp_path / "data"
    (served / PICK[1]).write_bytes(b"tampered\n" + (served / PICK[1]).read_bytes())
    res = bench("data", "download", "tiny-epic", "--data-dir", data, "--base-url", url, "--plugins-dir", plugs)
    assert res.returncode == 2 and res.stderr.startswith("bench: error: ") and res.stderr.count("\n") == 1
    assert "checksum mismatch" in res.stderr and PICK[1] in res.stderr
    assert not (data / "tiny-epic" / PICK[1]).exists() and (data / "tiny-epic" / PICK[0]).exists()
    assert not [p for p in data.rglob(".*")]
    res = bench("data", "info", "tiny-epic", "--data-dir", data, "--plugins-dir", plugs)
    assert res.returncode == 2 and states(res.stdout) == {PICK[0]: "present", PICK[1]: "missing",
                                                          PICK[2]: "present"}
    (data / "tiny-epic" / PICK[0]).write_text("changed locally\n")
    res = bench("data", "info", "tiny-epic", "--data-dir", data, "--plugins-dir", plugs)
    assert states(res.stdout)[PICK[0]] == "bad checksum" and "segments" not in res.stdout and res.returncode == 2
    (served / PICK[2]).unlink()
    (data / "tiny-epic" / PICK[2]).unlink()
    res = bench("data", "download", "tiny-epic", "--data-dir", data, "--base-url", url, "--plugins-dir", plugs)
    assert res.returncode == 2 and res.stderr.count("\n") == 1
    assert "HTTP 404" in res.stderr and f"{url}/tiny-epic/{PICK[2]}" in res.stderr
    assert "checksum mismatch" in res.stderr and (data / "tiny-epic" / PICK[0]).read_bytes() == content(PICK[0])


def test_unknown_generated_and_unloadable_datasets(mirror, tmp_path):
    plugs, _, _ = mirror
    res = bench("data", "download", "tiny-epik", "--plugins-dir", plugs)
    assert res.returncode == 2 and "Did you mean 'tiny-epic'" in res.stderr
    for cmd in ("download", "info"):
        res = bench("data", cmd, "synthetic", "--data-dir", tmp_path / "data")
        assert res.returncode == 0 and "'synthetic' is generated and needs no download" in res.stdout
    assert "classes:" in bench("data", "info", "synthetic").stdout
    res = bench("data", "info", "tiny-broken", "--data-dir", tmp_path / "data", "--plugins-dir", plugs)
    assert res.returncode == 2 and res.stderr == "cannot load tiny-broken: ValueError: broken on purpose\n"
    assert not (tmp_path / "data").exists()


def test_info_on_the_shared_data(tmp_path):
    if not (SHARED_DATA / "epic55").is_dir():
        pytest.skip(f"{SHARED_DATA} absent")
    plugs = write_plugin(tmp_path / "plugs", "epic55")  # stands in for the built-in epic55
    res = bench("data", "info", "epic55", "--data-dir", SHARED_DATA, "--plugins-dir", plugs,
                env={"BENCH_DISABLE_PLUGINS": "datasets"})
    out = squeeze(res.stdout)
    assert res.returncode == 0 and "3 files: 3 present, 0 missing, 0 bad checksum" in out
    assert all(row in out for row in expected_table({"train": 232, "val": 40})) and "26 verbs" in out


def _registered(name: str) -> bool:
    res = bench("plugins", "--json")
    return any(c["kind"] == "dataset" and c["name"] == name for c in json.loads(res.stdout)["components"])


@pytest.mark.parametrize("name", ["epic55", "epic100", "egtea"])
def test_shipped_datasets_download_from_a_mirror_and_load(tmp_path, name):
    if not (SHARED_DATA / name).is_dir() or not _registered(name):
        pytest.skip(f"{SHARED_DATA / name} absent or dataset '{name}' not registered")
    for sub in ("official", "rulstm"):
        shutil.copytree(SHARED_DATA / name / sub, tmp_path / "mirror" / name / sub)
    data = tmp_path / "data"
    with serve(tmp_path / "mirror") as url:
        res = bench("data", "download", name, "--data-dir", data, "--base-url", url)
    assert res.returncode == 0, res.stderr
    res = bench("data", "info", name, "--data-dir", data)
    out = squeeze(res.stdout)
    assert res.returncode == 0 and " 0 missing, 0 bad checksum" in out and "cannot load" not in out
    assert "split videos segments" in out and "classes:" in out


def test_run_fetches_missing_annotations_of_its_datasets_first(mirror, tmp_path):
    plugs, served, url = mirror
    data = tmp_path / "data"
    matrix = tmp_path / "m.yaml"
    matrix.write_text("name: m\nmatrix: {dataset: tiny-epic, student: gru}\ntrain: {epochs: 1}\n")
    common = ["--matrix", matrix, "--data-dir", data, "--plugins-dir", plugs, "--runs-dir", tmp_path / "runs",
              "--leaderboard-dir", tmp_path / "lb", "--no-progress"]
    res = bench("run", *common, "--no-download", env={"BENCH_DATA_BASE_URL": url})
    assert not (data / "tiny-epic").exists()  # told not to: nothing fetched
    res = bench("run", *common, env={"BENCH_DATA_BASE_URL": url})
    assert "3 annotation files of 'tiny-epic' missing" in res.stderr and "downloading" in res.stderr
    assert all((data / "tiny-epic" / rel).read_bytes() == (served / rel).read_bytes() for rel in PICK)
    res = bench("run", *common, "--dry-run", env={"BENCH_DATA_BASE_URL": url})
    assert res.returncode == 0 and "missing" not in res.stderr


def test_info_shows_the_segments_a_policy_drops_and_rejects_a_bad_setting():
    if not (SHARED_DATA / "epic55").is_dir():
        pytest.skip(f"{SHARED_DATA} absent")
    res = bench("data", "info", "epic55", "--data-dir", SHARED_DATA, "--set", "video_start=reference")
    assert res.returncode == 0, res.stderr
    rows = {line.split()[0]: line.split()[1:5] for line in res.stdout.splitlines()
            if line.split()[:1] in (["train"], ["val"])}
    assert rows == {"train": ["232", "23430", "63", "63"], "val": ["40", "4969", "10", "10"]}
    res = bench("data", "info", "epic55", "--data-dir", SHARED_DATA, "--set", "video_start=start")
    assert res.returncode == 2 and "video_start" in res.stderr and len(res.stderr.strip().splitlines()) == 1
    assert "present" not in res.stdout
