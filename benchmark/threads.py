"""A fixed number of CPU threads for work whose result must not depend on the process.

CPU kernels (reductions, GEMMs, RNN cells) split their work by the number of intra-op threads,
and floating-point sums in a different order round differently: a teacher fitted on 2 threads
gives other soft labels than one fitted on 1, so the same matrix run inline (every core) and on
the queue launcher (one thread per slot) would disagree. The runner fits teachers inside
:func:`fixed_threads`, whatever the launcher set.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator


@contextmanager
def fixed_threads(n: int, device_type: str = "cpu") -> Iterator[None]:
    """Run the body with ``n`` torch intra-op threads on CPU (restored afterwards); on an
    accelerator the CPU thread count does not change results and is left alone."""
    import torch

    if device_type != "cpu":
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(int(n))
    try:
        yield
    finally:
        torch.set_num_threads(before)
