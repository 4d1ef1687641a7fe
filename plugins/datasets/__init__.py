"""Built-in datasets."""
from benchmark import hookimpl

from .synthetic import SyntheticKitchens


@hookimpl
def bench_register_datasets():
    return [SyntheticKitchens]
