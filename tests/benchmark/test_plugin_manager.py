import shutil
from pathlib import Path

import pytest

from benchmark.plugin_manager import OBJECT_KINDS

from benchmark.errors import ConfigError, PluginError
from benchmark.plugin_manager import Plugins

FILES = Path(__file__).parents[1] / "plugin_files"


def folder_with(tmp_path: Path, *names: str) -> Path:
    d = tmp_path / "plugs"
    d.mkdir(exist_ok=True)
    for n in names:
        shutil.copy(FILES / f"{n}.py", d / f"{n}.py")
    return d


def test_builtins_are_registered_through_the_same_hooks(plugins):
    assert plugins.info["teachers"].builtin
    assert {"none", "seq-gru"} <= set(plugins.registries["teacher"].names())
    assert {"none", "kl", "mse"} <= set(plugins.registries["loss"].names())
    assert "inline" in plugins.registries["launcher"].names()
    assert "ghosh2023-egtea" in plugins.registries["baseline"].names()


def test_every_component_has_name_version_and_dataclass_config(plugins):
    import dataclasses

    for kind, registry in plugins.registries.items():
        for name, entry in registry.entries.items():
            assert entry.name == name and entry.version
            if kind not in OBJECT_KINDS:  # baseline tables and cards are data, not configured components
                assert dataclasses.is_dataclass(entry.obj.Config)
                entry.obj.Config()  # defaults suffice


def test_unknown_name_has_did_you_mean_and_lists_what_exists(plugins):
    with pytest.raises(ConfigError) as exc:
        plugins.get("teacher", "seq-gu")
    msg = str(exc.value)
    assert "Did you mean 'seq-gru'" in msg and "Available: " in msg and "none, roberta, seq-gru" in msg


def test_folder_plugin_is_loaded(tmp_path):
    p = Plugins([folder_with(tmp_path, "majority_teacher")])
    entry = p.registries["teacher"].get("bigram-file")
    assert entry.origin == "majority_teacher" and "plugins dir" in entry.package


def test_broken_plugin_is_skipped_with_a_warning_naming_it(tmp_path):
    p = Plugins([folder_with(tmp_path, "broken_on_import", "majority_teacher")])
    assert any("broken_on_import" in w and "broken on purpose" in w for w in p.warnings)
    assert "bigram-file" in p.registries["teacher"].names()


def test_broken_plugin_is_fatal_when_asked(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_RAISE_PLUGIN_ERRORS", "1")
    with pytest.raises(PluginError, match="broken_on_import"):
        Plugins([folder_with(tmp_path, "broken_on_import")])


def test_block_list_applies_to_builtins_and_files(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_DISABLE_PLUGINS", "losses,majority_teacher")
    p = Plugins([folder_with(tmp_path, "majority_teacher")])
    assert p.registries["loss"].names() == []
    assert "bigram-file" not in p.registries["teacher"].names()


def test_allow_list_filters_installed_third_party_entry_points(monkeypatch):
    import importlib.metadata as md

    class FakeDist:
        name, version = "third-party", "9.9"

    class FakeEP:
        group = "bench"

        def __init__(self, name):
            self.name, self.dist = name, FakeDist()

        def load(self):
            raise AssertionError(f"{self.name} should not be loaded")

    real = md.entry_points

    def fake(group=None):
        return list(real(group=group)) + [FakeEP("unwanted")]

    monkeypatch.setattr(md, "entry_points", fake)
    monkeypatch.setenv("BENCH_LOAD_PLUGINS", "")
    p = Plugins([])
    assert "unwanted" not in p.info and "teachers" in p.info
    monkeypatch.setenv("BENCH_LOAD_PLUGINS", "unwanted")
    p = Plugins([])  # now it is loaded, fails, and is skipped with a warning
    assert any("unwanted" in w and "third-party" in w for w in p.warnings)


def test_two_third_party_plugins_with_one_name_report_both_origins(tmp_path):
    p = Plugins([folder_with(tmp_path, "dup_loss_a", "dup_loss_b")])
    assert any("dup_loss_a" in w and "dup_loss_b" in w for w in p.warnings)
    with pytest.raises(ConfigError) as exc:
        p.get("loss", "dup-loss")
    assert "dup_loss_a" in str(exc.value) and "dup_loss_b" in str(exc.value)


def test_builtin_wins_over_a_third_party_shadow(tmp_path):
    p = Plugins([folder_with(tmp_path, "shadow_kl")])
    assert p.registries["loss"].get("kl").origin == "losses"
    assert any("shadow_kl" in w and "built-in" in w for w in p.warnings)


def test_misspelled_hook_is_skipped_with_did_you_mean(tmp_path):
    p = Plugins([folder_with(tmp_path, "misspelled_hook")])
    assert any("misspelled_hook" in w and "did you mean 'bench_register_teachers'" in w for w in p.warnings)
