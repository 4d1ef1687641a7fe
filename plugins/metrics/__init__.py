"""Built-in metrics."""
from benchmark import hookimpl

from .accuracy import METRICS


@hookimpl
def bench_register_metrics():
    return list(METRICS)
