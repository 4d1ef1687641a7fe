"""Documentation that must stay in step with the code."""
import inspect
import re
from pathlib import Path

import pytest

from benchmark import hookspecs

DOCS = Path(__file__).resolve().parents[1] / "docs"
README = Path(__file__).resolve().parents[1] / "README.md"
HOOKS = [f for n, f in vars(hookspecs).items() if n.startswith("bench_") and callable(f)]


def test_there_are_hooks_of_every_kind():
    names = {f.__name__ for f in HOOKS}
    for kind in ("teachers", "students", "losses", "datasets", "feature_sources", "metrics", "baselines", "launchers"):
        assert f"bench_register_{kind}" in names
    assert {"bench_before_cell", "bench_after_cell", "bench_update_record"} <= names


@pytest.mark.parametrize("hook", HOOKS, ids=lambda f: f.__name__)
def test_every_hook_is_documented_with_its_signature(hook):
    text = (DOCS / "hooks.md").read_text(encoding="utf-8")
    signature = f"{hook.__name__}({', '.join(inspect.signature(hook).parameters)})"
    assert re.search(rf"^#+ .*{re.escape(signature)}", text, re.M), f"{signature} missing from docs/hooks.md"


def test_readme_starts_with_the_two_fresh_machine_commands():
    blocks = re.findall(r"```bash\n(.*?)\n```", README.read_text(encoding="utf-8"), re.S)
    assert "bench run --matrix" in blocks[0] and "pip install" in blocks[0]
    assert "pytest" in blocks[1]


def test_ci_runs_the_readme_test_command():
    blocks = re.findall(r"```bash\n(.*?)\n```", README.read_text(encoding="utf-8"), re.S)
    ci = (README.parent / ".ci" / "run").read_text(encoding="utf-8")
    assert blocks[1].strip() in ci
