"""The optimizers' given machinery: what they accept, step, zero_grad, state_dict / load_state_dict, repr, and
every error they raise, each matched on the values it must name."""
import re

import numpy as np
import pytest
from checks import raises_naming

import tinytorch.optim
from tinytorch.core.layers import Linear, Sequential
from tinytorch.core.optimizers import SGD, Adam, AdamW, Optimizer
from tinytorch.core.tensor import Tensor



def _params():
    return [Tensor(np.ones((2, 3))), Tensor(np.zeros(3))]


ALL = [lambda p: SGD(p, lr=0.1), lambda p: SGD(p, lr=0.1, momentum=0.9), Adam, AdamW]
ALL_BY_TASK = [pytest.param(make, id=name, marks=pytest.mark.task(*tasks)) for make, name, tasks in zip(
    ALL, ["SGD", "SGD-momentum", "Adam", "AdamW"],
    [("05.1",), ("05.1", "05.3"), ("05.5", "05.6", "05.7"), ("05.5", "05.6", "05.7", "05.8")])]


def test_tinytorch_optim_is_the_core_module():
    assert tinytorch.optim.SGD is SGD and tinytorch.optim.Adam is Adam and tinytorch.optim.AdamW is AdamW
    assert tinytorch.optim.Optimizer is Optimizer
    assert sorted(tinytorch.optim.__all__) == ["Adam", "AdamW", "Optimizer", "SGD"]


def test_defaults_are_torchs():
    p = _params()
    assert (Adam(p).lr, Adam(p).betas, Adam(p).eps, Adam(p).weight_decay) == (1e-3, (0.9, 0.999), 1e-8, 0.0)
    assert AdamW(p).weight_decay == 1e-2
    sgd = SGD(p, lr=0.1)
    assert (sgd.momentum, sgd.dampening, sgd.weight_decay, sgd.nesterov) == (0.0, 0.0, 0.0, False)
    with pytest.raises(TypeError, match="lr"):
        SGD(p)  # SGD's learning rate has no default


@pytest.mark.parametrize("make", ALL_BY_TASK)
def test_a_parameter_without_a_gradient_is_skipped_and_gets_no_state(make):
    a, b = _params()
    opt = make([a, b])
    a.grad = Tensor(np.ones((2, 3)))
    before = b.data.copy()
    opt.step()
    assert np.array_equal(b.data, before) and 1 not in opt.state
    assert not np.array_equal(a.data, np.ones((2, 3)))


@pytest.mark.parametrize("make", ALL)
def test_zero_grad_sets_every_gradient_to_none(make):
    params = _params()
    opt = make(params)
    for p in params:
        p.grad = Tensor(np.ones(p.shape))
    opt.zero_grad()
    assert all(p.grad is None for p in params)


def test_zero_grad_without_set_to_none_zeroes_in_place():
    a, b = _params()
    a.grad = Tensor(np.ones((2, 3)))
    grad = a.grad
    SGD([a, b], lr=0.1).zero_grad(set_to_none=False)
    assert a.grad is grad and a.grad.data.tolist() == [[0.0] * 3] * 2 and b.grad is None


@pytest.mark.task("05.1")
def test_step_reads_gradients_of_another_float_dtype_at_the_parameters_dtype():
    p = Tensor(np.ones(2, np.float32))
    p.grad = Tensor(np.array([1.0, 2.0]))  # float64 gradient on a float32 parameter
    SGD([p], lr=0.5).step()
    assert p.dtype == np.float32 and p.data.tolist() == [0.5, 0.0]


@pytest.mark.task("05.5", "05.6", "05.7")
def test_optimizing_a_models_parameters_updates_the_model():
    model = Sequential(Linear(3, 4, generator=0), Linear(4, 2, generator=1))
    before = model.state_dict()
    model(np.ones((5, 3), np.float32))
    model.backward(np.ones((5, 2), np.float32))
    Adam(model.parameters(), lr=0.01).step()
    after = model.state_dict()
    assert all(np.allclose(np.abs(after[k] - before[k]), 0.01, rtol=1e-4) for k in before)


@pytest.mark.parametrize("make", ALL_BY_TASK)
def test_state_dict_is_a_copy_and_a_new_optimizer_resumes_from_it_exactly(make):
    params = _params()
    opt = make(params)

    def backward():  # a gradient that depends on where the parameters are
        for p in params:
            p.grad = Tensor(0.5 + p.data)

    backward()
    opt.step()
    saved = opt.state_dict()
    frozen = {i: {k: np.array(v, copy=True) for k, v in entries.items()} for i, entries in saved["state"].items()}
    start = [p.data.copy() for p in params]
    backward()
    opt.step()
    expected = [p.data.copy() for p in params]
    for i, entries in saved["state"].items():  # the saved copy did not follow the second step
        for key, value in entries.items():
            assert np.array_equal(value, frozen[i][key]), key
    for p, value in zip(params, start):
        p.data[...] = value
    fresh = make(params)
    fresh.load_state_dict(saved)
    backward()
    fresh.step()
    for p, value in zip(params, expected):
        assert np.array_equal(p.data, value)
    for i, entries in fresh.state.items():  # the loaded state is the optimizer's own, not the dict's arrays
        for key, value in entries.items():
            if isinstance(value, np.ndarray):
                assert not np.shares_memory(value, saved["state"][i][key])


def test_load_state_dict_restores_the_options():
    p = _params()
    source = Adam(p, lr=0.02, betas=(0.8, 0.9), eps=1e-6, weight_decay=0.1)
    target = Adam(p)
    target.load_state_dict(source.state_dict())
    assert (target.lr, target.betas, target.eps, target.weight_decay) == (0.02, (0.8, 0.9), 1e-6, 0.1)


@pytest.mark.task("05.5", "05.6", "05.7")
def test_load_state_dict_accepts_betas_as_a_list_and_state_as_tensors():
    p = _params()
    opt = Adam(p)
    for q in p:
        q.grad = Tensor(np.ones(q.shape))
    opt.step()
    saved = opt.state_dict()
    saved["param_groups"][0]["betas"] = list(saved["param_groups"][0]["betas"])
    saved["state"][0]["exp_avg"] = Tensor(saved["state"][0]["exp_avg"])
    other = Adam(p)
    other.load_state_dict(saved)
    assert other.betas == (0.9, 0.999) and isinstance(other.state[0]["exp_avg"], np.ndarray)


def test_repr_shows_the_options_that_differ_from_the_defaults():
    p = _params()
    assert repr(SGD(p, lr=0.1)) == "SGD(lr=0.1)"
    assert repr(SGD(p, lr=0.1, momentum=0.9, nesterov=True)) == "SGD(lr=0.1, momentum=0.9, nesterov=True)"
    assert repr(Adam(p)) == "Adam()" and repr(Adam(p, betas=(0.5, 0.9))) == "Adam(betas=(0.5, 0.9))"
    assert repr(AdamW(p, weight_decay=0.0)) == "AdamW(weight_decay=0.0)"


# ---------------------------------------------------------------- constructor errors

@pytest.mark.parametrize("options, named", [
    ({"lr": -0.1}, r"lr.*>= 0.*-0\.1"),
    ({"lr": float("nan")}, r"lr.*nan"),
    ({"lr": 0.1, "momentum": -0.9}, r"momentum.*-0\.9"),
    ({"lr": 0.1, "weight_decay": -1e-4}, r"weight_decay.*-0\.0001"),
    ({"lr": 0.1, "dampening": float("nan")}, r"dampening.*nan"),
    ({"lr": 0.1, "nesterov": True}, r"Nesterov.*momentum=0"),
    ({"lr": 0.1, "momentum": 0.9, "dampening": 0.1, "nesterov": True}, r"Nesterov.*dampening=0\.1"),
])
def test_sgd_refuses_invalid_options_naming_the_value(options, named):
    with raises_naming(ValueError, r"^SGD", named):
        SGD(_params(), **options)


@pytest.mark.parametrize("options, named", [
    ({"lr": "0.1"}, r"lr.*'0\.1'"),
    ({"lr": None}, r"lr.*None"),
    ({"lr": True}, r"lr.*True"),
    ({"lr": 0.1, "momentum": "high"}, r"momentum.*'high'"),
    ({"lr": 0.1, "nesterov": "yes"}, r"nesterov.*'yes'"),
])
def test_sgd_refuses_options_that_are_not_numbers(options, named):
    with raises_naming(TypeError, r"^SGD", named):
        SGD(_params(), **options)


@pytest.mark.parametrize("cls", [Adam, AdamW])
@pytest.mark.parametrize("options, named", [
    ({"lr": -1e-3}, r"lr.*-0\.001"),
    ({"eps": -1e-8}, r"eps.*-1e-08"),
    ({"betas": (1.0, 0.999)}, r"betas\[0\].*\[0, 1\).*1\.0"),
    ({"betas": (0.9, 1.0)}, r"betas\[1\].*\[0, 1\).*1\.0"),
    ({"betas": (-0.1, 0.999)}, r"betas\[0\].*-0\.1"),
    ({"betas": (0.9, float("nan"))}, r"betas\[1\].*nan"),
    ({"weight_decay": -0.01}, r"weight_decay.*-0\.01"),
])
def test_adam_refuses_invalid_options_naming_the_value(cls, options, named):
    with raises_naming(ValueError, rf"^{cls.__name__}", named):
        cls(_params(), **options)


@pytest.mark.parametrize("betas", [0.9, (0.9,), (0.9, 0.99, 0.999), "0.9"])
def test_adam_refuses_betas_that_are_not_a_pair(betas):
    with raises_naming(TypeError, r"betas must be a pair", re.escape(repr(betas))):
        Adam(_params(), betas=betas)


def test_adam_refuses_betas_that_are_not_numbers():
    with raises_naming(TypeError, r"betas\[1\] must be a number", "'x'"):
        Adam(_params(), betas=(0.9, "x"))


@pytest.mark.parametrize("params, error, named", [
    (Tensor(np.ones(3)), TypeError, r"single Tensor.*\[t\]"),
    (np.ones(3), TypeError, r"single ndarray"),
    (Linear(2, 2, generator=0), TypeError, r"model\.parameters\(\).*Linear"),
    (Sequential(Linear(2, 2, generator=0)), TypeError, r"model\.parameters\(\).*Sequential"),
    (5, TypeError, r"iterable of Tensors.*got 5"),
    (Sequential(Linear(2, 2, generator=0), Linear(2, 2, generator=1)).parameters, TypeError,
     r"the method itself; call it: model\.parameters\(\)"),
    ([], ValueError, r"empty parameter list"),
    ([{"params": [Tensor(np.ones(2))], "lr": 0.1}], TypeError, r"parameter groups"),
    ([Tensor(np.ones(2)), np.ones(2)], TypeError, r"parameter 1 is ndarray"),
    ([Tensor(np.array([1, 2]))], TypeError, r"float Tensors.*int64"),
])
def test_optimizers_refuse_what_is_not_a_list_of_float_tensors(params, error, named):
    with raises_naming(error, r"^SGD", named):
        SGD(params, lr=0.1)


def test_a_parameter_listed_twice_is_refused():
    a, b = _params()
    with raises_naming(ValueError, r"parameter 2 is the same Tensor as parameter 0"):
        Adam([a, b, a])


# ---------------------------------------------------------------- step errors

def test_a_gradient_of_the_wrong_shape_is_refused_with_both_shapes():
    a, b = _params()
    opt = SGD([a, b], lr=0.1)
    b.grad = Tensor(np.ones((3, 1)))
    with raises_naming(ValueError, r"parameter 1 has shape \(3,\).*\.grad has shape \(3, 1\)"):
        opt.step()
    assert np.array_equal(b.data, np.zeros(3))


def test_a_read_only_parameter_is_refused_before_it_is_changed():
    frozen = np.ones(2)
    frozen.flags.writeable = False
    p = Tensor(frozen)
    p.grad = Tensor(np.ones(2))
    with raises_naming(ValueError, r"parameter 0.*read-only"):
        Adam([p]).step()


def test_the_base_class_has_no_update_rule():
    p = Tensor(np.ones(2))
    p.grad = Tensor(np.ones(2))
    with pytest.raises(NotImplementedError):
        Optimizer([p]).step()


# ---------------------------------------------------------------- load_state_dict errors

def _stepped(make=lambda p: Adam(p)):
    params = _params()
    opt = make(params)
    for p in params:
        p.grad = Tensor(np.ones(p.shape))
    opt.step()
    return opt


BAD_STATE_DICTS = {
    "missing state": (lambda s: s.pop("state"), r"got \['param_groups'\]"),
    "extra key": (lambda s: s.update(epoch=3), r"got \['epoch', 'param_groups', 'state'\]"),
    "groups not a list": (lambda s: s.update(param_groups={"lr": 0.1}), r"'param_groups' must be a list holding one"),
    "two groups": (lambda s: s["param_groups"].append(dict(s["param_groups"][0])), r"one dict"),
    "too few parameters": (lambda s: s["param_groups"][0].update(params=[0]), r"parameters \[0\].*has 2"),
    "an option missing": (lambda s: s["param_groups"][0].pop("eps"), r"options \['betas', 'lr', 'weight_decay'\]"),
    "a foreign option": (lambda s: s["param_groups"][0].update(momentum=0.9), r"'momentum'.*Adam has"),
    "an option of the wrong type": (lambda s: s["param_groups"][0].update(betas=0.9), r"options are refused.*betas"),
    "a bad option value": (lambda s: s["param_groups"][0].update(lr=-1.0), r"options are refused: Adam: lr.*-1\.0"),
    "state not a dict": (lambda s: s.update(state=[1, 2]), r"'state' must be a dict, got list"),
    "state of parameter 5": (lambda s: s["state"].update({5: {}}), r"parameter 5.*0 to 1"),
    "state keyed by a string": (lambda s: s["state"].update({"0": s["state"].pop(0)}), r"parameter '0'"),
    "a state entry missing": (lambda s: s["state"][0].pop("exp_avg"), r"parameter 0 has \['exp_avg_sq', 'step'\]"),
    "a step count of 0": (lambda s: s["state"][0].update(step=0), r"step count.*positive int.*got 0"),
    "a step count as a float": (lambda s: s["state"][0].update(step=2.5), r"step count.*2\.5"),
    "an array of the wrong shape": (lambda s: s["state"][1].update(exp_avg=np.zeros(4)), r"'exp_avg' has shape \(4,\).*\(3,\)"),
    "an array of strings": (lambda s: s["state"][1].update(exp_avg_sq=np.array(["a"] * 3)), r"'exp_avg_sq'.*dtype <U1"),
}


def _assert_unchanged(optimizer, before):
    after = optimizer.state_dict()
    assert after["param_groups"] == before["param_groups"]
    assert sorted(after["state"]) == sorted(before["state"])
    for i in before["state"]:
        for key, value in before["state"][i].items():
            assert np.array_equal(after["state"][i][key], value)


@pytest.mark.task("05.5", "05.6", "05.7")
@pytest.mark.parametrize("change, named", BAD_STATE_DICTS.values(), ids=BAD_STATE_DICTS.keys())
def test_load_state_dict_refuses_what_does_not_fit_and_changes_nothing(change, named):
    target = _stepped(lambda p: Adam(p, lr=0.5))
    before = target.state_dict()
    saved = _stepped().state_dict()
    change(saved)
    with raises_naming(ValueError, r"^Adam", named):
        target.load_state_dict(saved)
    _assert_unchanged(target, before)


@pytest.mark.task("05.5", "05.6", "05.7")
@pytest.mark.parametrize("saved", [None, [1, 2], "state.npz"])
def test_load_state_dict_refuses_what_is_not_a_state_dict(saved):
    target = _stepped()
    before = target.state_dict()
    with raises_naming(ValueError, r"^Adam\.load_state_dict: expected the dict of optimizer\.state_dict\(\)",
                       type(saved).__name__):
        target.load_state_dict(saved)
    _assert_unchanged(target, before)
