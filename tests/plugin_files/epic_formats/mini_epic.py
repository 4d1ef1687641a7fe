"""EPIC-55 and EPIC-100 read from files a test writes in their formats: the same loaders under
other names, with no manifest (their files are not the published ones, so their checksums
cannot match)."""
from benchmark import hookimpl
from plugins.datasets.epic55 import EPIC55
from plugins.datasets.epic100 import EPIC100


class MiniEPIC100(EPIC100):
    name = "mini-epic100"
    description = "small EPIC-100-format files written by a test"
    manifest_file = None


class MiniEPIC55(EPIC55):
    name = "mini-epic55"
    description = "small EPIC-55-format files written by a test"
    manifest_file = None


@hookimpl
def bench_register_datasets():
    return [MiniEPIC100, MiniEPIC55]
