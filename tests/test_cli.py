"""The `bench` command end to end, in subprocesses, as a user runs it."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

FILES = Path(__file__).parent / "plugin_files"
FAST = ["--set", "train.epochs=2", "--no-progress"]


def bench(*args, cwd=None, env=None):
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "benchmark.cli", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, env=full_env, timeout=600)


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    d = tmp_path_factory.mktemp("smoke")
    res = bench("run", "--matrix", "smoke", "--runs-dir", d / "runs", "--leaderboard-dir", d / "lb", *FAST)
    return d, res


def test_smoke_matrix_end_to_end(smoke):
    d, res = smoke
    assert res.returncode == 0, res.stderr
    assert "6 cells, 6 to run" in res.stderr and "done: 6 ran ok, 0 failed" in res.stderr
    md = (d / "lb" / "smoke.md").read_text()
    assert "| this suite | synthetic | gru" in md and "seq-gru" in md and "rel. gain" in md
    assert (d / "lb" / "smoke.csv").exists()


def test_second_run_executes_nothing_and_deleted_record_reruns_once(smoke):
    d, _ = smoke
    res = bench("run", "--matrix", "smoke", "--runs-dir", d / "runs", "--leaderboard-dir", d / "lb", *FAST)
    assert res.returncode == 0 and "0 to run, 6 already recorded" in res.stderr
    records = sorted((d / "runs").glob("*/record.json"))
    assert len(records) == 6
    records[2].unlink()
    res = bench("run", "--matrix", "smoke", "--runs-dir", d / "runs", "--leaderboard-dir", d / "lb", *FAST)
    assert "1 to run, 5 already recorded" in res.stderr and "done: 1 ran ok" in res.stderr


def test_dry_run_lists_every_cell_with_id_and_status(smoke):
    d, _ = smoke
    res = bench("run", "--matrix", "smoke", "--runs-dir", d / "runs", "--dry-run", *FAST)
    assert res.returncode == 0
    lines = [line for line in res.stdout.splitlines() if " ok " in f" {line} "]
    assert len(lines) == 6 and "6 cells: 6 ok, 0 failed, 0 pending" in res.stdout


def test_leaderboard_command_rebuilds_from_records(smoke, tmp_path):
    d, _ = smoke
    res = bench("leaderboard", "--runs-dir", d / "runs", "--matrix", "smoke", "--set", "train.epochs=2",
                "--out", tmp_path)
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "smoke.md").read_text().count("| this suite |") == 3


def test_folder_teacher_plugin_is_listed_and_runs(tmp_path):
    plugs = tmp_path / "plugs"
    plugs.mkdir()
    shutil.copy(FILES / "majority_teacher.py", plugs)
    res = bench("plugins", "--json", "--plugins-dir", plugs)
    comps = json.loads(res.stdout)["components"]
    assert {"kind": "teacher", "name": "bigram-file", "plugin": "majority_teacher"}.items() <= next(
        c for c in comps if c["name"] == "bigram-file").items()
    matrix = tmp_path / "m.yaml"
    matrix.write_text(
        "name: mine\nmatrix: {dataset: synthetic, teacher: [none, bigram-file], student: gru, loss: [none, kl]}\n"
        "train: {epochs: 1}\ncomponents: {dataset: {synthetic: {train_videos: 10, val_videos: 4}}}\n"
    )
    res = bench("run", "--matrix", matrix, "--runs-dir", tmp_path / "runs", "--leaderboard-dir", tmp_path / "lb",
                "--no-progress", env={"BENCH_PLUGINS_DIR": str(plugs)})
    assert res.returncode == 0, res.stderr
    assert "bigram-file" in (tmp_path / "lb" / "mine.md").read_text()


def test_plugin_raising_on_import_does_not_break_bench_plugins(tmp_path):
    plugs = tmp_path / "plugs"
    plugs.mkdir()
    shutil.copy(FILES / "broken_on_import.py", plugs)
    res = bench("plugins", "--plugins-dir", plugs)
    assert res.returncode == 0 and "seq-gru" in res.stdout
    assert "skipping plugin 'broken_on_import'" in res.stderr and "broken on purpose" in res.stderr
    res = bench("plugins", "--plugins-dir", plugs, env={"BENCH_RAISE_PLUGIN_ERRORS": "1"})
    assert res.returncode == 2 and "broken_on_import" in res.stderr


@pytest.mark.parametrize("content, expected", [
    ("matrix:\n  dataset: [synthetic\n", "invalid YAML"),
    ("matrix: {dataset: synthetic, student: gru, teacher: bert-bas}\n", "unknown teacher 'bert-bas'"),
    ("matrix: {dataset: synthetic, student: gru}\ntrain: {epochs: many}\n", "train.epochs: expected int"),
])
def test_bad_input_exits_2_with_one_line_and_writes_nothing(tmp_path, content, expected):
    matrix = tmp_path / "bad.yaml"
    matrix.write_text(content)
    for cmd in (["validate"], ["run", "--runs-dir", tmp_path / "runs", "--leaderboard-dir", tmp_path / "lb"]):
        res = bench(*cmd, "--matrix", matrix)
        assert res.returncode == 2, res.stderr
        assert res.stderr.count("\n") == 1 and expected in res.stderr and str(matrix) in res.stderr
    assert not (tmp_path / "runs").exists() and not (tmp_path / "lb").exists()


def test_unknown_matrix_name_and_validate(tmp_path):
    res = bench("run", "--matrix", "smok")
    assert res.returncode == 2 and "Did you mean 'smoke'" in res.stderr
    res = bench("validate", "--matrix", "smoke")
    assert res.returncode == 0 and "6 cells valid" in res.stdout


def test_failed_cell_gives_exit_1_and_is_recorded(tmp_path):
    plugs = tmp_path / "plugs"
    plugs.mkdir()
    shutil.copy(FILES / "nan_student.py", plugs)
    matrix = tmp_path / "m.yaml"
    matrix.write_text("matrix: {dataset: synthetic, student: [nan-student, gru]}\ntrain: {epochs: 1}\n"
                      "components: {dataset: {synthetic: {train_videos: 6, val_videos: 2}}}\n")
    res = bench("run", "--matrix", matrix, "--plugins-dir", plugs, "--runs-dir", tmp_path / "runs",
                "--leaderboard-dir", tmp_path / "lb", "--no-progress")
    assert res.returncode == 1 and "1 ran ok, 1 failed" in res.stderr
    assert "NonFiniteLoss" in (tmp_path / "lb" / "m.md").read_text()


def test_help_for_every_command():
    for cmd in ("run", "validate", "plugins", "leaderboard", "data"):
        res = bench(cmd, "--help")
        assert res.returncode == 0 and "usage: bench" in res.stdout


def test_baselines_command_writes_every_table_with_citations(tmp_path):
    res = bench("baselines", "--out", tmp_path)
    assert res.returncode == 0, res.stderr
    written = {p.name for p in tmp_path.iterdir()}
    assert {"ghosh2023-egtea.md", "avt2021.md", "rulstm2019.md", "dcr2022.md", "ghosh2023-epic55-teachers.md"} <= written
    egtea = (tmp_path / "ghosh2023-egtea.md").read_text()
    assert "45.50" in egtea and "Findings of EACL 2023" in egtea
    assert "†" in (tmp_path / "rulstm2019.md").read_text()  # uncertain numbers are marked


def test_committed_baseline_tables_are_current(tmp_path):
    res = bench("baselines", "--out", tmp_path)
    committed = Path(__file__).resolve().parents[1] / "leaderboards" / "baselines"
    for path in tmp_path.iterdir():
        assert (committed / path.name).read_text() == path.read_text().replace(str(tmp_path), "leaderboards/baselines")


def test_teachers_command_writes_a_teacher_only_leaderboard(tmp_path):
    matrix = tmp_path / "t.yaml"
    matrix.write_text("name: t\nmatrix: {dataset: synthetic, teacher: [none, ngram, seq-gru], student: gru, loss: kl}\n"
                      "components: {dataset: {synthetic: {train_videos: 10, val_videos: 4}}}\n")
    res = bench("teachers", "--matrix", matrix, "--runs-dir", tmp_path / "runs", "--leaderboard-dir", tmp_path / "lb")
    assert res.returncode == 0, res.stderr
    md = (tmp_path / "lb" / "t-teachers.md").read_text()
    assert "| text-only | ngram" in md and "| text-only | seq-gru" in md and "fit " in md
    assert "BERT-base teacher" not in md  # the paper's EPIC table is filtered out for other datasets
    res = bench("teachers", "--matrix", matrix, "--runs-dir", tmp_path / "runs", "--leaderboard-dir", tmp_path / "lb")
    assert res.stderr.count("reused") == 2
    show = bench("teachers", "--matrix", matrix, "--runs-dir", tmp_path / "runs", "--show")
    assert show.returncode == 0, show.stderr
    header, _, *rows = show.stdout.splitlines()
    assert "corpus (fingerprint)" in header and "stage-A steps" in header and "cache key" in header
    assert len(rows) == 2 and all(" none " in row for row in rows)  # ngram and seq-gru: no corpus


@pytest.mark.skipif(not os.environ.get("BENCH_DATA_DIR"), reason="needs the real annotation files")
def test_paper_profile_validates_offline_without_features(tmp_path):
    env = {"BENCH_FEATURES_DIR": str(tmp_path / "no-features"), "HF_HUB_OFFLINE": "1"}
    res = bench("validate", "--profile", "paper", env=env)
    assert res.returncode == 0, res.stderr
    assert "cells valid" in res.stdout and "is not available here" in res.stdout
    dry = bench("run", "--profile", "paper", "--dry-run", "--runs-dir", tmp_path / "runs", env=env)
    assert dry.returncode == 0, dry.stderr
    assert "avt-epic55" in dry.stdout and "rulstm-paper" in dry.stdout and "distilbert" in dry.stdout
    assert "avt-b" in dry.stdout and "avt-h-tsn" in dry.stdout and "123 cells" in dry.stdout
    cfg = bench("validate", "--profile", "paper", "--print-config", "--json", env=env)
    assert cfg.returncode == 0, cfg.stderr
    cells = json.loads(cfg.stdout)
    avt_b = next(c for c in cells if c["components"]["student"]["alias"] == "avt-b")
    # AVT expts/12_egtea_avt.txt: SGD Nesterov, lr 5e-4 per process x world size, wd 1e-6, batch 3
    # per GPU, 10 epochs with 5 of warm-up then cosine; raw frames; fp32
    assert {k: avt_b["train"][k] for k in ("optimizer", "nesterov", "lr", "lr_scaling", "weight_decay", "batch_size",
                                           "epochs", "warmup_epochs", "schedule", "mixed_precision")} == {
        "optimizer": "sgd", "nesterov": True, "lr": 5e-4, "lr_scaling": "world_size", "weight_decay": 1e-6,
        "batch_size": 3, "epochs": 10, "warmup_epochs": 5, "schedule": "cosine", "mixed_precision": "no"}
    assert avt_b["components"]["feature_source"]["name"] == "frames"
    assert avt_b["components"]["dataset"]["config"]["video_start"] == "reference"
    rulstm = next(c for c in cells if c["components"]["student"]["alias"] == "rulstm-paper")
    assert rulstm["components"]["dataset"]["config"]["sampling"] == "rulstm"
    assert rulstm["components"]["student"]["config"]["stages"] == "reference"
    # the paper's teachers, fed as the authors fed them (paper.md 1.1-1.4)
    teachers = {c["components"]["teacher"]["alias"]: c for c in cells if c["components"]["teacher"]["alias"] != "none"}
    assert set(teachers) == {"bert", "gpt2", "roberta", "distilbert", "albert", "electra"}
    checkpoints = {a: c["components"]["teacher"]["config"]["checkpoint"] for a, c in teachers.items()}
    assert checkpoints["albert"] == "albert-base-v2" and checkpoints["electra"] == "google/electra-base-discriminator"
    for alias, c in teachers.items():
        t = c["components"]["teacher"]["config"]
        assert (t["pretrain_corpus"], t["pretrain_max_steps"], t["pretrain_batch_size"]) == (
            "recipe1m", 200000, 15 if alias == "roberta" else 12)
        assert c["train"]["teacher_empty_history"] == "uniform" and t["marker_tokens"] is False
        if c["components"]["dataset"]["alias"] == "egtea":
            assert t["class_balanced"] and t["balanced_heads"] == "all"
        else:
            assert c["components"]["dataset"]["config"]["verbalisation"] == "authors"
    assert "note: the corpus of teacher 'albert' is not available here (recipe1m corpus:" in res.stdout
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())
    both = bench("validate", "--profile", "paper", "--matrix", "smoke", env=env)
    assert both.returncode == 2 and "alternatives" in both.stderr


def test_validate_print_config_shows_every_resolved_setting():
    import yaml

    sets = ["--set", "train.lr=0.004", "--set", "components.student.gru.hidden=24"]
    res = bench("validate", "--matrix", "smoke", "--print-config", "--json", *sets)
    assert res.returncode == 0, res.stderr
    cells = json.loads(res.stdout)
    dry = bench("run", "--matrix", "smoke", "--dry-run", "--runs-dir", "/nonexistent-runs", *sets)
    assert f"{len(cells)} cells: 0 ok, 0 failed, {len(cells)} pending" in dry.stdout
    gru = next(c for c in cells if c["components"]["student"]["name"] == "gru")
    assert gru["train"]["lr"] == 0.004 and gru["components"]["student"]["config"]["hidden"] == 24
    # every key of the train settings and of the student's config is there, defaults included
    from benchmark.matrix import TrainConfig
    from plugins.students.gru import GRUStudentConfig

    assert set(TrainConfig.__dataclass_fields__) <= set(gru["train"])
    assert set(gru["components"]["student"]["config"]) == set(GRUStudentConfig.__dataclass_fields__)
    assert gru["run_id"] in dry.stdout
    # the YAML form holds the same
    plain = bench("validate", "--matrix", "smoke", "--print-config", *sets)
    assert yaml.safe_load(plain.stdout) == cells


def test_launcher_comes_from_the_matrix_unless_the_command_line_names_one():
    import argparse
    from types import SimpleNamespace

    from benchmark.cli.run import launcher_choice

    def args(**kw):
        base = dict(launcher=None, launcher_set=[], processes=None, gpus=None, slots=None)
        return argparse.Namespace(**{**base, **kw})

    m = SimpleNamespace(launcher={"name": "queue", "slots": 0, "timeout_s": 60})
    assert launcher_choice(args(), m) == ("queue", {"slots": 0, "timeout_s": 60})
    assert launcher_choice(args(slots=3), m) == ("queue", {"slots": 3, "timeout_s": 60})
    assert launcher_choice(args(launcher="queue", launcher_set=["cpu=true"]), m) == \
        ("queue", {"slots": 0, "timeout_s": 60, "cpu": True})
    assert launcher_choice(args(launcher="inline"), m) == ("inline", {})
    assert launcher_choice(args(), SimpleNamespace(launcher={})) == ("inline", {})
    assert m.launcher == {"name": "queue", "slots": 0, "timeout_s": 60}  # not consumed
