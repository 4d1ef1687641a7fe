"""Built-in pretraining corpora."""
from benchmark import hookimpl


@hookimpl
def bench_register_corpora():
    return []
