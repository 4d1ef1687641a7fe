"""Published numbers, one YAML file per source table (see tables/)."""
from pathlib import Path

from benchmark import hookimpl
from benchmark.baselines import load_baseline_yaml

TABLES = Path(__file__).parent / "tables"


@hookimpl
def bench_register_baselines():
    return [load_baseline_yaml(p) for p in sorted(TABLES.glob("*.yaml"))]
