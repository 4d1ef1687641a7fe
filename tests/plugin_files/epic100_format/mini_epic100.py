"""EPIC-100 read from files a test writes in its formats: the same loader under another name,
with no manifest (its files are not the published ones, so their checksums cannot match)."""
from benchmark import hookimpl
from plugins.datasets.epic100 import EPIC100


class MiniEPIC100(EPIC100):
    name = "mini-epic100"
    description = "small EPIC-100-format files written by a test"
    manifest_file = None


@hookimpl
def bench_register_datasets():
    return [MiniEPIC100]
