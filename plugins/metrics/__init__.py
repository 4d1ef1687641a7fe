"""Built-in metrics."""
from benchmark import hookimpl

from .accuracy import METRICS
from .ek100 import EK100_METRICS
from .recall import RECALL_METRICS


@hookimpl
def bench_register_metrics():
    return list(METRICS) + list(RECALL_METRICS) + list(EK100_METRICS)
