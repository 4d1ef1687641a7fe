from dataclasses import dataclass, field
from pathlib import Path

import pytest

from benchmark.config import apply_overrides, build_config, deep_merge, find_matrix, load_matrix_file, load_yaml
from benchmark.errors import ConfigError


def test_malformed_yaml_names_file_and_line(tmp_path: Path):
    f = tmp_path / "m.yaml"
    f.write_text("matrix:\n  dataset: [synthetic\n  student: gru\n")
    with pytest.raises(ConfigError) as exc:
        load_yaml(f)
    msg = str(exc.value)
    assert str(f) in msg and ":" in msg and "\n" not in msg


def test_yaml_is_loaded_safely(tmp_path: Path):
    f = tmp_path / "m.yaml"
    f.write_text("x: !!python/object/apply:os.system ['echo pwned']\n")
    with pytest.raises(ConfigError):
        load_yaml(f)


def test_base_inheritance_and_delete(tmp_path: Path):
    (tmp_path / "base.yaml").write_text("train: {epochs: 5, lr: 0.1}\ncomponents: {loss: {kl: {weight: 2}}}\n")
    (tmp_path / "child.yaml").write_text(
        "_base_: base.yaml\ntrain: {epochs: 2}\ncomponents: {loss: {_delete_: true, mse: {weight: 1}}}\n"
    )
    data = load_matrix_file(tmp_path / "child.yaml")
    assert data["train"] == {"epochs": 2, "lr": 0.1}
    assert data["components"] == {"loss": {"mse": {"weight": 1}}}


def test_base_cycle_is_an_error(tmp_path: Path):
    (tmp_path / "a.yaml").write_text("_base_: b.yaml\n")
    (tmp_path / "b.yaml").write_text("_base_: a.yaml\n")
    with pytest.raises(ConfigError, match="cycle"):
        load_matrix_file(tmp_path / "a.yaml")


def test_overrides_parse_yaml_values():
    out = apply_overrides({"train": {"epochs": 5}}, ["train.epochs=3", "matrix.seed=[0, 1]", "train.lr=1e-3", "a.b.c=true"])
    assert out["train"]["epochs"] == 3 and out["matrix"]["seed"] == [0, 1]
    assert out["train"]["lr"] == 1e-3 and out["a"]["b"]["c"] is True
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        apply_overrides({}, ["train.epochs"])


def test_deep_merge_does_not_mutate():
    base = {"a": {"b": 1}}
    deep_merge(base, {"a": {"c": 2}})
    assert base == {"a": {"b": 1}}


@dataclass
class Cfg:
    n: int = 1
    x: float = 0.5
    name: str = "a"
    flags: list[int] = field(default_factory=list)
    opt: int | None = None


def test_build_config_types_and_unknown_keys():
    c = build_config(Cfg, {"n": 3, "x": 2, "flags": [1, 2], "opt": None}, "here")
    assert c.n == 3 and c.x == 2.0 and isinstance(c.x, float) and c.flags == [1, 2]
    with pytest.raises(ConfigError, match=r"here.n: expected int"):
        build_config(Cfg, {"n": "three"}, "here")
    with pytest.raises(ConfigError, match=r"unknown key 'nam'. Did you mean 'name'"):
        build_config(Cfg, {"nam": "b"}, "here")
    with pytest.raises(ConfigError, match="expected int"):
        build_config(Cfg, {"n": True}, "here")


def test_shipped_matrix_found_by_name_and_did_you_mean():
    assert find_matrix("smoke").name == "smoke.yaml"
    with pytest.raises(ConfigError, match="Did you mean 'smoke'"):
        find_matrix("smok")


def test_exponent_floats_written_without_dot_are_floats():
    # YAML 1.1 reads 1e-3 as a string; configs accept it as the number it spells
    assert build_config(Cfg, {"x": "1e-3"}, "here").x == 1e-3
    with pytest.raises(ConfigError):
        build_config(Cfg, {"x": "fast"}, "here")


def test_yaml_anchors_load_as_independent_copies(tmp_path):
    from benchmark.config import apply_overrides, load_yaml

    path = tmp_path / "m.yaml"
    path.write_text("components:\n  teacher:\n    gpt2: &small {epochs: 4, by_dataset: {egtea: {lr: 1}}}\n"
                    "    roberta: *small\n")
    raw = apply_overrides(load_yaml(path), ["components.teacher.gpt2.epochs=1",
                                            "components.teacher.gpt2.by_dataset.egtea.lr=2"])
    assert raw["components"]["teacher"]["gpt2"] == {"epochs": 1, "by_dataset": {"egtea": {"lr": 2}}}
    assert raw["components"]["teacher"]["roberta"] == {"epochs": 4, "by_dataset": {"egtea": {"lr": 1}}}
