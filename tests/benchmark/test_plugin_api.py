"""Plugin API versions: a plugin written against API 1 (the teacher example of docs/plugins.md as
it read under API 1, kept verbatim in tests/plugin_files/api1/) loads with a deprecation warning
and still runs; the example as docs/plugins.md prints it today is API 2 and loads silently."""
import re
import warnings
from pathlib import Path

import pytest

from benchmark.api import FitContext, Teacher, TeacherOutput
from benchmark.matrix import build_matrix
from benchmark.plugin_api import API_VERSION, PluginAPIDeprecationWarning, api_version, fit_teacher
from benchmark.plugin_manager import get_plugins
from benchmark.run import Runner

ROOT = Path(__file__).resolve().parents[2]
API1 = ROOT / "tests" / "plugin_files" / "api1"


def _docs_example(tmp_path: Path) -> Path:
    text = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
    code = re.search(r"`my_plugins/bigram_teacher.py`\n\n```python\n(.*?)```", text, re.S).group(1)
    folder = tmp_path / "docs_example"
    folder.mkdir()
    (folder / "bigram_teacher.py").write_text(code, encoding="utf-8")
    return folder


def test_an_api1_teacher_loads_with_a_deprecation_warning_and_runs_a_matrix(tmp_path):
    with pytest.warns(PluginAPIDeprecationWarning, match=r"teacher 'bigram'.*plugin API 1.*fit\(data, accelerator, seed, context\)"):
        plugins = get_plugins([str(API1)])
    assert api_version(plugins.get("teacher", "bigram")) == 1
    matrix = build_matrix({"matrix": {"dataset": "synthetic", "teacher": "bigram", "student": "gru", "loss": "kl"},
                           "train": {"epochs": 1},
                           "components": {"dataset": {"synthetic": {"train_videos": 6, "val_videos": 2}}}}, plugins)
    summary = Runner(plugins, tmp_path / "runs", progress=False).run(matrix, echo=lambda line: None)
    assert [r["status"] for r in summary.executed] == ["ok"]
    assert summary.executed[0]["teacher_metrics"]["top5_action"] > 0


def test_the_documented_teacher_is_api2_and_loads_without_a_warning(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error", PluginAPIDeprecationWarning)
        plugins = get_plugins([str(_docs_example(tmp_path))])
    assert api_version(plugins.get("teacher", "bigram")) == API_VERSION == 2


def test_every_builtin_component_is_on_the_current_api():
    with warnings.catch_warnings():
        warnings.simplefilter("error", PluginAPIDeprecationWarning)
        plugins = get_plugins()
    teachers = plugins.registries["teacher"]
    assert all(api_version(plugins.get("teacher", name)) == API_VERSION for name in teachers.names())


class _Api1(Teacher):
    name = "api1-probe"

    def fit(self, data, accelerator, seed):
        self.seen = (self.plugins, self.data_dir, seed)

    def predict(self, data, split, accelerator):
        return TeacherOutput(None)


class _Api2(Teacher):
    name = "api2-probe"

    def fit(self, data, accelerator, seed, context):
        self.seen = (context.plugins, context.data_dir, seed)
        assert self.plugins is None and self.data_dir is None  # nothing is injected any more

    def predict(self, data, split, accelerator):
        return TeacherOutput(None)


@pytest.mark.parametrize("cls", [_Api1, _Api2])
def test_each_api_gets_the_plugins_and_the_data_folder_its_way(cls, tmp_path):
    teacher = cls()
    fit_teacher(teacher, None, None, 7, FitContext("registries", tmp_path))
    assert teacher.seen == ("registries", tmp_path, 7)
