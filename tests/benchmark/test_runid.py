import copy

from benchmark.matrix import load_matrix
from benchmark.runid import canonical_json, digest, run_id
from benchmark.run import Runner


def ids(plugins, tmp_path, overrides):
    m = load_matrix("smoke", plugins, overrides)
    return {j.cell.label: j.run_id for j in Runner(plugins, tmp_path).plan(m)}


def test_run_ids_are_stable_and_unique(plugins, tmp_path):
    a, b = ids(plugins, tmp_path, []), ids(plugins, tmp_path, [])
    assert a == b and len(set(a.values())) == len(a)


def test_run_id_changes_with_anything_relevant(plugins, tmp_path):
    base = ids(plugins, tmp_path, [])
    for override in ["train.epochs=3", "components.student.gru.hidden=64",
                     "components.dataset.synthetic.seed=1", "components.feature_source.simulated.noise=0.5",
                     "components.loss.kl.temperature=3.0"]:
        changed = ids(plugins, tmp_path, [override])
        assert any(changed[k] != base[k] for k in base), override
    # a loss setting changes only the cells that use that loss
    changed = ids(plugins, tmp_path, ["components.loss.kl.temperature=3.0"])
    assert {k for k in base if changed[k] != base[k]} == {k for k in base if "/kl/" in k}


def test_run_id_changes_with_component_version(plugins, tmp_path, monkeypatch):
    base = ids(plugins, tmp_path, [])
    monkeypatch.setattr(plugins.get("student", "gru"), "version", "2")
    assert all(v != base[k] for k, v in ids(plugins, tmp_path, []).items())


def test_run_id_ignores_key_order_and_is_golden():
    ident = {"schema": 1, "axes": {"seed": 0, "dataset": "synthetic"}, "configs": {"loss": {"weight": 1.0}}}
    flipped = {"configs": {"loss": {"weight": 1.0}}, "axes": {"dataset": "synthetic", "seed": 0}, "schema": 1}
    assert run_id(ident) == run_id(flipped)
    assert canonical_json(ident) == '{"axes":{"dataset":"synthetic","seed":0},"configs":{"loss":{"weight":1.0}},"schema":1}'
    assert run_id(ident) == digest(copy.deepcopy(ident)) == "f332b4f89992ca12"


def test_operational_train_keys_do_not_change_the_run_id(plugins):
    from benchmark.matrix import load_matrix
    from benchmark.runid import identity, run_id

    def rid(*extra):
        cell = load_matrix("smoke", plugins, ["matrix.seed=[0]", *extra]).cells[0]
        return run_id(identity(cell, {}, "fp", "0"))

    base = rid()
    assert rid("train.checkpoint_every_epochs=2", "train.trackers=[tensorboard]", "train.time_budget_s=60",
               "train.device_memory_mb=512") == base
    assert rid("train.epochs=3") != base


def test_later_train_keys_change_the_run_id_only_away_from_their_default(plugins):
    """``compile`` came after cells were recorded: at its default (which trains as before) the
    id is the one those cells have; turned on, it is another cell."""
    from benchmark.runid import identity, run_id

    def rid(*extra):
        cell = load_matrix("smoke", plugins, ["matrix.seed=[0]", *extra]).cells[0]
        ident = identity(cell, {}, "fp", "0")
        return run_id(ident), ident["train"]

    base, train = rid()
    assert "compile" not in train and "compile_backend" not in train and "device_memory_mb" not in train
    assert rid("train.compile=false", "train.compile_backend=inductor")[0] == base
    on, train_on = rid("train.compile=true")
    assert on != base and train_on["compile"] is True
    assert rid("train.compile=true", "train.compile_backend=aot_eager")[0] not in (base, on)


def test_teacher_settings_do_not_change_the_baseline_run_id(plugins):
    from benchmark.matrix import load_matrix
    from benchmark.runid import identity, run_id

    def rids(*extra):
        cells = load_matrix("smoke", plugins, ["matrix.seed=[0]", *extra]).cells
        return {c.loss: run_id(identity(c, {}, "fp", "0")) for c in cells}

    base, oof = rids(), rids("train.teacher_cross_fit=5", "train.teacher_seed=3")
    assert base["none"] == oof["none"]
    assert base["kl"] != oof["kl"]
