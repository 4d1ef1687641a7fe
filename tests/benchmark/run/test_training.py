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

    built = []

    def spying_build(*args):
        model = build(*args)
        model.register_forward_hook(lambda module, inputs, out: seen.append(out["logits"].dtype))
        built.append(model)
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
    assert {p.dtype for p in built[0].parameters()} == {torch.float32}  # fp32 master weights
    assert result.val_scores.dtype == np.float32 and np.isfinite(result.val_scores).all()
    assert all(np.isfinite(result.epoch_losses))


def _gru_data(n: int = 53, n_val: int = 21):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((n, 4, 8)).astype(np.float32)
    x_val = rng.standard_normal((n_val, 4, 8)).astype(np.float32)
    return TrainData(x, np.arange(n) % 5, x_val, 5)


def _plain_train(**extra):
    return {"optimizer": "adamw", "lr": 0.01, "weight_decay": 0.0, "grad_clip": 0.0, "batch_size": 8,
            "eval_batch_size": 6, "epochs": 3, "schedule": "constant", "warmup_epochs": 0, "cpu": True,
            "mixed_precision": "no", **extra}


def _train(data, train, seed=0):
    import torch

    from benchmark.run.accelerators import make_accelerator
    from plugins.losses.none import NoDistill

    torch.manual_seed(seed)
    return train_and_evaluate(_student(), NoDistill(), data,
                              TrainSettings(train, seed, make_accelerator(train), logging.getLogger("test")))


def test_the_loop_trains_exactly_like_a_shuffled_dataloader_loop_written_here():
    """The pre-device-batches loop, written out: an Accelerate-prepared shuffled DataLoader over a
    TensorDataset, the student's loss, AdamW; then the validation set in order. Same seed, same
    bits."""
    import torch
    from accelerate import Accelerator
    from torch.utils.data import DataLoader, TensorDataset

    data, train = _gru_data(), _plain_train()
    got = _train(data, train, seed=3)

    torch.manual_seed(3)
    student = _student()
    model = student.build(8, 5)
    opt = torch.optim.AdamW(model.parameters(), lr=0.01, weight_decay=0.0)
    acc = Accelerator(cpu=True)
    loader = acc.prepare(DataLoader(TensorDataset(torch.from_numpy(data.x_train), torch.from_numpy(data.y_train).long()),
                                    batch_size=8, shuffle=True, generator=torch.Generator().manual_seed(3)))
    losses = []
    for _ in range(3):
        model.train()
        total = 0.0
        for x, y in loader:
            value = student.own_loss(model(x), y)
            opt.zero_grad(set_to_none=True)
            value.backward()
            opt.step()
            total += float(value.detach()) * len(y)
        losses.append(total / len(data.y_train))
    model.eval()
    with torch.no_grad():
        expected = torch.cat([model(torch.from_numpy(data.x_val[i:i + 6]))["logits"] for i in range(0, 21, 6)])
    np.testing.assert_array_equal(got.val_scores, expected.numpy())
    assert got.epoch_losses == pytest.approx(losses, rel=1e-12)


def test_inputs_streamed_in_chunks_train_exactly_like_resident_inputs(caplog):
    data = _gru_data()
    resident = _train(data, _plain_train())
    row_mb = data.x_train[0].nbytes / 2**20
    with caplog.at_level(logging.INFO, logger="test"):
        chunked = _train(data, _plain_train(device_memory_mb=row_mb * 20))  # 53 rows do not fit
    assert "inputs: training chunked (2 batches a chunk)" in caplog.text
    np.testing.assert_array_equal(chunked.val_scores, resident.val_scores)
    assert chunked.epoch_losses == resident.epoch_losses


def test_cells_with_other_precisions_run_one_after_another_in_one_process():
    """Accelerate's state is process-wide; the suite's Accelerator clears it between cells on one
    process, so an inline run may mix fp32 and bf16 cells."""
    data = _gru_data()
    first = _train(data, _plain_train(epochs=1))
    bf16 = _train(data, _plain_train(epochs=1, mixed_precision="bf16"))
    again = _train(data, _plain_train(epochs=1))
    assert np.isfinite(bf16.val_scores).all()
    np.testing.assert_array_equal(first.val_scores, again.val_scores)


def test_a_compiled_student_drops_the_short_batch_and_reports_its_warmup():
    """53 samples in batches of 8: 6 equal steps an epoch (5 samples left out, others each
    epoch); 21 validation rows in batches of 6, the last padded and cut back."""
    data = _gru_data()
    result = _train(data, _plain_train(compile=True, compile_backend="aot_eager"))
    opt = result.optimization
    assert opt["steps_per_epoch"] == 6
    assert opt["compile"]["backend"] == "aot_eager" and opt["compile"]["warmup_s"] >= 0
    assert opt["first_step_s"] > 0 and opt["step_s"] > 0
    assert result.val_scores.shape == (21, 5) and np.isfinite(result.val_scores).all()
