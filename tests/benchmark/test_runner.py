import json

import numpy as np
import pytest
import shutil
from pathlib import Path

from benchmark import hookimpl
from benchmark.matrix import build_matrix, load_matrix
from benchmark.plugin_manager import Plugins
from benchmark.run import Runner

FILES = Path(__file__).parents[1] / "plugin_files"
FAST = ["train.epochs=1", "matrix.seed=[0]", "components.dataset.synthetic.train_videos=10",
        "components.dataset.synthetic.val_videos=4"]


def run(plugins, tmp_path, overrides=FAST, **kw):
    m = load_matrix("smoke", plugins, overrides)
    runner = Runner(plugins, tmp_path / "runs", progress=False)
    return runner, runner.run(m, echo=lambda line: None, **kw)


def test_resume_skips_finished_cells_and_reruns_a_deleted_record(plugins, tmp_path):
    runner, first = run(plugins, tmp_path)
    assert len(first.executed) == 3 and not first.failed
    _, second = run(plugins, tmp_path)
    assert len(second.executed) == 0 and len(second.skipped) == 3
    victim = first.executed[1]["run_id"]
    (tmp_path / "runs" / victim / "record.json").unlink()
    _, third = run(plugins, tmp_path)
    assert [r["run_id"] for r in third.executed] == [victim]
    _, forced = run(plugins, tmp_path, force=True)
    assert len(forced.executed) == 3


def test_record_contents_and_teacher_cache_reuse(plugins, tmp_path):
    _, summary = run(plugins, tmp_path, overrides=FAST[:1] + FAST[2:] + ["matrix.seed=[0,1]"])
    records = {(r["cell"]["loss"], r["cell"]["seed"]): r for r in summary.executed}
    rec = records[("kl", 0)]
    for key in ("run_id", "status", "metrics", "timings", "seeds", "env", "versions", "dataset_fingerprint",
                "configs", "data_kind", "teacher_metrics", "started_at", "ended_at"):
        assert key in rec, key
    assert rec["status"] == "ok" and rec["data_kind"] == "synthetic"
    assert rec["env"]["libraries"]["torch"] and rec["env"]["device"] == "cpu"
    assert set(rec["metrics"]) == {"top1_action", "top5_action", "mean_class_top1_action", "top1_verb", "top1_noun"}
    # one teacher fit for 4 cells that need it (kl, mse x 2 seeds)
    cached = [r["teacher_cache"]["reused"] for r in summary.executed if r["cell"]["teacher"] != "none"]
    assert sorted(cached) == [False, True, True, True]
    run_dir = tmp_path / "runs" / rec["run_id"]
    assert {p.name for p in run_dir.iterdir()} == {"config.json", "log.rank0.txt", "record.json", "losses.jsonl"}
    assert json.loads((run_dir / "config.json").read_text())["axes"]["loss"] == "kl"


def test_same_config_and_seed_give_same_metrics(plugins, tmp_path):
    _, a = run(plugins, tmp_path / "a")
    shutil.rmtree(tmp_path / "a" / "runs" / "_cache")  # recompute the teacher too
    _, b = run(plugins, tmp_path / "b")
    assert [r["metrics"] for r in a.executed] == [r["metrics"] for r in b.executed]
    _, c = run(plugins, tmp_path / "c", overrides=FAST[:1] + FAST[2:] + ["matrix.seed=[1]"])
    assert [r["metrics"] for r in a.executed] != [r["metrics"] for r in c.executed]


def test_nan_loss_fails_the_cell_and_the_matrix_goes_on(tmp_path):
    d = tmp_path / "plugs"
    d.mkdir()
    shutil.copy(FILES / "nan_student.py", d)
    plugins = Plugins([d])
    m = build_matrix({"matrix": {"dataset": "synthetic", "student": ["nan-student", "gru"]},
                      "train": {"epochs": 1},
                      "components": {"dataset": {"synthetic": {"train_videos": 6, "val_videos": 2}}}}, plugins)
    runner = Runner(plugins, tmp_path / "runs", progress=False)
    summary = runner.run(m, echo=lambda line: None)
    bad, good = summary.executed
    assert bad["status"] == "failed" and bad["error"].startswith("NonFiniteLoss: loss became nan")
    assert good["status"] == "ok"
    assert "Traceback" in (tmp_path / "runs" / bad["run_id"] / "log.rank0.txt").read_text()
    # failed cells are skipped unless asked
    again = runner.run(m, echo=lambda line: None)
    assert not again.executed
    again = runner.run(m, rerun_failed=True, echo=lambda line: None)
    assert [r["cell"]["student"] for r in again.executed] == ["nan-student"]


class Recorder:
    def __init__(self):
        self.calls = []

    @hookimpl
    def bench_before_cell(self, cell, run_dir):
        self.run_dir = run_dir
        self.calls.append(("before", cell.label, run_dir.name))

    @hookimpl
    def bench_update_record(self, cell, record):
        record["extra"] = "added by a plugin"

    @hookimpl
    def bench_after_cell(self, cell, record):
        assert (self.run_dir / "record.json").is_file()  # after_cell comes after the record is written
        self.calls.append(("after", cell.label, record["status"]))


def test_lifecycle_hooks(tmp_path):
    plugins = Plugins([])
    rec = Recorder()
    plugins.pm.register(rec, name="recorder")
    _, summary = run(plugins, tmp_path, overrides=FAST + ["matrix.loss=[none]"])
    record = summary.executed[0]
    assert record["extra"] == "added by a plugin"
    stored = json.loads((tmp_path / "runs" / record["run_id"] / "record.json").read_text())
    assert stored["extra"] == "added by a plugin"
    assert [c[0] for c in rec.calls] == ["before", "after"]


def test_text_teacher_is_fitted_once_and_labelled_scratch(plugins, tmp_path):
    m = build_matrix({
        "matrix": {"dataset": "synthetic", "teacher": "gpt2", "student": "gru", "loss": ["kl", "mse"]},
        "train": {"epochs": 1},
        "components": {"dataset": {"synthetic": {"train_videos": 6, "val_videos": 2}},
                       "teacher": {"gpt2": {"init": "scratch", "scratch_hidden": 32, "scratch_layers": 1,
                                            "scratch_heads": 2, "scratch_vocab": 300, "epochs": 1, "max_len": 32}}},
    }, plugins)
    runner = Runner(plugins, tmp_path / "runs", progress=False)
    kl, mse = runner.run(m, echo=lambda line: None).executed
    assert (kl["status"], mse["status"]) == ("ok", "ok")
    assert (kl["teacher_cache"]["reused"], mse["teacher_cache"]["reused"]) == (False, True)
    assert kl["teacher_info"]["init"] == "scratch" and mse["teacher_info"]["init"] == "scratch"
    teacher_records = list((tmp_path / "runs" / "_teachers").glob("*.json"))
    assert len(teacher_records) == 1
    assert json.loads(teacher_records[0].read_text())["teacher_info"]["init"] == "scratch"


def test_cross_fitted_soft_labels_are_out_of_fold(plugins, tmp_path):
    base = {"matrix": {"dataset": "synthetic", "teacher": "ngram", "student": "gru", "loss": "kl"},
            "train": {"epochs": 1},
            "components": {"dataset": {"synthetic": {"train_videos": 8, "val_videos": 2}}}}
    runner = Runner(plugins, tmp_path / "runs", progress=False)
    plain = runner.run(build_matrix(base, plugins), echo=lambda line: None).executed[0]
    crossed = runner.run(build_matrix({**base, "train": {"epochs": 1, "teacher_cross_fit": 4}}, plugins),
                         echo=lambda line: None).executed[0]
    assert plain["teacher_cache"]["key"] != crossed["teacher_cache"]["key"]
    cache = runner.cache
    p, c = cache.load(plain["teacher_cache"]["key"]), cache.load(crossed["teacher_cache"]["key"])
    np.testing.assert_array_equal(p["val"].logits, c["val"].logits)  # val: the teacher fitted on all
    data = runner.load_data(build_matrix(base, plugins).cells[0])
    y = np.array([s.target.action for s in data.splits["train"]])
    # in-sample soft labels are more often right on train than out-of-fold ones
    assert (p["train"].logits.argmax(1) == y).mean() > (c["train"].logits.argmax(1) == y).mean()


def _dataset(plugins, record):
    from benchmark.config import build_config

    cls = plugins.get("dataset", "synthetic")
    return cls(build_config(cls.Config, record["configs"]["dataset"], "dataset")).load(None)


def _probe_plugins(tmp_path):
    d = tmp_path / "plugs"
    d.mkdir()
    shutil.copy(FILES / "probe_components.py", d)
    return Plugins([d])


def test_student_gets_step_labels_pretrain_stage_and_its_train_defaults(tmp_path):
    plugins = _probe_plugins(tmp_path)
    raw = {"matrix": {"dataset": "synthetic", "student": ["probe-student", "gru"]},
           "train": {"epochs": 2, "lr": 0.002},
           "components": {"dataset": {"synthetic": {"train_videos": 6, "val_videos": 2}}}}
    m = build_matrix(raw, plugins)
    probe, gru = m.cells
    # train_defaults fill the keys the matrix does not set; the matrix's lr wins
    assert probe.train["batch_size"] == 7 and probe.train["lr"] == 0.002
    assert gru.train["batch_size"] == 64
    raw["components"]["student"] = {"probe-student": {"hidden": 4, "train": {"lr": 0.5}}}
    assert build_matrix(raw, plugins).cells[0].train["lr"] == 0.5
    seen = plugins.get("student", "probe-student").__module__
    import sys
    SEEN = sys.modules[seen].SEEN
    summary = Runner(plugins, tmp_path / "runs", progress=False).run(build_matrix(raw, plugins), echo=lambda l: None)
    assert all(r["status"] == "ok" for r in summary.executed), summary.executed
    record = summary.executed[0]
    assert len(record["epoch_losses"]) == 3  # 1 pretrain + 2 epochs
    stages = SEEN["stages"]
    assert stages[0] == "pretrain" and stages[-1] == "train" and "unset" not in stages
    data = _dataset(plugins, record)
    # one label per step the student receives (cropped at start - tau_a)
    assert SEEN["steps"] and all(b <= 7 and t == data.anticipation_index + 1 for b, t in SEEN["steps"])


def test_step_labels_are_the_action_in_progress_and_never_the_target(plugins):
    from benchmark.run.inputs import step_labels

    data = plugins.get("dataset", "synthetic")(None).load(None)
    labels = step_labels(data, "train")
    assert labels.shape == (len(data.splits["train"]), data.obs_steps)
    for i, sample in enumerate(data.splits["train"][:200]):
        for j, t in enumerate(data.obs_times(sample)):
            covering = [s for s in data.label_timeline("train")[sample.video] if s.start <= t < s.end]
            if labels[i, j] == -100:
                assert not covering
            else:
                assert labels[i, j] in {s.action for s in covering}
                assert max(s.start for s in covering) < sample.target.start
    assert (labels != -100).any()


def test_loss_member_teachers_are_fitted_and_stacked(tmp_path):
    plugins = _probe_plugins(tmp_path)
    raw = {"matrix": {"dataset": "synthetic", "student": "gru", "teacher": "seq-gru", "loss": "probe-loss"},
           "train": {"epochs": 1},
           "components": {"dataset": {"synthetic": {"train_videos": 6, "val_videos": 2}},
                          "teacher": {"seq-gru": {"epochs": 1}, "bigram": {"use": "ngram", "order": 2}},
                          "loss": {"probe-loss": {"teachers": ["bigram", "ngram"]}}}}
    m = build_matrix(raw, plugins)
    (cell,) = m.cells
    assert list(cell.members) == ["bigram", "ngram"] and cell.members["bigram"]["config"]["order"] == 2
    import sys
    SEEN = sys.modules[plugins.get("loss", "probe-loss").__module__].SEEN
    summary = Runner(plugins, tmp_path / "runs", progress=False).run(m, echo=lambda l: None)
    record = summary.executed[0]
    assert record["status"] == "ok", record["error"]
    assert set(record["member_teachers"]) == {"bigram", "ngram"}
    num_actions = _dataset(plugins, record).classes.num_actions
    assert SEEN["members"] and all(shape[1:] == (3, num_actions) for shape in SEEN["members"])
    # members change the run id
    raw["components"]["loss"]["probe-loss"]["teachers"] = ["ngram"]
    other = build_matrix(raw, plugins).cells[0]
    from benchmark.runid import identity
    assert identity(cell, {}, "", "0") != identity(other, {}, "", "0")


def test_simulated_features_are_computed_once_and_reused_from_disk(plugins, tmp_path, monkeypatch):
    from plugins.features.simulated import SimulatedFeatures

    calls = []
    real_load = SimulatedFeatures.load

    def counting_load(self, data, split):
        calls.append(split)
        return real_load(self, data, split)

    monkeypatch.setattr(SimulatedFeatures, "load", counting_load)
    _, first = run(plugins, tmp_path)
    assert calls == ["train", "val"]  # once for the three cells of this process
    entries = [p for p in (tmp_path / "runs" / "_cache" / "features").iterdir()]
    assert len(entries) == 1 and {p.name for p in entries[0].iterdir()} == {"train.npy", "val.npy", "info.json"}
    # a fresh runner (another process, e.g. a queue slot) reads them from disk: same metrics
    for r in first.executed:
        (tmp_path / "runs" / r["run_id"] / "record.json").unlink()
    _, second = run(plugins, tmp_path)
    assert calls == ["train", "val"]
    assert [r["metrics"] for r in second.executed] == [r["metrics"] for r in first.executed]
    assert second.executed[0]["feature_info"] == first.executed[0]["feature_info"]


def test_refit_teachers_fits_in_every_cell_and_gives_the_same_metrics(plugins, tmp_path):
    m = load_matrix("smoke", plugins, FAST)
    cached = Runner(plugins, tmp_path / "a", progress=False).run(m, echo=lambda line: None)
    runner = Runner(plugins, tmp_path / "b", progress=False, refit_teachers=True)
    refit = runner.run(m, echo=lambda line: None)
    teacher_cells = [r for r in refit.executed if r["cell"]["teacher"] != "none"]
    assert len(teacher_cells) == 2 and not any(r["teacher_cache"]["reused"] for r in teacher_cells)
    assert all(r["timings"]["teacher_s"] > 0.05 for r in teacher_cells)
    assert list((tmp_path / "b" / "_cache" / "teachers").glob("*")) == []  # the cache was neither read nor filled
    by_label = {r["cell"]["label"]: r["metrics"] for r in cached.executed}
    assert all(by_label[r["cell"]["label"]] == r["metrics"] for r in refit.executed)


def test_record_has_the_effective_learning_rate_and_the_schedule_runs(plugins, tmp_path):
    from benchmark.schedule import lr_factor

    overrides = FAST + ["matrix.teacher=[none]", "matrix.loss=[none]", "train.epochs=3", "train.optimizer=sgd",
                        "train.nesterov=true", "train.schedule=cosine", "train.warmup_epochs=1", "train.lr=0.05",
                        "train.lr_scaling=world_size"]
    _, summary = run(plugins, tmp_path, overrides=overrides)
    (record,) = summary.executed
    assert record["status"] == "ok", record["error"]
    opt = record["optimization"]
    # one process here: lr x 1, the global batch is the per-process batch
    assert opt["effective_lr"] == 0.05 and opt["processes"] == 1 and opt["global_batch"] == record["train"]["batch_size"]
    lines = [json.loads(l) for l in (tmp_path / "runs" / record["run_id"] / "losses.jsonl").read_text().splitlines()]
    # the rate logged after each epoch is the one its last step used
    per = opt["steps_per_epoch"]
    assert [l["lr"] for l in lines] == [0.05 * lr_factor((e + 1) * per - 1, per, 3, 1, "cosine") for e in range(3)]


def test_a_student_with_model_selection_records_the_best_and_the_last_epoch(plugins, tmp_path):
    raw = {"matrix": {"dataset": "synthetic", "student": "rulstm-ref", "teacher": "none", "loss": "none"},
           "train": {"epochs": 2, "batch_size": 64, "lr": 0.01},
           "feature_source": "simulated",
           "components": {"dataset": {"synthetic": {"train_videos": 8, "val_videos": 3}},
                          "feature_source": {"simulated": {"dim": 8, "modalities": ["rgb", "flow"]}},
                          "student": {"rulstm-ref": {"use": "rulstm", "hidden": 8, "sc_epochs": 1,
                                                     "stages": "reference", "fusion_epochs": 1}}}}
    summary = Runner(plugins, tmp_path / "runs", progress=False).run(build_matrix(raw, plugins), echo=lambda l: None)
    (record,) = summary.executed
    assert record["status"] == "ok", record["error"]
    assert list(record["model_selection"]) == ["sc:rgb", "anticipation:rgb", "sc:flow", "anticipation:flow", "matt"]
    assert record["row_label"] == "best val epoch"
    assert set(record["metrics_last_epoch"]) == set(record["metrics"])
    assert record["metrics"]["top5_action"] == pytest.approx(record["model_selection"]["matt"]["best_top5"], abs=1e-3)
    from benchmark.report import build, render_markdown

    md = render_markdown(build([record], [], "top5_action"), "t", "bench run")
    row = next(line for line in md.splitlines() if line.startswith("| this suite"))
    assert "best val epoch" in row and "model selection kept" in md
