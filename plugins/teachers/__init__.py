"""Built-in teachers: the text teachers (one transformers family, several presets), two
reference teachers without text (n-gram, seq-gru) and the no-teacher baseline."""
from benchmark import hookimpl

from .ngram import NGramTeacher
from .null import NoTeacher
from .sequence import SequenceGRUTeacher
from .text import PRESETS


@hookimpl
def bench_register_teachers():
    return [NoTeacher, SequenceGRUTeacher, NGramTeacher, *PRESETS]
