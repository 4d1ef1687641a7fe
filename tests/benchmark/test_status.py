"""The one should-run rule and the one claim rule shared by the runner, the worker and the
launchers."""
from __future__ import annotations

import itertools
from types import SimpleNamespace

import pytest

from benchmark import status


@pytest.mark.parametrize("recorded,force,rerun_failed",
                         list(itertools.product(["ok", "failed", "pending"], [False, True], [False, True])))
def test_should_run_truth_table(recorded, force, rerun_failed):
    expected = {("pending", False, False): True, ("failed", False, True): True}.get(
        (recorded, force, rerun_failed), force or recorded == "pending")
    assert status.should_run(recorded, force, rerun_failed) is expected


class FakeLock:
    def __init__(self, free: bool):
        self.free, self.taken = free, False
        self.owner = None if free else SimpleNamespace(describe=lambda: "pid 7 on host-x")

    def acquire(self) -> bool:
        self.taken = self.free
        return self.free

    def release(self) -> None:
        self.taken = False


def job(recorded: str = "pending"):
    cell = SimpleNamespace(matrix="m", axes={"dataset": "d", "teacher": "t", "student": "s", "loss": "l", "seed": 0},
                           feature_source="simulated", label="d/t/s/l/0", baseline=False)
    return SimpleNamespace(cell=cell, run_id="abc", status=recorded)


def store(now: str):
    return SimpleNamespace(status=lambda run_id: now)


def test_claim_takes_a_free_lock_of_an_unrecorded_cell():
    lock = FakeLock(True)
    assert status.claim(job(), lock, store("pending")) is None and lock.taken


def test_claim_leaves_a_held_cell_and_one_recorded_meanwhile():
    held = status.claim(job(), FakeLock(False), store("pending"))
    assert held["status"] == status.RUNNING_ELSEWHERE and held["error"] == "running elsewhere (pid 7 on host-x)"
    assert held["cell"]["label"] == "d/t/s/l/0" and held["metrics"] == {}
    lock = FakeLock(True)
    recorded = status.claim(job(), lock, store("ok"))
    assert recorded["status"] == status.RECORDED_ELSEWHERE
    assert not lock.taken  # given up: released by claim, not left to the caller
    assert status.claim(job("failed"), None, store("failed")) is None  # a rerun of a failed cell
