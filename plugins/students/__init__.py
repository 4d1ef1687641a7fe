"""Built-in students."""
from benchmark import hookimpl

from .gru import GRUStudent


@hookimpl
def bench_register_students():
    return [GRUStudent]
