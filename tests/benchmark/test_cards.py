"""Reproduction cards: every shipped card resolves to a valid cell with the published
preprocessing and restates its baseline table's numbers; a card on synthetic data runs end to end."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from benchmark.cards import baseline_problems, card_matrix, compare, load_card_yaml, preprocessing_problems
from benchmark.errors import ConfigError
from benchmark.plugin_manager import get_plugins
from benchmark.resolved import resolved_config
from benchmark.run import Runner

PLUGINS = get_plugins()
CARDS = [PLUGINS.get("card", n) for n in PLUGINS.registries["card"].names()]
needs_data = pytest.mark.skipif(not os.environ.get("BENCH_DATA_DIR"), reason="needs the real annotation files")


def bench(*args, env=None):
    return subprocess.run([sys.executable, "-m", "benchmark.cli", *map(str, args)], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=600)


def test_a_card_for_every_published_row_the_paper_profile_targets():
    real = {c.name for c in CARDS if c.data_kind == "real"}
    assert {"ghosh2023-egtea-avt", "ghosh2023-egtea-albert", "ghosh2023-egtea-roberta", "ghosh2023-epic55-albert",
            "avt2021-epic55-ircsn", "avt2021-egtea-tsn", "rulstm2019-epic55-fusion"} <= real
    assert all(c.matrix == "paper" for c in CARDS if c.data_kind == "real")


@pytest.mark.parametrize("card", CARDS, ids=[c.name for c in CARDS])
def test_published_numbers_are_the_baseline_tables(card):
    assert baseline_problems(card, PLUGINS) == []
    if card.baseline:  # independently: the row as the table file has it
        table = PLUGINS.get("baseline", card.baseline["table"])
        (row,) = [r for r in table.rows if r.label == card.baseline["label"] and r.dataset == card.baseline["dataset"]]
        assert {m: row.metrics[m] for m in card.published} == card.published
        assert (row.dataset, row.teacher) == (card.cell["dataset"].removesuffix("-rulstm"),
                                              card.cell["teacher"])


@needs_data
@pytest.mark.parametrize("card", CARDS, ids=[c.name for c in CARDS])
def test_every_card_resolves_to_a_valid_cell_with_its_preprocessing(card, tmp_path):
    matrix = card_matrix(card, PLUGINS)
    assert sorted(c.seed for c in matrix.cells) == sorted(card.seeds)
    runner = Runner(PLUGINS, tmp_path / "runs", progress=False)
    jobs = runner.plan(matrix, require_features=False)
    for job in jobs:
        assert preprocessing_problems(card, resolved_config(job.cell, job.run_id, PLUGINS)) == []


def test_a_preprocessing_difference_is_named(tmp_path):
    card = PLUGINS.get("card", "smoke-seq-gru-kl")
    (cell,) = card_matrix(card, PLUGINS).cells
    resolved = resolved_config(cell, "x", PLUGINS)
    resolved["components"]["dataset"]["config"]["anticipation_s"] = 2.0
    assert preprocessing_problems(card, resolved) == [
        "smoke-seq-gru-kl: preprocessing.anticipation_s: the cell has components.dataset.config.anticipation_s = 2.0, "
        "the published run 1.0"]


def test_compare_averages_the_finished_seeds():
    card = PLUGINS.get("card", "smoke-seq-gru-kl")
    records = [{"status": "ok", "metrics": {"top1_action": 27.0, "top5_action": 60.0}},
               {"status": "ok", "metrics": {"top1_action": 28.0, "top5_action": 59.0}},
               {"status": "failed", "metrics": {}}]
    (top1, top5) = compare(card, records)
    assert (top1.measured, top1.seeds, top1.within) == (27.5, 2, True)
    assert (top5.measured, abs(top5.measured - 59.83) <= 0.5, top5.within) == (59.5, True, True)
    assert not compare(card, [{"status": "ok", "metrics": {"top1_action": 29.0, "top5_action": 59.83}}])[0].within


def test_malformed_cards_name_the_file_and_the_key(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nmatrix: smoke\ncell: {dataset: synthetic, teacher: none, student: gru, loss: none}\n"
                   "published: {top1_action: 1.0}\nsource: s\ntolerance: {top5_action: 1.0}\n")
    with pytest.raises(ConfigError, match=r"bad.yaml: tolerance: no tolerance for published metric 'top1_action'"):
        load_card_yaml(bad)
    bad.write_text("name: x\nmatrix: smoke\ncell: {dataset: synthetic}\npublished: {a: 1}\nsource: s\ntolerance: {a: 1}\n")
    with pytest.raises(ConfigError, match=r"bad.yaml: cell: expected the keys dataset, teacher, student, loss"):
        load_card_yaml(bad)


OUTSIDE = '''
from pathlib import Path

from benchmark import hookimpl
from benchmark.cards import load_card_yaml


@hookimpl
def bench_register_cards():
    return [load_card_yaml(Path(__file__).with_name("off.yaml"))]
'''


def test_a_synthetic_card_runs_end_to_end_and_one_outside_its_tolerance_fails(tmp_path):
    runs = tmp_path / "runs"
    first = bench("reproduce", "smoke-seq-gru-kl", "--runs-dir", runs)
    assert first.returncode == 0, first.stderr
    assert "within" in first.stdout and "OUTSIDE" not in first.stdout and "[1/1] ok" in first.stderr
    again = bench("reproduce", "smoke-seq-gru-kl", "--runs-dir", runs)
    assert again.returncode == 0 and "already recorded" in again.stderr  # the record is reused
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    card = (PLUGINS.get("card", "smoke-seq-gru-kl").path)
    text = open(card).read().replace("name: smoke-seq-gru-kl", "name: smoke-off").replace("top1_action: 27.59", "top1_action: 30.0")
    (plugins / "off.yaml").write_text(text)
    (plugins / "off_card.py").write_text(textwrap.dedent(OUTSIDE))
    off = bench("reproduce", "smoke-off", "--runs-dir", runs, "--plugins-dir", plugins)
    assert off.returncode == 1 and "OUTSIDE" in off.stdout, off.stdout + off.stderr
    check = bench("reproduce", "--check", "--runs-dir", runs, "--plugins-dir", plugins)
    assert check.returncode == 1 and "ghosh2023-egtea-avt: no record" in check.stdout
    assert check.stdout.count("OUTSIDE") == 1 and "smoke-seq-gru-kl" in check.stdout
