"""Built-in launchers."""
from benchmark import hookimpl

from .inline import InlineLauncher


@hookimpl
def bench_register_launchers():
    return [InlineLauncher]
