"""SGD, Adam and AdamW against torch.optim, step for step, for every option that changes the arithmetic.

Both sides start from the same parameters and see gradients computed the same way from their own parameters
(so that a difference would grow, not stay hidden), including steps where a parameter has no gradient.
After every step the parameters and the whole optimizer state must agree: float64 to 1e-10; float32 to 1e-4,
since single roundings (PyTorch's kernels order some float32 operations differently) compound over the steps, and
a wrong rule is off by the order of the learning rate. Skipped without torch.
"""
import numpy as np
import pytest

from tinytorch.core.optimizers import SGD, Adam, AdamW
from tinytorch.core.tensor import Tensor

torch = pytest.importorskip("torch")

STEPS = 30
SHAPES = [(4, 3), (3,), (2, 2, 2)]
TOLERANCE = {np.float64: dict(rtol=1e-10, atol=1e-12), np.float32: dict(rtol=1e-4, atol=1e-4)}
OURS = {"SGD": SGD, "Adam": Adam, "AdamW": AdamW}
TORCH_STATE = {"momentum_buffer": "momentum_buffer", "exp_avg": "exp_avg", "exp_avg_sq": "exp_avg_sq"}


def _case(name, options, tasks):
    label = name + "".join(f"-{k}={v}" for k, v in options.items())
    return pytest.param(name, options, id=label, marks=pytest.mark.task(*tasks))


CASES = [
    _case("SGD", {"lr": 0.1}, ('05.1',)),
    _case("SGD", {"lr": 0.05, "weight_decay": 0.1}, ('05.1', '05.2')),
    _case("SGD", {"lr": 0.05, "momentum": 0.9}, ('05.1', '05.3')),
    _case("SGD", {"lr": 0.05, "momentum": 0.9, "dampening": 0.3}, ('05.1', '05.3')),
    _case("SGD", {"lr": 0.05, "momentum": 0.5, "dampening": 0.5, "weight_decay": 0.01}, ('05.1', '05.2', '05.3')),
    _case("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True}, ('05.1', '05.3', '05.4')),
    _case("SGD", {"lr": 0.02, "momentum": 0.7, "nesterov": True, "weight_decay": 0.05}, ('05.1', '05.2', '05.3', '05.4')),
    _case("Adam", {}, ('05.5', '05.6', '05.7')),
    _case("Adam", {"lr": 0.01, "betas": (0.5, 0.9), "eps": 1e-4}, ('05.5', '05.6', '05.7')),
    _case("Adam", {"lr": 0.01, "betas": (0.0, 0.0)}, ('05.5', '05.6', '05.7')),
    _case("Adam", {"lr": 0.01, "weight_decay": 0.1}, ('05.2', '05.5', '05.6', '05.7')),
    _case("AdamW", {"lr": 0.01}, ('05.5', '05.6', '05.7', '05.8')),
    _case("AdamW", {"lr": 0.05, "betas": (0.8, 0.99), "eps": 1e-6, "weight_decay": 0.3}, ('05.5', '05.6', '05.7', '05.8')),
    _case("AdamW", {"lr": 0.01, "weight_decay": 0.0}, ('05.5', '05.6', '05.7')),
]


def _gradient(p, noise):
    """A gradient that depends on the parameter (so that differences compound) plus fixed noise."""
    return np.sin(3 * p) + p ** 3 / 4 + noise


def _run_both(name, options, dtype, steps=STEPS, check_every_step=True):
    rng = np.random.default_rng(0)
    start = [rng.normal(size=s).astype(dtype) for s in SHAPES]
    ours = [Tensor(a.copy()) for a in start]
    theirs = [torch.tensor(a.copy(), requires_grad=True) for a in start]
    opt, ref = OURS[name](ours, **options), getattr(torch.optim, name)(theirs, **options)
    for t in range(steps):
        opt.zero_grad()
        ref.zero_grad()
        for i, (p, q) in enumerate(zip(ours, theirs)):
            if i == 1 and t % 3 == 2:
                continue  # no gradient this step: both optimizers must skip the parameter
            noise = rng.normal(size=p.shape).astype(dtype)
            p.grad = Tensor(_gradient(p.data, noise).astype(dtype))
            q.grad = torch.from_numpy(_gradient(q.detach().numpy(), noise).astype(dtype))
        opt.step()
        ref.step()
        if check_every_step or t == steps - 1:
            _assert_same(opt, ref, ours, theirs, dtype, f"step {t + 1}")
    return opt, ref, ours, theirs


def _assert_same(opt, ref, ours, theirs, dtype, when):
    for i, (p, q) in enumerate(zip(ours, theirs)):
        assert p.dtype == dtype
        np.testing.assert_allclose(p.data, q.detach().numpy(), **TOLERANCE[dtype], err_msg=f"parameter {i}, {when}")
        state, torch_state = opt.state.get(i, {}), ref.state[q]
        kept = {k for k in torch_state if k in TORCH_STATE and torch_state[k] is not None}
        assert {k for k in state if k != "step"} == kept, when
        for key in kept:
            np.testing.assert_allclose(state[key], torch_state[key].numpy(), **TOLERANCE[dtype],
                                       err_msg=f"parameter {i}'s {key}, {when}")
        if "step" in torch_state:
            assert state["step"] == int(torch_state["step"].item()), when


@pytest.mark.parametrize("name, options", CASES)
def test_float64_steps_match_torch_optim_step_for_step(name, options):
    _run_both(name, options, np.float64)


@pytest.mark.parametrize("name, options", CASES)
def test_float32_steps_match_torch_optim_and_stay_float32(name, options):
    opt, _, ours, _ = _run_both(name, options, np.float32)
    for state in opt.state.values():
        assert all(v.dtype == np.float32 for v in state.values() if isinstance(v, np.ndarray))


@pytest.mark.task("05.5", "05.6", "05.7")
def test_adam_step_counts_only_the_steps_a_parameter_had_a_gradient():
    # parameter 1 is skipped every third step: its bias correction uses its own count, as torch's
    opt, ref, ours, theirs = _run_both("Adam", {"lr": 0.01}, np.float64, steps=9)
    assert opt.state[0]["step"] == 9 and opt.state[1]["step"] == 6


@pytest.mark.parametrize("name, options", [
    pytest.param("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True}, marks=pytest.mark.task("05.1", "05.3", "05.4")),
    pytest.param("Adam", {"lr": 0.01}, marks=pytest.mark.task("05.5", "05.6", "05.7")),
    pytest.param("AdamW", {"lr": 0.01, "weight_decay": 0.1}, marks=pytest.mark.task("05.5", "05.6", "05.7", "05.8"))])
def test_a_state_dict_loaded_into_a_new_optimizer_continues_as_torch_does(name, options):
    opt, ref, ours, theirs = _run_both(name, options, np.float64, steps=10)
    resumed = OURS[name](ours, lr=0.5)  # different options: load_state_dict restores the saved ones
    resumed.load_state_dict(opt.state_dict())
    rng = np.random.default_rng(7)
    for t in range(10):
        for p, q in zip(ours, theirs):
            noise = rng.normal(size=p.shape)
            p.grad = Tensor(_gradient(p.data, noise))
            q.grad = torch.from_numpy(_gradient(q.detach().numpy(), noise))
        resumed.step()
        ref.step()
        _assert_same(resumed, ref, ours, theirs, np.float64, f"step {t + 1} after loading")


@pytest.mark.parametrize("name", [pytest.param("SGD", marks=pytest.mark.task("05.1", "05.3")),
                                  pytest.param("Adam", marks=pytest.mark.task("05.5", "05.6", "05.7")),
                                  pytest.param("AdamW", marks=pytest.mark.task("05.5", "05.6", "05.7", "05.8"))])
def test_state_dict_has_torchs_layout_and_option_names(name):
    options = {"lr": 0.05, "momentum": 0.9} if name == "SGD" else {"lr": 0.01}
    opt, ref, _, _ = _run_both(name, options, np.float64, steps=2)
    ours, theirs = opt.state_dict(), ref.state_dict()
    assert set(ours) == set(theirs) == {"state", "param_groups"}
    assert sorted(ours["state"]) == sorted(theirs["state"]) == [0, 1, 2]
    for i, entries in ours["state"].items():
        assert set(entries) == set(theirs["state"][i])
    group, torch_group = ours["param_groups"][0], theirs["param_groups"][0]
    assert set(group) <= set(torch_group) and group["params"] == torch_group["params"]
    for key, value in group.items():
        assert value == torch_group[key], key
