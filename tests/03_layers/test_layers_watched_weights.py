"""A layer's weight is saved for the backward without a copy and watched: every way tinytorch has of changing
a tensor in place makes the pending forward copy it first, so the gradient is still the forward's, and the usual
step (forward, backward, update) makes no copy of it at all."""
import numpy as np
import pytest

import tinytorch.core.tensor as tensor_module
from tinytorch.core.autograd import no_grad
from tinytorch.core.layers import Linear, Sequential
from tinytorch.core.activations import ReLU
from tinytorch.core.tensor import Tensor

pytestmark = pytest.mark.task("03.1")

X = np.random.default_rng(3).normal(size=(5, 3))
G = np.random.default_rng(4).normal(size=(5, 2))


def _layer():
    return Linear(3, 2, dtype=np.float64, generator=0)


def _expected():
    layer = _layer()
    layer(X)
    dx = layer.backward(G).data
    return dx, layer.weight.grad.data.copy(), layer.bias.grad.data.copy()


def _check(layer):
    dx = layer.backward(G).data
    for got, want in zip((dx, layer.weight.grad.data, layer.bias.grad.data), _expected()):
        np.testing.assert_array_equal(got, want)


def test_the_saved_weight_is_the_layers_own_array_until_something_changes_it():
    layer = _layer()
    layer(X)
    ctx = layer._saved[0]
    assert ctx.saved_tensors[1] is layer.weight.data  # no copy at the forward
    assert ctx.saved_tensors[0] is not X  # the caller's input is still copied


@pytest.mark.parametrize("change", [
    pytest.param(lambda p: p.__isub__(Tensor(np.full(p.shape, 0.5))), id="p -= tensor"),
    pytest.param(lambda p: p.__imul__(2.0), id="p *= number"),
    pytest.param(lambda p: p.__iadd__(np.ones(p.shape, np.float32)), id="p += array of another dtype"),
    pytest.param(lambda p: p.data.__isub__(0.5 * Tensor(np.ones(p.shape))), id="p.data -= lr * tensor"),
    pytest.param(lambda p: np.multiply(p.data, 0.0, out=p), id="np.multiply(..., out=p)"),
])
def test_an_in_place_change_of_the_weight_before_the_backward_leaves_the_gradient_alone(change):
    layer = _layer()
    layer(X)
    before = layer.weight.data.copy()
    for p in layer.parameters():
        change(p)
    assert not np.array_equal(layer.weight.data, before)  # the change did happen, to the layer's own array
    _check(layer)


def test_load_state_dict_between_forward_and_backward_leaves_the_gradient_alone():
    layer = _layer()
    layer(X)
    layer.load_state_dict({"weight": np.zeros((2, 3)), "bias": np.zeros(2)})
    assert np.all(layer.weight.data == 0)
    _check(layer)


def test_the_usual_step_makes_no_copy_of_the_weight():
    layer = _layer()
    weight = layer.weight.data
    for _ in range(3):
        layer(X)
        layer.backward(G)
        watchers = tensor_module._before_change.get(id(weight))
        assert watchers is None or all(ref() is None for ref in watchers.contexts)  # nothing left to copy for
        layer.weight -= 0.1 * layer.weight.grad
        layer.zero_grad()
        assert layer.weight.data is weight and id(weight) not in tensor_module._before_change


def test_a_weight_shared_by_two_layers_is_copied_for_each_pending_forward():
    first, second = _layer(), _layer()
    second.weight = first.weight  # one Tensor, two layers
    first(X)
    second(X)
    first.weight -= 1.0
    _check(first)
    dx = second.backward(G).data
    np.testing.assert_array_equal(dx, _expected()[0])


def test_a_forward_under_no_grad_watches_nothing():
    layer = _layer()
    with no_grad():
        layer(X)
    watchers = tensor_module._before_change.get(id(layer.weight.data))  # (an id may be a freed array's, long gone)
    assert watchers is None or all(ref() is None for ref in watchers.contexts)


@pytest.mark.task("03.1", "03.2")
def test_watching_does_not_grow_over_many_steps():
    net = Sequential(Linear(3, 4, generator=0), ReLU(), Linear(4, 2, generator=1))
    for _ in range(50):
        net(X)  # a forward whose backward never comes (an evaluation without no_grad), then a new one
    net(X)
    net.backward(G)
    for p in net.parameters():
        watchers = tensor_module._before_change.get(id(p.data))
        assert watchers is None or len(watchers.contexts) <= 1
