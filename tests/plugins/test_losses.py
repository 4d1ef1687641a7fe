import math

import pytest
import torch

from benchmark.config import build_config
from benchmark.errors import ConfigError
from plugins.losses import bench_register_losses
from plugins.losses.ensemble import EnsembleConfig, EnsembleDistill
from plugins.losses.feat import FeatConfig, FeatDistill
from plugins.losses.kl import KLConfig, KLDistill
from plugins.losses.modules import feature_distance, kl_distill
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


# ----------------------------------------------------------------------------- kl, more cases


@pytest.mark.parametrize("reduction", ["batchmean", "paper"])
@pytest.mark.parametrize("top_k", [0, 3])
def test_kl_is_zero_for_identical_logits_with_every_reduction_and_top_k(reduction, top_k):
    z = torch.randn(4, 10) * 5
    assert kl_distill(z, z.clone(), 4.0, top_k=top_k, reduction=reduction).abs() < 1e-6
    module = KLDistill(KLConfig(weight=7.0, temperature=4.0, top_k=top_k, reduction=reduction)).build(8, None)
    assert module({"logits": z}, {"logits": z.clone()}).abs() < 1e-5


def test_top_k_keeps_each_samples_own_top_classes_hand_computed():
    # row 0: teacher's top-2 are classes {0, 1}; row 1: {3, 2}. On each pair the teacher's logits
    # differ by +1 and the student's by -1, so with T = 1 the per-sample KL is
    # sig(1) * 1 + sig(-1) * (-1) = tanh(1/2); everything outside the pair is ignored.
    t = torch.tensor([[5.0, 4.0, -9.0, -9.0], [-9.0, -9.0, 4.0, 5.0]])
    s = torch.tensor([[0.0, 1.0, 30.0, -3.0], [50.0, -8.0, 1.0, 0.0]])
    expected = math.tanh(0.5)
    torch.testing.assert_close(kl_distill(s, t, 1.0, top_k=2), torch.tensor(expected))
    torch.testing.assert_close(kl_distill(s, t, 1.0, top_k=2, reduction="paper"), torch.tensor(expected / 2))


# ----------------------------------------------------------------------------- feat


def _identity_feat(distance: str, dim: int = 3, weight: float = 1.0):
    module = FeatDistill(FeatConfig(weight=weight, distance=distance)).build(dim, dim)
    with torch.no_grad():
        module.proj.weight.copy_(torch.eye(dim))
        module.proj.bias.zero_()
    return module


def test_feat_cosine_is_zero_for_identical_and_two_for_opposite_vectors():
    f = torch.tensor([[1.0, -2.0, 0.5], [3.0, 0.0, 1.0]])
    module = _identity_feat("cosine")
    assert module({"feature": f}, {"features": f.clone()}).abs() < 1e-6
    torch.testing.assert_close(module({"feature": f}, {"features": -f}), torch.tensor(2.0))
    # scale does not matter, the weight multiplies
    half = _identity_feat("cosine", weight=0.5)
    torch.testing.assert_close(half({"feature": f}, {"features": -3 * f}), torch.tensor(1.0))


def test_feat_nmse_hand_computed():
    # sample 0: (3, 4)/5 = (0.6, 0.8) vs (1, 0): squared errors 0.16 + 0.64; sample 1: same direction
    # -> 0. Mean over 2 x 2 elements: 0.2, times weight 3.
    pred = torch.tensor([[3.0, 4.0], [0.0, 2.0]])
    target = torch.tensor([[1.0, 0.0], [0.0, 5.0]])
    module = _identity_feat("nmse", dim=2, weight=3.0)
    torch.testing.assert_close(module({"feature": pred}, {"features": target}), torch.tensor(0.6))
    # nmse = 2 / D * cosine for unit vectors (cosine here: mean(0.4, 0) = 0.2)
    torch.testing.assert_close(feature_distance(pred, target, "cosine"), torch.tensor(0.2))
    torch.testing.assert_close(feature_distance(pred, target, "nmse"), torch.tensor(0.2 * 2 / 2))


@pytest.mark.parametrize("distance", ["cosine", "nmse"])
@pytest.mark.parametrize("hidden", [0, 5])
def test_feat_gradient_reaches_student_and_projection_but_not_teacher(distance, hidden):
    module = FeatDistill(FeatConfig(distance=distance, hidden=hidden)).build(4, 6)
    f = torch.randn(3, 4, requires_grad=True)
    t = torch.randn(3, 6, requires_grad=True)
    value = module({"feature": f, "logits": torch.randn(3, 5)}, {"logits": torch.randn(3, 5), "features": t})
    assert value.ndim == 0 and value > 0
    value.backward()
    assert t.grad is None
    assert f.grad is not None and f.grad.abs().sum() > 0
    assert all(p.grad is not None for p in module.parameters())


def test_feat_needs_teacher_features_and_a_student_feature():
    assert FeatDistill.requires_teacher_features and FeatDistill.requires_teacher
    with pytest.raises(ConfigError, match="teacher provides no features"):
        FeatDistill().build(8, None)
    with pytest.raises(ConfigError, match="feature_dim"):
        FeatDistill().build(0, 16)
    with pytest.raises(ConfigError, match=r"loss feat.distance: expected one of 'cosine', 'nmse', got 'l1'"):
        build_config(FeatConfig, {"distance": "l1"}, "loss feat")


# ----------------------------------------------------------------------------- ensemble


def _kl(out: dict, logits: torch.Tensor, **cfg) -> torch.Tensor:
    return KLDistill(KLConfig(**cfg)).build(8, None)(out, {"logits": logits})


@pytest.mark.parametrize("reduction", ["batchmean", "paper"])
@pytest.mark.parametrize("top_k", [0, 3])
def test_ensemble_mean_of_two_identical_teachers_equals_kl_with_one(reduction, top_k):
    s, t = torch.randn(4, 9), torch.randn(4, 9) * 3
    settings = dict(weight=2.5, temperature=3.0, top_k=top_k, reduction=reduction)
    module = EnsembleDistill(EnsembleConfig(teachers=["other"], **settings)).build(8, None)
    value = module({"logits": s}, {"logits": t, "members": torch.stack([t, t], dim=1)})
    torch.testing.assert_close(value, _kl({"logits": s}, t, **settings))


def test_ensemble_mean_mixes_probabilities_at_temperature_hand_computed():
    # T = 2: teacher A (0, 0) -> (1/2, 1/2); teacher B (2 ln 3, 0) -> (3/4, 1/4);
    # mixture (5/8, 3/8); student (0, 0) -> (1/2, 1/2).
    # loss = T^2 * [5/8 ln(5/4) + 3/8 ln(3/4)]
    a = torch.tensor([[0.0, 0.0]])
    b = torch.tensor([[2 * math.log(3.0), 0.0]])
    s = torch.zeros(1, 2)
    expected = 4 * (5 / 8 * math.log(5 / 4) + 3 / 8 * math.log(3 / 4))
    module = EnsembleDistill(EnsembleConfig(teachers=["b"], temperature=2.0)).build(8, None)
    value = module({"logits": s}, {"logits": a, "members": torch.stack([a, b], dim=1)})
    torch.testing.assert_close(value, torch.tensor(expected))
    # averaging in probability space differs from averaging the logits
    assert not torch.isclose(value, _kl({"logits": s}, (a + b) / 2, temperature=2.0))


def test_ensemble_attention_weights_sum_to_one_get_gradients_and_mix_hand_computed():
    torch.manual_seed(0)
    module = EnsembleDistill(EnsembleConfig(teachers=["b", "c"], mode="attention")).build(4, None)
    members = torch.randn(5, 3, 6) * 2
    out = {"logits": torch.randn(5, 6, requires_grad=True), "feature": torch.randn(5, 4, requires_grad=True)}
    weights = module.member_log_weights(out, 5, 3).exp()
    assert weights.shape == (5, 3)
    torch.testing.assert_close(weights.sum(-1), torch.ones(5))
    value = module(out, {"logits": members[:, 0], "members": members})
    value.backward()
    assert module.scorer.weight.grad is not None and module.scorer.weight.grad.abs().sum() > 0
    assert module.scorer.bias.grad.abs().sum() > 0
    assert out["logits"].grad is not None
    assert out["feature"].grad is None  # the scorer reads a detached feature

    # fixed weights (1/4, 3/4) over two teachers reproduce the hand-computed mixture above
    two = EnsembleDistill(EnsembleConfig(teachers=["b"], mode="attention", temperature=2.0)).build(4, None)
    with torch.no_grad():
        two.scorer.weight.zero_()
        two.scorer.bias.copy_(torch.tensor([0.0, math.log(3.0)]))
    a, b = torch.tensor([[0.0, 0.0]]), torch.tensor([[2 * math.log(3.0), 0.0]])
    # mixture (1/4 * 1/2 + 3/4 * 3/4, 1/4 * 1/2 + 3/4 * 1/4) = (11/16, 5/16)
    expected = 4 * (11 / 16 * math.log(11 / 8) + 5 / 16 * math.log(5 / 8))
    value = two({"logits": torch.zeros(1, 2), "feature": torch.randn(1, 4)},
                {"logits": a, "members": torch.stack([a, b], dim=1)})
    torch.testing.assert_close(value, torch.tensor(expected))


@pytest.mark.parametrize("mode", ["mean", "attention"])
@pytest.mark.parametrize("top_k,reduction", [(0, "batchmean"), (0, "paper"), (4, "batchmean"), (4, "paper")])
def test_ensemble_without_members_equals_kl(mode, top_k, reduction):
    s, t = torch.randn(3, 11), torch.randn(3, 11) * 4
    settings = dict(weight=1.5, temperature=2.0, top_k=top_k, reduction=reduction)
    module = EnsembleDistill(EnsembleConfig(mode=mode, **settings)).build(4, None)
    out = {"logits": s, "feature": torch.randn(3, 4)}
    torch.testing.assert_close(module(out, {"logits": t}), _kl(out, t, **settings))


def test_ensemble_config_member_teachers_and_registration():
    assert EnsembleDistill().member_teachers() == []
    loss = EnsembleDistill(EnsembleConfig(teachers=["bert", "gpt2-small"]))
    assert loss.member_teachers() == ["bert", "gpt2-small"]
    module = loss.build(4, None)
    with pytest.raises(ValueError, match="no 'members'"):
        module({"logits": torch.zeros(2, 3)}, {"logits": torch.zeros(2, 3)})
    with pytest.raises(ConfigError, match="feature_dim"):
        EnsembleDistill(EnsembleConfig(mode="attention")).build(0, None)
    with pytest.raises(ConfigError, match=r"ensemble.temperature: expected > 0, got 0.0"):
        build_config(EnsembleConfig, {"temperature": 0.0}, "ensemble")
    with pytest.raises(ConfigError, match=r"ensemble.reduction: .*got 'batchmaen'.*Did you mean 'batchmean'\?"):
        build_config(EnsembleConfig, {"reduction": "batchmaen"}, "ensemble")
    names = {cls.name for cls in bench_register_losses()}
    assert {"none", "kl", "mse", "feat", "ensemble"} <= names


def test_uniform_kl_equals_kl_with_a_constant_teacher():
    import torch

    from benchmark.config import build_config
    from plugins.losses.kl import KLDistill
    from plugins.losses.uniform import UniformKL

    torch.manual_seed(0)
    student = torch.randn(4, 7)
    for t, red in ((1.0, "batchmean"), (5.0, "paper")):
        u = UniformKL(build_config(UniformKL.Config, {"weight": 2.0, "temperature": t, "reduction": red}, "u")).build(0, None)
        k = KLDistill(build_config(KLDistill.Config, {"weight": 2.0, "temperature": t, "reduction": red}, "k")).build(0, None)
        expected = k({"logits": student}, {"logits": torch.full((4, 7), 3.0)})
        assert torch.allclose(u({"logits": student}, {}), expected)
    # zero when the student is uniform too
    assert float(u({"logits": torch.ones(2, 7)}, {})) == 0.0


def test_teacher_free_loss_is_compared_with_the_baseline_not_used_as_one(plugins):
    from benchmark.matrix import build_matrix

    m = build_matrix({"matrix": {"dataset": "synthetic", "student": "gru", "teacher": ["none", "seq-gru"],
                                 "loss": ["none", "uniform-kl"]}}, plugins)
    cells = {(c.teacher, c.loss): c.baseline for c in m.cells}
    assert cells == {("none", "none"): True, ("none", "uniform-kl"): False}
