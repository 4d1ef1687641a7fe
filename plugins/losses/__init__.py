"""Built-in distillation losses."""
from benchmark import hookimpl

from .ensemble import EnsembleDistill
from .feat import FeatDistill
from .kl import KLDistill
from .mse import LogitMSE
from .none import NoDistill
from .uniform import UniformKL


@hookimpl
def bench_register_losses():
    return [NoDistill, KLDistill, LogitMSE, FeatDistill, EnsembleDistill, UniformKL]
