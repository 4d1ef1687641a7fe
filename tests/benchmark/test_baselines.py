import pytest

from benchmark.baselines import load_baseline_yaml
from benchmark.errors import ConfigError


def test_baseline_yaml_errors_name_file_and_row(tmp_path):
    f = tmp_path / "t.yaml"
    f.write_text("name: t\ncitation: c\nrows:\n  - {dataset: egtea, student: avt, metrics: {top1_action: high}}\n")
    with pytest.raises(ConfigError, match=r"t.yaml: rows\[0\]: metrics must map metric names to numbers"):
        load_baseline_yaml(f)
    f.write_text("name: t\ncitation: c\nrows:\n  - {dataset: egtea, studnet: avt, metrics: {}}\n")
    with pytest.raises(ConfigError, match=r"rows\[0\]: unknown key 'studnet'"):
        load_baseline_yaml(f)
    f.write_text("name: t\nrows: []\n")
    with pytest.raises(ConfigError, match="missing key 'citation'"):
        load_baseline_yaml(f)


def test_shipped_tables_carry_the_papers_numbers(plugins):
    egtea = plugins.get("baseline", "ghosh2023-egtea")
    rows = {r.teacher: r.metrics for r in egtea.rows}
    assert rows["none"] == {"top1_action": 43.52, "mean_class_top1_action": 34.87, "top5_action": 74.53}
    assert rows["roberta"]["top1_action"] == 45.50 and rows["roberta"]["mean_class_top1_action"] == 36.30
    teachers = {r.teacher: r.metrics for r in plugins.get("baseline", "ghosh2023-epic55-teachers").rows}
    assert (teachers["bert"]["top1_action"], teachers["bert"]["top5_action"]) == (18.54, 36.17)
    avt = {r.label: r.metrics for r in plugins.get("baseline", "avt2021").rows}
    assert avt["irCSN-152 + AVT-h"] == {"top1_action": 14.4, "top5_action": 31.7}
    assert avt["AVT-b + AVT-h"]["mean_class_top1_action"] == 35.2
