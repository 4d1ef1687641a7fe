import torch

from plugins.losses.kl import KLConfig, KLDistill
from plugins.losses.modules import kl_distill
from plugins.losses.mse import LogitMSE
from plugins.losses.none import NoDistill


def test_kl_is_zero_for_identical_logits_and_positive_otherwise():
    z = torch.randn(4, 10)
    assert kl_distill(z, z, 2.0).abs() < 1e-6
    assert kl_distill(z, torch.randn(4, 10), 2.0) > 0


def test_paper_reduction_equals_batchmean_divided_by_classes():
    torch.manual_seed(0)
    s, t = torch.randn(8, 106), torch.randn(8, 106)
    paper = kl_distill(s, t, 10.0, reduction="paper")
    batchmean = kl_distill(s, t, 10.0, reduction="batchmean")
    torch.testing.assert_close(paper * 106, batchmean)
    # EPIC-55 setting: top-50 classes, so paper weight 20 == batchmean weight 20 / 50
    s, t = torch.randn(8, 2513), torch.randn(8, 2513)
    torch.testing.assert_close(
        20 * kl_distill(s, t, 5.0, top_k=50, reduction="paper"),
        0.4 * kl_distill(s, t, 5.0, top_k=50, reduction="batchmean"),
    )


def test_kl_matches_torch_kldiv_with_t_squared():
    s, t = torch.randn(5, 7), torch.randn(5, 7)
    T = 3.0
    ref = torch.nn.functional.kl_div(
        torch.log_softmax(s / T, -1), torch.log_softmax(t / T, -1), reduction="batchmean", log_target=True
    ) * T * T
    torch.testing.assert_close(kl_distill(s, t, T), ref)


def test_top_k_uses_the_teachers_best_classes_only():
    t = torch.tensor([[5.0, 4.0, -9.0, -9.0]])
    s1 = torch.tensor([[1.0, 0.0, 3.0, -3.0]])
    s2 = torch.tensor([[1.0, 0.0, -7.0, 8.0]])  # differs only outside the teacher's top 2
    torch.testing.assert_close(kl_distill(s1, t, 1.0, top_k=2), kl_distill(s2, t, 1.0, top_k=2))


def test_loss_modules_and_weight():
    out = {"logits": torch.randn(3, 5, requires_grad=True)}
    teacher = {"logits": torch.randn(3, 5)}
    kl = KLDistill(KLConfig(weight=2.0, temperature=1.0)).build(8, None)
    value = kl(out, teacher)
    torch.testing.assert_close(value, 2.0 * kl_distill(out["logits"], teacher["logits"], 1.0))
    value.backward()
    assert out["logits"].grad is not None
    assert NoDistill().build(8, None) is None and not NoDistill.requires_teacher
    assert LogitMSE().build(8, None)(out, teacher) > 0
