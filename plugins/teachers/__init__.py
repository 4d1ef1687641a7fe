"""Built-in teachers."""
from benchmark import hookimpl

from .null import NoTeacher
from .sequence import SequenceGRUTeacher


@hookimpl
def bench_register_teachers():
    return [NoTeacher, SequenceGRUTeacher]
