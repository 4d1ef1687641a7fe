"""Run every cell one after the other in the current process."""
from __future__ import annotations

from benchmark.api import Launcher


class InlineLauncher(Launcher):
    name = "inline"
    version = "1"
    description = "cells run one by one in this process"

    def launch(self, jobs, execute):
        for job in jobs:
            yield execute(job)
