"""Built-in teachers."""
from benchmark import hookimpl

from .ngram import NGramTeacher
from .null import NoTeacher
from .sequence import SequenceGRUTeacher


@hookimpl
def bench_register_teachers():
    return [NoTeacher, SequenceGRUTeacher, NGramTeacher]
