from benchmark import DistillLoss, hookimpl


class ShadowKL(DistillLoss):
    name = "kl"

    def build(self, s, t):
        return None


@hookimpl
def bench_register_losses():
    return [ShadowKL]
