from pathlib import Path

from benchmark.matrix import load_matrix
from benchmark.runner import Runner


def test_smoke_matrix_runs_inline(plugins, tmp_path: Path):
    matrix = load_matrix("smoke", plugins, ["train.epochs=1", "matrix.seed=[0]"])
    runner = Runner(plugins, tmp_path / "runs", progress=False)
    summary = runner.run(matrix, echo=lambda line: None)
    assert [r["status"] for r in summary.executed] == ["ok"] * 3
