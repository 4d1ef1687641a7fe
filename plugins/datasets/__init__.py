"""Built-in datasets."""
from benchmark import hookimpl

from .egtea import EGTEA
from .epic55 import EPIC55
from .epic100 import EPIC100
from .synthetic import SyntheticKitchens


@hookimpl
def bench_register_datasets():
    return [SyntheticKitchens, EPIC55, EPIC100, EGTEA]
