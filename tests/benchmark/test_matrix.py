import pytest

from benchmark.errors import ConfigError
from benchmark.matrix import build_matrix

BASE = {"metrics": ["top1_action"]}


def axes(m):
    return [(c.dataset, c.teacher, c.student, c.loss, c.seed) for c in m.cells]


def test_product_with_baseline_collapse_and_validation_drops(plugins):
    m = build_matrix({**BASE, "matrix": {"dataset": "synthetic", "teacher": ["none", "seq-gru"],
                                         "student": "gru", "loss": ["none", "kl"], "seed": [0, 1]}}, plugins)
    # (seq-gru, none) collapses onto the baseline; (none, kl) is impossible and dropped
    assert axes(m) == [
        ("synthetic", "none", "gru", "none", 0), ("synthetic", "none", "gru", "none", 1),
        ("synthetic", "seq-gru", "gru", "kl", 0), ("synthetic", "seq-gru", "gru", "kl", 1),
    ]
    assert [r for _, r in m.dropped] == ["loss 'kl' needs a teacher"] * 2


def test_exclude_and_include(plugins):
    m = build_matrix({**BASE, "matrix": {"dataset": "synthetic", "teacher": ["seq-gru"], "student": "gru",
                                         "loss": ["kl", "mse"], "seed": [0, 1]},
                      "exclude": [{"loss": "mse", "seed": [1]}],
                      "include": [{"dataset": "synthetic", "student": "gru"}]}, plugins)
    assert axes(m) == [
        ("synthetic", "seq-gru", "gru", "kl", 0), ("synthetic", "seq-gru", "gru", "kl", 1),
        ("synthetic", "seq-gru", "gru", "mse", 0),
        ("synthetic", "none", "gru", "none", 0), ("synthetic", "none", "gru", "none", 1),
    ]


def test_component_configs_aliases_and_by_dataset(plugins):
    m = build_matrix({**BASE, "matrix": {"dataset": "synthetic", "teacher": "seq-gru", "student": "gru",
                                         "loss": ["kl", "kl-t5"]},
                      "components": {"loss": {"kl": {"weight": 3, "by_dataset": {"synthetic": {"temperature": 4}}},
                                              "kl-t5": {"use": "kl", "temperature": 5}}}}, plugins)
    kl, kl5 = m.cells
    assert kl.configs["loss"] == {"weight": 3.0, "temperature": 4.0, "top_k": 0, "reduction": "batchmean"}
    assert kl5.loss == "kl-t5" and kl5.components["loss"] == "kl" and kl5.configs["loss"]["temperature"] == 5.0


@pytest.mark.parametrize("raw, message", [
    ({"matrix": {"dataset": "synthetic", "student": "gru", "teacher": "bert-bas"}}, "unknown teacher 'bert-bas'"),
    ({"matrix": {"dataset": "synthetic", "student": "gru", "colour": ["red"]}}, "unknown axis"),
    ({"matrix": {"dataset": "synthetic", "student": "gru"}, "trian": {}}, "unknown top-level key 'trian'"),
    ({"matrix": {"dataset": "synthetic", "student": "gru"}, "train": {"epochs": "ten"}}, "train.epochs: expected int"),
    ({"matrix": {"dataset": "synthetic", "student": "gru"}, "components": {"student": {"gru": {"hiden": 3}}}},
     "unknown key 'hiden'. Did you mean 'hidden'"),
    ({"matrix": {"dataset": "synthetic", "student": "gru", "seed": ["a"]}}, "expected integers"),
    ({"matrix": {"student": "gru"}}, "matrix.dataset is required"),
    ({"matrix": {"dataset": "synthetic", "student": "gru", "teacher": "none", "loss": "kl"}}, "no runnable cell"),
    ({"matrix": {"dataset": "synthetic", "student": "gru"}, "metrics": ["top1_acton"]}, "Did you mean 'top1_action'"),
])
def test_bad_matrices_give_one_line_errors(plugins, raw, message):
    with pytest.raises(ConfigError) as exc:
        build_matrix(raw, plugins)
    assert message in str(exc.value) and "\n" not in str(exc.value)


def test_misspelled_component_kind_or_name_is_an_error(plugins):
    base = {"matrix": {"dataset": "synthetic", "student": "gru"}}
    with pytest.raises(ConfigError, match="components.teachr: unknown kind. Did you mean 'teacher'"):
        build_matrix({**base, "components": {"teachr": {}}}, plugins)
    with pytest.raises(ConfigError, match="unknown loss 'kll'. Did you mean 'kl'"):
        build_matrix({**base, "components": {"loss": {"kll": {"weight": 1}}}}, plugins)
    with pytest.raises(ConfigError, match="expected one of 'no', 'bf16', 'fp16'"):
        build_matrix({**base, "train": {"mixed_precision": "fp8"}}, plugins)


def test_matrix_names_its_launcher(plugins):
    raw = {**BASE, "matrix": {"dataset": "synthetic", "student": "gru"}}
    assert build_matrix(raw, plugins).launcher == {}
    assert build_matrix({**raw, "launcher": {"name": "queue", "slots": 0}}, plugins).launcher == {"name": "queue", "slots": 0}
    with pytest.raises(ConfigError, match="launcher.name: unknown launcher 'queu'.*Did you mean 'queue'"):
        build_matrix({**raw, "launcher": {"name": "queu"}}, plugins)
    for bad in ("queue", {"slots": 2}, {"name": 3}):
        with pytest.raises(ConfigError, match="launcher: expected a mapping with 'name'"):
            build_matrix({**raw, "launcher": bad}, plugins)


def test_default_matrix_is_the_real_cpu_profile(plugins):
    from benchmark.matrix import load_matrix

    m = load_matrix("default", plugins)
    assert {c.dataset for c in m.cells} == {"egtea", "epic55"} and {c.feature_source for c in m.cells} == {"simulated"}
    assert {c.teacher for c in m.cells} == {"none", "bert", "gpt2", "roberta", "ngram", "seq-gru"}
    assert {c.student for c in m.cells} == {"avt", "rulstm"} and {c.loss for c in m.cells} == {"none", "kl", "feat"}
    # one baseline per student and dataset; feat without a teacher feature dropped by validation
    assert sum(c.baseline for c in m.cells) == 4 and len(m.cells) == 40
    assert not [c for c in m.cells if c.teacher == "ngram" and c.loss == "feat"]
    assert sum("ngram' has none" in reason for _, reason in m.dropped) == 4
    assert all(c.configs["teacher"].get("init") == "scratch" for c in m.cells if c.teacher in ("gpt2", "roberta"))
    assert m.launcher == {"name": "queue", "slots": 0}


def test_feature_source_per_dataset_and_student(plugins):
    raw = {"matrix": {"dataset": "synthetic", "student": ["gru", "avt"]},
           "feature_source": {"default": "simulated", "synthetic/avt": "sim-avt"},
           "components": {"feature_source": {"sim-avt": {"use": "simulated", "dim": 12}}}}
    cells = {c.student: c for c in build_matrix(raw, plugins).cells}
    assert cells["gru"].feature_source == "simulated" and cells["avt"].feature_source == "sim-avt"
    assert cells["avt"].configs["feature_source"]["dim"] == 12
