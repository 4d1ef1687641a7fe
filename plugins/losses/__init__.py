"""Built-in distillation losses."""
from benchmark import hookimpl

from .kl import KLDistill
from .mse import LogitMSE
from .none import NoDistill


@hookimpl
def bench_register_losses():
    return [NoDistill, KLDistill, LogitMSE]
