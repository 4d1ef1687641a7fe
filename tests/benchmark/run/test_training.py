import logging

import numpy as np
import pytest

from benchmark.run.training import TrainData, TrainSettings, train_and_evaluate


def _student():
    from plugins.students.gru import GRUStudent

    return GRUStudent(GRUStudent.Config(hidden=16))


def _fit(checkpoint_dir, schedule):
    from accelerate import Accelerator

    from plugins.losses.none import NoDistill

    rng = np.random.default_rng(0)
    x = rng.standard_normal((48, 4, 8)).astype(np.float32)
    y = np.arange(48) % 4
    train = {"optimizer": "adamw", "lr": 0.01, "weight_decay": 0.0, "grad_clip": 0.0, "batch_size": 16,
             "eval_batch_size": 48, "epochs": 4, "schedule": schedule, "warmup_epochs": 1,
             "checkpoint_every_epochs": 1}
    return train_and_evaluate(_student(), NoDistill(), TrainData(x, y, x, 4),
                              TrainSettings(train, 0, Accelerator(cpu=True), logging.getLogger("test"),
                                            checkpoint_dir=checkpoint_dir))


@pytest.mark.parametrize("schedule", ["constant", "cosine"])
def test_a_run_resumed_from_its_last_checkpoint_ends_like_the_whole_run(tmp_path, schedule):
    """The schedule scales the configured learning rate after a resume too, not the rate the
    checkpointed optimiser last stepped with."""
    whole = _fit(tmp_path, schedule)  # leaves the checkpoint after epoch 3 of 4
    resumed = _fit(tmp_path, schedule)
    assert resumed.resumed_from_epoch == 3
    assert resumed.epoch_losses == whole.epoch_losses
    np.testing.assert_array_equal(resumed.val_scores, whole.val_scores)


def test_bf16_autocast_on_cpu_trains_in_bf16_and_scores_in_fp32():
    import torch
    from accelerate import Accelerator

    from plugins.losses.none import NoDistill

    rng = np.random.default_rng(0)
    x = rng.standard_normal((48, 4, 8)).astype(np.float32)
    y = np.arange(48) % 4
    train = {"optimizer": "adamw", "lr": 0.01, "weight_decay": 0.0, "grad_clip": 0.0, "batch_size": 16,
             "eval_batch_size": 48, "epochs": 2, "schedule": "constant", "warmup_epochs": 0}
    student, seen = _student(), []
    build = student.build

    def spying_build(*args):
        model = build(*args)
        model.register_forward_hook(lambda module, inputs, out: seen.append(out["logits"].dtype))
        return model

    student.build = spying_build
    from accelerate.state import AcceleratorState

    AcceleratorState._reset_state(True)  # the process-wide state other tests set up with fp32
    try:
        result = train_and_evaluate(student, NoDistill(), TrainData(x, y, x, 4),
                                    TrainSettings(train, 0, Accelerator(cpu=True, mixed_precision="bf16"),
                                                  logging.getLogger("test")))
    finally:
        AcceleratorState._reset_state(True)
    assert torch.bfloat16 in seen  # the forward ran under bf16 autocast
    assert result.val_scores.dtype == np.float32 and np.isfinite(result.val_scores).all()
    assert all(np.isfinite(result.epoch_losses))
