"""ScaledAdam and Eden (Zipformer paper): hand-computed values and a toy problem."""

import copy

import pytest
import torch

from spear_bench.train.optim import Eden, EdenConfig, ScaledAdam, ScaledAdamConfig, eden_factor


def test_eden_factor_hand_values():
    cfg = EdenConfig(lr_steps=7500, lr_epochs=3.5, warmup_steps=500, warmup_start=0.5)
    assert eden_factor(0, 0, cfg) == pytest.approx(0.5)  # warmup starts at half
    # step 250: warmup 0.75, step term ((250^2 + 7500^2)/7500^2)^-0.25 = (1 + 1/900)^-0.25
    assert eden_factor(250, 0, cfg) == pytest.approx(0.75 * (1 + 1 / 900) ** -0.25)
    assert eden_factor(7500, 0, cfg) == pytest.approx(2**-0.25)  # 0.840896
    assert eden_factor(7500, 3.5, cfg) == pytest.approx(2**-0.5)  # 0.707107
    assert eden_factor(15000, 7.0, cfg) == pytest.approx(5**-0.5)  # ((4+1)/1)^-0.25 twice


def test_eden_sets_the_learning_rate_and_round_trips_its_state():
    model = torch.nn.Linear(3, 2)
    opt = ScaledAdam(model.parameters(), ScaledAdamConfig(lr=0.045))
    sched = Eden(opt, EdenConfig())
    assert sched.get_last_lr() == [pytest.approx(0.0225)]
    sched.step_epoch(3.5)
    sched.step_batch(7500)
    assert sched.get_last_lr() == [pytest.approx(0.045 * 2**-0.5)]
    other = Eden(ScaledAdam(model.parameters(), ScaledAdamConfig(lr=0.045)), EdenConfig())
    other.load_state_dict(sched.state_dict())
    assert other.get_last_lr() == sched.get_last_lr()


def test_first_update_is_relative_to_the_parameter_rms_plus_a_scale_step():
    # On step 1, Adam's normalised gradient is sign(g) and the scale gradient's is sign(sum g*p);
    # with momentum (1 - beta1) = 0.1: delta = 0.1 * (-lr * rms(p) * sign(g) - lr * 0.1 * sign(h) * p).
    p = torch.nn.Parameter(torch.tensor([[1.0, -2.0], [3.0, 0.5]]))
    p.grad = torch.tensor([[0.1, -0.3], [0.2, 0.0]])
    opt = ScaledAdam([p], ScaledAdamConfig(lr=0.05, clipping_scale=None, eps=1e-12))
    before = p.detach().clone()
    opt.step()
    rms = float(before.pow(2).mean().sqrt())  # sqrt((1 + 4 + 9 + 0.25)/4)
    h = float((p.grad * before).sum())  # 0.1 + 0.6 + 0.6 = 1.3 > 0
    assert h > 0
    expected = before + 0.1 * (-0.05 * rms * torch.sign(p.grad) - 0.05 * 0.1 * before)
    assert torch.allclose(p.detach(), expected, atol=1e-6)


def test_scalar_parameters_get_plain_adam_at_a_scaled_learning_rate_and_are_clamped():
    s = torch.nn.Parameter(torch.tensor(9.99))
    s.grad = torch.tensor(-4.0)
    opt = ScaledAdam([s], ScaledAdamConfig(lr=0.5, clipping_scale=None, eps=1e-12, scalar_max=10.0))
    opt.step()
    # step 1: delta = (1 - beta1) * (-lr * scalar_lr_scale * sign(g)) = 0.1 * 0.5 * 0.1 = 0.005
    assert float(s.detach()) == pytest.approx(9.995, abs=1e-6)
    for _ in range(5):
        s.grad = torch.tensor(-4.0)
        opt.step()
    assert float(s.detach()) == 10.0  # clamped to scalar_max


def test_scaled_adam_with_eden_solves_a_toy_regression():
    torch.manual_seed(0)
    x = torch.randn(512, 16)
    true = torch.randn(16, 4)
    y = x @ true + 0.5
    model = torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.Tanh(), torch.nn.Linear(32, 4))
    opt = ScaledAdam(model.parameters(), ScaledAdamConfig(lr=0.05))
    sched = Eden(opt, EdenConfig(lr_steps=200, lr_epochs=10, warmup_steps=20))
    losses = []
    for step in range(400):
        loss = (model(x) - y).pow(2).mean()
        losses.append(float(loss))
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step_batch()
    assert losses[-1] < 0.02 * losses[0]


def test_gradients_beyond_twice_the_median_norm_are_clipped():
    p = torch.nn.Parameter(torch.ones(4, 4))
    opt = ScaledAdam([p], ScaledAdamConfig(lr=1e-4, clipping_scale=2.0, clipping_update_period=4))
    for _ in range(9):  # thresholds are (re)estimated at steps 4 and 8
        p.grad = torch.full((4, 4), 0.25)
        opt.step()
        assert opt.last_clipping_factor == 1.0
    rms = float(p.detach().pow(2).mean().sqrt())
    normal_norm = 0.25 * 4 * rms  # ||g * rms(p)|| over 16 entries
    assert opt._clipping[0]["threshold"] == pytest.approx(2 * normal_norm, rel=1e-3)
    p.grad = torch.full((4, 4), 25.0)  # a 100x spike
    opt.step()
    assert opt.last_clipping_factor == pytest.approx(2 / 100, rel=1e-3)


def test_optimizer_state_round_trip_continues_identically():
    torch.manual_seed(1)
    model = torch.nn.Linear(6, 3)
    x, y = torch.randn(32, 6), torch.randn(32, 3)

    def run(m, opt, steps):
        for _ in range(steps):
            opt.zero_grad()
            (m(x) - y).pow(2).mean().backward()
            opt.step()

    cfg = ScaledAdamConfig(lr=0.05, clipping_update_period=3)
    a = copy.deepcopy(model)
    opt_a = ScaledAdam(a.parameters(), cfg)
    run(a, opt_a, 12)
    b = copy.deepcopy(model)
    opt_b = ScaledAdam(b.parameters(), cfg)
    run(b, opt_b, 5)
    c = copy.deepcopy(b)
    opt_c = ScaledAdam(c.parameters(), cfg)
    opt_c.load_state_dict(copy.deepcopy(opt_b.state_dict()))
    run(c, opt_c, 7)
    for pa, pc in zip(a.parameters(), c.parameters()):
        assert torch.equal(pa, pc)


def test_loaded_state_keeps_every_tensor_bit_for_bit_including_the_float64_scale_statistics():
    # torch's Optimizer.load_state_dict casts floating state to the parameter dtype; the
    # float64 scale statistics must survive it (a float32 copy drifts a resumed run).
    torch.manual_seed(2)
    model = torch.nn.Linear(6, 3)
    opt = ScaledAdam(model.parameters(), ScaledAdamConfig(lr=0.05))
    for _ in range(3):
        opt.zero_grad()
        model(torch.randn(8, 6)).pow(2).mean().backward()
        opt.step()
    other = ScaledAdam(copy.deepcopy(model).parameters(), ScaledAdamConfig(lr=0.05))
    other.load_state_dict(copy.deepcopy(opt.state_dict()))
    saved, loaded = opt.state_dict()["state"], other.state_dict()["state"]
    assert saved.keys() == loaded.keys()
    for index in saved:
        for name, value in saved[index].items():
            if torch.is_tensor(value):
                assert loaded[index][name].dtype == value.dtype and torch.equal(loaded[index][name], value), name
    assert saved[0]["scale_exp_avg_sq"].dtype == torch.float64
