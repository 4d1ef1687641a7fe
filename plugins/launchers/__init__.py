"""Built-in launchers."""
from benchmark import hookimpl

from .gpu_queue import QueueLauncher
from .inline import InlineLauncher
from .process import ProcessLauncher
from .submitit_launcher import SubmititLauncher


@hookimpl
def bench_register_launchers():
    return [InlineLauncher, ProcessLauncher, QueueLauncher, SubmititLauncher]
