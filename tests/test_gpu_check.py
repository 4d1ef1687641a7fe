"""The device check script runs its steps on the CPU (the same code path a CUDA machine runs)."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_gpu_check_script_on_cpu(tmp_path):
    out = tmp_path / "check.json"
    res = subprocess.run([sys.executable, str(ROOT / "scripts" / "gpu_check.py"), "--quick", "--device", "cpu",
                          "--out", str(out)], capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert res.returncode == 0, res.stderr[-2000:]
    result = json.loads(out.read_text())
    assert result["device"] == "cpu" and result["bf16"] is True
    smoke = result["smoke_matrix"]
    assert smoke["exit_code"] == 0 and smoke["cells"] == smoke["ok"] == 3 and smoke["devices"] == ["cpu"]
    assert set(result["students"]) == {"gru", "avt", "rulstm"}
    assert all(v["samples_per_s"] > 0 for v in result["students"].values())
    tf = result["teacher_finetune"]
    assert tf["pad512"]["tokens_per_batch"] == 512 and tf["dynamic"]["tokens_per_batch"] < 64
    assert (tmp_path / "check.md").read_text().startswith("# Device check: cpu")
