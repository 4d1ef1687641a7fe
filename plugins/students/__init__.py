"""Built-in students."""
from benchmark import hookimpl

from .avt import AVTBStudent, AVTEgteaStudent, AVTEpic55Student, AVTStudent
from .gru import GRUStudent
from .rulstm import RULSTMPaperStudent, RULSTMStudent


@hookimpl
def bench_register_students():
    return [GRUStudent, RULSTMStudent, RULSTMPaperStudent, AVTStudent, AVTEpic55Student, AVTEgteaStudent,
            AVTBStudent]
