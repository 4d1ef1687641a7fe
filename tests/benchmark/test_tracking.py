import json

import pytest

from benchmark import cli
from benchmark.errors import ConfigError
from benchmark.matrix import build_matrix
from benchmark.run import Runner
from benchmark.tracking import LOSSES, read_losses, sparkline, summarise

TINY = {"synthetic": {"train_videos": 6, "val_videos": 2}}


def matrix(plugins, **train):
    return build_matrix({
        "matrix": {"dataset": "synthetic", "teacher": "ngram", "student": "gru", "loss": "kl"},
        "train": {"epochs": 2, **train},
        "components": {"dataset": TINY, "student": {"gru": {"hidden": 8}},
                       "feature_source": {"simulated": {"dim": 8}}},
    }, plugins)


def test_loss_log_has_a_line_per_epoch_with_its_parts(plugins, tmp_path):
    summary = Runner(plugins, tmp_path / "runs", progress=False).run(matrix(plugins, epochs=3), echo=lambda l: None)
    (record,) = summary.executed
    assert record["status"] == "ok", record["error"]
    entries = read_losses(tmp_path / "runs" / record["run_id"] / LOSSES)
    assert [e["epoch"] for e in entries] == [1, 2, 3]
    for e in entries:
        assert e["stage"] == "train" and e["lr"] == pytest.approx(1e-3) and e["seconds"] >= 0
        assert e["loss"] == pytest.approx(e["own_loss"] + e["distill_loss"], rel=1e-4)
    assert [e["loss"] for e in entries] == pytest.approx(record["epoch_losses"])
    assert entries[-1]["step"] == 3 * entries[0]["step"]
    assert not (tmp_path / "runs" / record["run_id"] / "tracking").exists()  # no tracker asked for


def test_tensorboard_event_files_appear_when_asked(plugins, tmp_path):
    summary = Runner(plugins, tmp_path / "runs", progress=False).run(
        matrix(plugins, trackers=["tensorboard"]), echo=lambda l: None)
    (record,) = summary.executed
    assert record["status"] == "ok", record["error"]
    events = list((tmp_path / "runs" / record["run_id"] / "tracking").rglob("events.out.tfevents.*"))
    assert events
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    tags = set()
    for folder in {p.parent for p in events}:
        acc = EventAccumulator(str(folder))
        acc.Reload()
        tags |= set(acc.Tags()["scalars"])
    assert {"train/loss", "epoch/loss", "epoch/distill_loss"} <= tags


def test_unknown_tracker_is_a_config_error(plugins):
    with pytest.raises(ConfigError, match="trackers: unknown tracker 'tensorbord'"):
        matrix(plugins, trackers=["tensorbord"])


def test_bench_logs_summarises_a_run_and_a_matrix(plugins, tmp_path, capsys, monkeypatch):
    runs = tmp_path / "runs"
    summary = Runner(plugins, runs, progress=False).run(matrix(plugins, epochs=4), echo=lambda l: None)
    rid = summary.executed[0]["run_id"]
    assert cli.main(["logs", rid[:6], "--runs-dir", str(runs)]) == 0
    out = capsys.readouterr().out
    assert rid in out and "synthetic/gru/ngram/kl/seed0" in out and "[ok]" in out
    assert "4 epochs, loss" in out and "s/epoch" in out and "min" in out
    assert any(ch in out for ch in "▁▂▃▄▅▆▇█")

    path = tmp_path / "m.yaml"
    path.write_text(json.dumps({  # JSON is YAML
        "name": "m", "matrix": {"dataset": "synthetic", "teacher": "ngram", "student": "gru", "loss": "kl",
                                "seed": [0, 1]},
        "train": {"epochs": 4}, "components": {"dataset": TINY, "student": {"gru": {"hidden": 8}},
                                               "feature_source": {"simulated": {"dim": 8}}}}))
    assert cli.main(["logs", "--matrix", str(path), "--runs-dir", str(runs)]) == 0
    out = capsys.readouterr().out
    assert "[ok]" in out and "[pending]" in out and "no loss logged yet" in out

    assert cli.main(["logs", "nosuchrun", "--runs-dir", str(runs)]) == 2
    assert "no run 'nosuchrun'" in capsys.readouterr().err


def test_read_losses_skips_a_cut_off_line_and_keeps_the_last_of_an_epoch(tmp_path):
    path = tmp_path / LOSSES
    path.write_text('{"epoch": 1, "loss": 3.0}\n{"epoch": 2, "loss": 2.5}\n{"epoch": 2, "loss": 2.0}\n{"epoch": 3, "lo')
    entries = read_losses(path)
    assert [(e["epoch"], e["loss"]) for e in entries] == [(1, 3.0), (2, 2.0)]
    s = summarise(entries)
    assert (s["epochs"], s["first"], s["last"], s["min"], s["min_epoch"]) == (2, 3.0, 2.0, 2.0, 2)


def test_sparkline():
    assert sparkline([3, 2, 1]) == "█▅▁"
    assert sparkline([1, 1]) == "▁▁"
    assert len(sparkline(range(100), width=10)) == 10
    assert sparkline([]) == ""
