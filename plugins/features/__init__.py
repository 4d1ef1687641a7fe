"""Built-in feature sources."""
from benchmark import hookimpl

from .frames import FrameFeatures
from .lmdb_source import LMDBFeatures
from .simulated import SimulatedFeatures


@hookimpl
def bench_register_feature_sources():
    return [SimulatedFeatures, LMDBFeatures, FrameFeatures]
