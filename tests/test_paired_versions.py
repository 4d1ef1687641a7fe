"""scripts/paired_versions.py on records written here."""
import importlib.util
import json
from pathlib import Path

SCRIPT = Path(__file__).parents[1] / "scripts" / "paired_versions.py"


def _load():
    spec = importlib.util.spec_from_file_location("paired_versions", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _record(root, rid, version, seed, top1, loss="none"):
    folder = root / rid
    folder.mkdir(parents=True)
    rec = {"run_id": rid, "status": "ok", "matrix": "m", "versions": {"student": version},
           "cell": {"dataset": "egtea", "student": "avt", "teacher": "none", "loss": loss, "seed": seed},
           "metrics": {"top1_action": top1}}
    (folder / "record.json").write_text(json.dumps(rec))


def test_pairs_the_seeds_both_versions_ran(tmp_path, capsys):
    for seed, (a, b) in enumerate([(40.0, 41.0), (42.0, 41.5), (39.0, 41.0)]):
        _record(tmp_path, f"a{seed}", "avt@1", seed, a)
        _record(tmp_path, f"b{seed}", "avt@2", seed, b)
    _record(tmp_path, "b9", "avt@2", 9, 50.0)  # no partner: left out
    assert _load().main(["--runs-dir", str(tmp_path), "--matrix", "m", "--a", "avt@1", "--b", "avt@2"]) == 0
    out = capsys.readouterr().out
    # diffs +1.0, -0.5, +2.0: mean 0.83, sample std 1.26
    assert "egtea/avt/none/none" in out and "40.33 -> 41.17" in out and "diff +0.83 ± 1.26" in out
    assert "2/3 higher" in out and "s9" not in out
    assert _load().main(["--runs-dir", str(tmp_path), "--matrix", "other", "--a", "avt@1", "--b", "avt@2"]) == 2
