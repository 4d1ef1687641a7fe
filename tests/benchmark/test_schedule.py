"""The learning-rate schedule against AVT's scheduler composition, rebuilt here from torch's own
schedulers (expected values never come from the code under test)."""
import math

import pytest
import torch

from benchmark.schedule import lr_factor


class _AVTWarmup(torch.optim.lr_scheduler.LRScheduler):
    """AVT ``common/scheduler.py`` ``Warmup`` (init_lr_ratio 0) around a cosine, restated."""

    def __init__(self, optimizer, base, warmup_iters):
        self.base_scheduler = base
        self.warmup_iters = max(warmup_iters, 1)
        self.ratio = 0.0 if self.warmup_iters > 1 else 1.0
        super().__init__(optimizer)

    def get_lr(self):
        return [b * (self.ratio + (1 - self.ratio) * self.last_epoch / self.warmup_iters) for b in self.base_lrs]

    def step(self):
        if self.last_epoch < self.warmup_iters - 1:
            super().step()
        else:
            self.base_scheduler.step()


class _CosineToZero(torch.optim.lr_scheduler.CosineAnnealingLR):
    """AVT's ``CosineLR``: 0 once T_max steps are done."""

    def get_lr(self):
        if self.last_epoch < self.T_max:
            return super().get_lr()
        return [0.0 for _ in self.optimizer.param_groups]


def _avt_rates(base_lr, steps_per_epoch, epochs, warmup_epochs):
    param = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([param], lr=base_lr, momentum=0.9, nesterov=True)
    cosine = _CosineToZero(opt, T_max=(epochs - warmup_epochs) * steps_per_epoch, eta_min=0.0)
    sched = _AVTWarmup(opt, cosine, warmup_epochs * steps_per_epoch)
    rates = []
    for _ in range(epochs * steps_per_epoch):
        rates.append(opt.param_groups[0]["lr"])  # the rate this iteration's optimiser step uses
        opt.step()
        sched.step()
    return rates


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("steps_per_epoch,epochs,warmup", [(7, 10, 5), (4, 15, 0), (3, 6, 1), (5, 4, 4)])
def test_cosine_with_warmup_follows_avts_scheduler(steps_per_epoch, epochs, warmup):
    base = 0.016  # AVT-b on 32 processes: 5e-4 x 32
    expected = _avt_rates(base, steps_per_epoch, epochs, warmup)
    got = [base * lr_factor(s, steps_per_epoch, epochs, warmup, "cosine") for s in range(epochs * steps_per_epoch)]
    assert got == pytest.approx(expected, rel=1e-9, abs=1e-15)


def test_chosen_steps_of_the_avt_b_schedule_by_hand():
    # 10 epochs of 100 steps, 5 of warm-up: W = 500, T = 500
    f = lambda s: lr_factor(s, 100, 10, 5, "cosine")  # noqa: E731
    assert f(0) == 0.0 and f(250) == 0.5 and f(499) == pytest.approx(499 / 500)
    assert f(500) == pytest.approx(499 / 500 * (1 + math.cos(math.pi * 1 / 500)) / 2)
    assert f(749) == pytest.approx(499 / 500 * 0.5)  # half-way through the cosine
    assert f(999) == 0.0  # the last step: T cosine steps done
    # no warm-up: the full rate at step 0, the cosine over every step
    assert lr_factor(0, 10, 3, 0, "cosine") == 1.0
    assert lr_factor(15, 10, 3, 0, "cosine") == pytest.approx((1 + math.cos(math.pi * 15 / 30)) / 2)
    # constant: the base rate, after the linear warm-up when there is one
    assert lr_factor(3, 10, 3, 0) == 1.0 and lr_factor(5, 10, 3, 1) == 0.5 and lr_factor(10, 10, 3, 1) == 1.0


def test_learning_rate_scales_with_the_number_of_processes_as_avt_scales_it():
    from benchmark.run.optim import effective_lr

    train = {"lr": 5e-4, "lr_scaling": "world_size"}
    assert effective_lr(train, 32) == pytest.approx(0.016) and effective_lr(train, 1) == 5e-4
    assert effective_lr({"lr": 5e-4, "lr_scaling": "none"}, 32) == 5e-4
