"""Students that end their process abruptly or never finish: launchers must contain them."""
import os
import time

from torch import nn

from benchmark import Student, hookimpl


class _Exit(nn.Module):
    feature_dim = 4

    def __init__(self, d, c):
        super().__init__()
        self.lin = nn.Linear(d, c)

    def forward(self, x):
        os._exit(3)  # no exception, no cleanup: like a segfault, only the exit code is left


class ExitStudent(Student):
    name = "exit-student"
    description = "ends its process with os._exit(3) in forward (test plugin)"

    def build(self, input_dim, num_classes):
        return _Exit(input_dim, num_classes)


class SleepStudent(Student):
    name = "sleep-student"
    description = "sleeps 120 s in build (test plugin for time budgets)"

    def build(self, input_dim, num_classes):
        time.sleep(120)
        raise AssertionError("the launcher should have stopped this cell")


@hookimpl
def bench_register_students():
    return [ExitStudent, SleepStudent]
