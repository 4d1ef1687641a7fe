"""The Accelerator of a cell or a teacher fit.

Accelerate keeps its state (device, mixed precision) for the whole process, and a second
``Accelerator`` with other settings raises. One process that runs cells one after another
(the inline launcher, ``bench teachers``) may need bf16 for one cell and fp32 for the next, so
on a single process the state is cleared before each new Accelerator. Over several processes
the state holds the process group, and every cell of such a run is its own launch anyway."""
from __future__ import annotations

from typing import Any


def make_accelerator(train: dict[str, Any], **kwargs: Any) -> Any:
    """``Accelerator(cpu=train.cpu, mixed_precision=train.mixed_precision, **kwargs)``."""
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState, PartialState

    if AcceleratorState._shared_state and PartialState().num_processes == 1:
        AcceleratorState._reset_state(reset_partial_state=True)
    return Accelerator(cpu=bool(train["cpu"]), mixed_precision=train["mixed_precision"], **kwargs)
