"""Linear and Sequential: shapes, initialisation, hand-computed forward/backward, gradient checks, errors."""
import re

import numpy as np
import pytest
from checks import raises_naming
from gradcheck import numerical_grad, vjp_numerical
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinytorch
from tinytorch.core.activations import ReLU, Tanh
from tinytorch.core.autograd import Module
from tinytorch.core.layers import Linear, Sequential
from tinytorch.core.tensor import Tensor


def fixed_layer(bias=True, dtype=np.float64):
    layer = Linear(3, 2, bias=bias, dtype=dtype, generator=0)
    layer.weight.data[:] = [[1.0, 2.0, 3.0], [0.0, -1.0, 1.0]]
    if bias:
        layer.bias.data[:] = [0.5, -0.5]
    return layer


# ---------------------------------------------------------------- construction and initialisation


def test_parameter_shapes_and_dtypes_follow_pytorch():
    layer = Linear(4, 3)
    assert layer.weight.shape == (3, 4) and layer.bias.shape == (3,)
    assert layer.weight.dtype == np.float32 and layer.bias.dtype == np.float32
    assert layer.in_features == 4 and layer.out_features == 3
    assert layer.weight.grad is None and layer.bias.grad is None
    layer64 = Linear(4, 3, dtype=np.float64)
    assert layer64.weight.dtype == np.float64 and layer64.bias.dtype == np.float64


def test_parameters_are_weight_then_bias():
    layer = Linear(2, 2)
    assert layer.parameters() == [layer.weight, layer.bias]
    no_bias = Linear(2, 2, bias=False)
    assert no_bias.bias is None and no_bias.parameters() == [no_bias.weight]


def test_repr():
    assert repr(Linear(3, 2)) == "Linear(in_features=3, out_features=2, bias=True)"
    assert repr(Linear(3, 2, bias=False)) == "Linear(in_features=3, out_features=2, bias=False)"


@pytest.mark.parametrize("in_features", [1, 4, 100])
def test_initial_values_lie_within_one_over_sqrt_in_features(in_features):
    layer = Linear(in_features, 50, generator=3)
    bound = 1 / np.sqrt(in_features)
    assert np.all(np.abs(layer.weight.data) <= bound) and np.all(np.abs(layer.bias.data) <= bound)


def test_initial_weights_are_uniform_with_the_documented_variance():
    layer = Linear(64, 1000, generator=11, dtype=np.float64)
    w = layer.weight.data.ravel()  # 64,000 draws from U(-1/8, 1/8): variance (1/8)^2 / 3
    bound = 1 / 8
    assert abs(w.mean()) < 0.01 * bound
    assert abs(w.var() / (bound**2 / 3) - 1) < 0.02
    assert w.max() > 0.99 * bound and w.min() < -0.99 * bound
    counts, _ = np.histogram(w, bins=10, range=(-bound, bound))
    assert counts.min() > 0.9 * len(w) / 10  # flat, not bell-shaped


def test_same_seed_gives_same_layer_and_different_seeds_differ():
    a, b, c = Linear(5, 4, generator=42), Linear(5, 4, generator=42), Linear(5, 4, generator=43)
    np.testing.assert_array_equal(a.weight.data, b.weight.data)
    np.testing.assert_array_equal(a.bias.data, b.bias.data)
    assert not np.array_equal(a.weight.data, c.weight.data)


def test_generator_object_is_used_and_advanced():
    rng = np.random.default_rng(5)
    first, second = Linear(3, 3, generator=rng), Linear(3, 3, generator=rng)
    assert not np.array_equal(first.weight.data, second.weight.data)
    expected = np.random.default_rng(5).uniform(-1 / np.sqrt(3), 1 / np.sqrt(3), (3, 3)).astype(np.float32)
    np.testing.assert_array_equal(first.weight.data, expected)  # weight drawn first, from the given generator


def test_unseeded_layers_differ():
    assert not np.array_equal(Linear(8, 8).weight.data, Linear(8, 8).weight.data)


# ---------------------------------------------------------------- forward, hand-computed


@pytest.mark.task("03.1")
def test_forward_hand_computed():
    layer = fixed_layer()
    y = layer(Tensor([[1.0, 1.0, 1.0], [1.0, 0.0, 2.0]]))
    assert y.data.tolist() == [[6.5, -0.5], [7.5, 1.5]]  # [1+2+3+.5, -1+1-.5], [1+6+.5, 2-.5]


@pytest.mark.task("03.1")
def test_forward_without_bias():
    layer = fixed_layer(bias=False)
    assert layer([1.0, 1.0, 1.0]).data.tolist() == [6.0, 0.0]


@pytest.mark.task("03.1")
def test_forward_accepts_a_single_example_and_extra_batch_dims():
    layer = fixed_layer()
    assert layer([1.0, 0.0, 0.0]).data.tolist() == [1.5, -0.5]
    x = np.arange(24, dtype=np.float64).reshape(2, 4, 3)
    y = layer(x)
    assert y.shape == (2, 4, 2)
    np.testing.assert_allclose(y.data[1, 2], layer(x[1, 2]).data)


@pytest.mark.task("03.1")
def test_forward_dtypes():
    layer = Linear(3, 2)
    assert layer(np.ones((2, 3), dtype=np.float32)).dtype == np.float32
    assert layer(np.ones((2, 3), dtype=np.float64)).dtype == np.float64  # no silent downcast
    assert layer([[1, 2, 3]]).dtype == np.float32                        # ints take the layer's dtype
    assert Linear(3, 2, dtype=np.float64)(np.ones(3, dtype=np.float32)).dtype == np.float64


# ---------------------------------------------------------------- backward


@pytest.mark.task("03.1")
def test_backward_hand_computed():
    layer = fixed_layer()
    layer([[1.0, 1.0, 1.0], [1.0, 0.0, 2.0]])
    dx = layer.backward([[1.0, 0.0], [0.0, 2.0]])
    assert dx.data.tolist() == [[1.0, 2.0, 3.0], [0.0, -2.0, 2.0]]               # g @ W
    assert layer.weight.grad.data.tolist() == [[1.0, 1.0, 1.0], [2.0, 0.0, 4.0]]  # g.T @ x
    assert layer.bias.grad.data.tolist() == [1.0, 2.0]                            # column sums of g
    assert isinstance(layer.weight.grad, Tensor) and isinstance(layer.bias.grad, Tensor)


@pytest.mark.task("03.1")
@pytest.mark.parametrize("shape", [(4, 3), (3,), (2, 5, 3)], ids=["batch", "single", "3d"])
@pytest.mark.parametrize("bias", [True, False])
def test_backward_matches_central_differences(shape, bias):
    rng = np.random.default_rng(0)
    layer = Linear(3, 2, bias=bias, dtype=np.float64, generator=1)
    x = rng.normal(size=shape)
    g = rng.normal(size=shape[:-1] + (2,))
    layer(x)
    dx = layer.backward(g)

    def with_params(W, b, inp):
        trial = Linear(3, 2, bias=bias, dtype=np.float64)
        trial.weight.data[:] = W
        if bias:
            trial.bias.data[:] = b
        return trial(inp).data

    W, b = layer.weight.data.copy(), (layer.bias.data.copy() if bias else None)
    np.testing.assert_allclose(dx.data, vjp_numerical(lambda z: with_params(W, b, z), x.copy(), g), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(layer.weight.grad.data, vjp_numerical(lambda z: with_params(z, b, x), W.copy(), g),
                               rtol=1e-6, atol=1e-8)
    if bias:
        np.testing.assert_allclose(layer.bias.grad.data, vjp_numerical(lambda z: with_params(W, z, x), b.copy(), g),
                                   rtol=1e-6, atol=1e-8)
    else:
        assert layer.bias is None


@pytest.mark.task("03.1")
def test_backward_accumulates_gradients_until_zero_grad():
    layer = fixed_layer()
    x = np.array([[1.0, 2.0, 3.0]])
    layer(x)
    layer.backward([[1.0, 1.0]])
    first = layer.weight.grad.data.copy()
    layer(x)
    layer.backward([[1.0, 1.0]])
    np.testing.assert_array_equal(layer.weight.grad.data, 2 * first)
    layer.zero_grad()
    assert layer.weight.grad is None and layer.bias.grad is None
    layer(x)
    layer.backward([[2.0, 0.0]])
    assert layer.weight.grad.data.tolist() == [[2.0, 4.0, 6.0], [0.0, 0.0, 0.0]]
    assert layer.bias.grad.data.tolist() == [2.0, 0.0]


@pytest.mark.task("03.1")
def test_backward_dtypes():
    layer = Linear(3, 2)  # float32 parameters
    layer(np.ones((2, 3), dtype=np.float32))
    dx = layer.backward(np.ones((2, 2), dtype=np.float64))
    assert dx.dtype == np.float32 and layer.weight.grad.dtype == np.float32 and layer.bias.grad.dtype == np.float32
    layer(np.ones((2, 3), dtype=np.float64))
    assert layer.backward(np.ones((2, 2))).dtype == np.float64 and layer.weight.grad.dtype == np.float32


@pytest.mark.task("03.1")
def test_backward_uses_the_last_forward():
    layer = fixed_layer()
    layer([[9.0, 9.0, 9.0]])
    layer([[1.0, 0.0, 0.0]])
    layer.backward([[1.0, 1.0]])
    assert layer.weight.grad.data.tolist() == [[1.0, 0.0, 0.0], [1.0, 0.0, 0.0]]


# ---------------------------------------------------------------- Linear errors


@pytest.mark.parametrize("bad", [0, -1, 2.5, "3", None, True])
def test_bad_feature_counts_are_refused(bad):
    with pytest.raises(ValueError, match=re.escape(f"in_features must be a positive int, got {bad!r}")):
        Linear(bad, 2)
    with pytest.raises(ValueError, match=re.escape(f"out_features must be a positive int, got {bad!r}")):
        Linear(2, bad)


def test_bad_dtype_and_generator_are_refused():
    with pytest.raises(ValueError, match="dtype must be a float dtype such as float32, got int64"):
        Linear(2, 2, dtype=np.int64)
    with pytest.raises(ValueError, match="dtype='nope' is not a NumPy dtype"):
        Linear(2, 2, dtype="nope")
    with pytest.raises(TypeError, match="generator must be None, an int seed or a np.random.Generator, got 'seed'"):
        Linear(2, 2, generator="seed")
    with pytest.raises(ValueError, match="seed must be a non-negative int, got -1"):
        Linear(2, 2, generator=-1)


@pytest.mark.parametrize("shape", [(4, 5), (5,), (2, 3, 4)])
def test_wrong_input_width_names_in_features_and_shape(shape):
    with pytest.raises(ValueError, match=re.escape(f"in_features=3, got shape {shape}")):
        Linear(3, 2)(np.zeros(shape))


def test_0d_input_is_refused():
    with pytest.raises(ValueError, match=re.escape("got shape ()")):
        Linear(3, 2)(1.0)


def test_linear_backward_before_forward_is_a_runtime_error():
    with pytest.raises(RuntimeError, match=re.escape("Linear.backward() was called before forward()")):
        Linear(3, 2).backward(np.ones((1, 2)))


@pytest.mark.task("03.1")
def test_linear_grad_output_of_wrong_shape_names_both_shapes():
    layer = Linear(3, 2)
    layer(np.ones((4, 3)))
    with pytest.raises(ValueError, match=re.escape("grad_output has shape (4, 3), but the last forward's output has shape (4, 2)")):
        layer.backward(np.ones((4, 3)))


# ---------------------------------------------------------------- Sequential


def make_net(dtype=np.float64):
    return Sequential(Linear(3, 4, dtype=dtype, generator=1), Tanh(), Linear(4, 2, dtype=dtype, generator=2))


@pytest.mark.task("03.1", "03.2")
def test_sequential_forward_is_composition():
    net = make_net()
    x = np.random.default_rng(0).normal(size=(5, 3))
    expected = net[2](net[1](net[0](x)))
    np.testing.assert_array_equal(net(x).data, expected.data)


@pytest.mark.task("03.1", "03.2")
def test_sequential_backward_matches_central_differences_for_input_and_every_parameter():
    net = make_net()
    rng = np.random.default_rng(2)
    x, g = rng.normal(size=(5, 3)), rng.normal(size=(5, 2))
    net(x)
    dx = net.backward(g)
    np.testing.assert_allclose(dx.data, vjp_numerical(lambda z: make_net()(z).data, x.copy(), g), rtol=1e-6, atol=1e-8)
    for p in net.parameters():
        def loss(values, p=p):
            saved = p.data.copy()
            p.data[...] = values
            try:
                return float(np.sum(net.forward(x).data * g))
            finally:
                p.data[...] = saved
        numeric = numerical_grad(loss, p.data.copy())
        net.zero_grad()
        net(x)
        net.backward(g)
        np.testing.assert_allclose(p.grad.data, numeric, rtol=1e-6, atol=1e-8)


@pytest.mark.task("03.1", "03.2")
def test_sequential_backward_hand_computed_for_two_linear_layers():
    a, b = fixed_layer(), Linear(2, 1, dtype=np.float64, generator=0)
    b.weight.data[:] = [[2.0, -1.0]]
    net = Sequential(a, b)
    net([[1.0, 1.0, 1.0]])
    dx = net.backward([[1.0]])
    assert dx.data.tolist() == [[2.0, 5.0, 5.0]]  # [2, -1] @ [[1, 2, 3], [0, -1, 1]]
    assert a.bias.grad.data.tolist() == [2.0, -1.0]


@pytest.mark.task("03.1", "03.2")
def test_sequential_with_relu():
    lin = fixed_layer()
    net = Sequential(lin, ReLU())
    assert net([[1.0, 1.0, 1.0]]).data.tolist() == [[6.5, 0.0]]
    assert net.backward([[1.0, 1.0]]).data.tolist() == [[1.0, 2.0, 3.0]]  # the second unit is off


def test_sequential_parameters_in_layer_order():
    net = make_net()
    assert net.parameters() == [net[0].weight, net[0].bias, net[2].weight, net[2].bias]
    nested = Sequential(net, Linear(2, 2, bias=False))
    assert len(nested.parameters()) == 5 and nested.parameters()[-1] is nested[1].weight


def test_a_weight_shared_by_two_layers_is_one_parameter_but_two_names_in_the_state_dict():
    """As in PyTorch: parameters() and named_parameters() give a shared Tensor once (an optimizer must not step it
    twice); state_dict() keeps every name, and load_state_dict() takes them back."""
    first, second = Linear(3, 3, generator=0), Linear(3, 3, generator=1)
    second.weight = first.weight
    net = Sequential(first, ReLU(), second)
    assert net.parameters() == [first.weight, first.bias, second.bias]
    assert [name for name, _ in net.named_parameters()] == ["0.weight", "0.bias", "2.bias"]
    assert len(net.named_parameters(remove_duplicate=False)) == 4
    state = net.state_dict()
    assert list(state) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    state = {k: v + 1 for k, v in state.items()}
    net.load_state_dict(state)
    np.testing.assert_array_equal(first.weight.data, state["0.weight"])


@pytest.mark.task("03.1", "03.2")
def test_a_weight_shared_by_two_layers_gets_the_sum_of_both_uses_gradients():
    first, second = (Linear(2, 2, bias=False, dtype=np.float64, generator=k) for k in (0, 1))
    second.weight = first.weight
    net = Sequential(first, second)
    x, g = np.array([[1.0, 2.0]]), np.array([[1.0, -1.0]])
    net(x)
    net.backward(g)
    w = first.weight.data
    expected = g.T @ (x @ w.T) + (g @ w).T @ x  # d/dW of g . (x W^T W^T)
    np.testing.assert_allclose(first.weight.grad.data, expected, rtol=1e-12)


def test_a_module_at_two_places_of_a_sequential_is_refused_naming_both():
    shared = ReLU()
    with raises_naming(ValueError, "layer 3 is layer 1 again", "second.weight = first.weight"):
        Sequential(Linear(2, 2), shared, Linear(2, 2), shared)


def test_sequential_container_protocol_and_repr():
    net = make_net()
    assert len(net) == 3 and [type(layer).__name__ for layer in net] == ["Linear", "Tanh", "Linear"]
    assert isinstance(net[1:], Sequential) and len(net[1:]) == 2
    assert repr(net) == ("Sequential(\n"
                         "  (0): Linear(in_features=3, out_features=4, bias=True)\n"
                         "  (1): Tanh()\n"
                         "  (2): Linear(in_features=4, out_features=2, bias=True)\n"
                         ")")
    assert repr(Sequential()) == "Sequential()"


@pytest.mark.task("03.2")
def test_empty_sequential_is_the_identity():
    net = Sequential()
    assert net([1.0, 2.0]).data.tolist() == [1.0, 2.0]
    assert net.backward([3.0, 4.0]).data.tolist() == [3.0, 4.0]


@pytest.mark.task("03.1", "03.2")
def test_sequential_errors():
    with pytest.raises(TypeError, match=re.escape("layer 1 (42) is not a Module")):
        Sequential(Linear(2, 2), 42)
    with pytest.raises(RuntimeError, match=re.escape("Sequential.backward() was called before forward()")):
        make_net().backward(np.ones((1, 2)))
    with pytest.raises(ValueError, match=re.escape("in_features=4, got shape (1, 3)")):
        Sequential(Linear(3, 3), Linear(4, 2))(np.ones((1, 3)))


# ---------------------------------------------------------------- properties (hypothesis)


@pytest.mark.task("03.1")
@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 6), i=st.integers(1, 6), o=st.integers(1, 6), seed=st.integers(0, 2**32 - 1), data=st.data())
def test_forward_agrees_with_numpy_and_rows_are_independent(n, i, o, seed, data):
    layer = Linear(i, o, dtype=np.float64, generator=seed)
    x = data.draw(hnp.arrays(np.float64, (n, i), elements=st.floats(-100, 100)))
    y = layer(x).data
    np.testing.assert_allclose(y, x @ layer.weight.data.T + layer.bias.data, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(y[-1], layer(x[-1]).data, rtol=1e-12, atol=1e-12)


@pytest.mark.task("03.1")
@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 6), seed=st.integers(0, 2**32 - 1), data=st.data())
def test_parameter_gradients_of_a_batch_are_sums_over_examples(n, seed, data):
    layer = Linear(3, 2, dtype=np.float64, generator=seed)
    x = data.draw(hnp.arrays(np.float64, (n, 3), elements=st.floats(-10, 10)))
    g = data.draw(hnp.arrays(np.float64, (n, 2), elements=st.floats(-10, 10)))
    layer(x)
    layer.backward(g)
    total_w, total_b = layer.weight.grad.data.copy(), layer.bias.grad.data.copy()
    per_w, per_b = np.zeros_like(total_w), np.zeros_like(total_b)
    for row in range(n):
        layer.zero_grad()
        layer(x[row])
        layer.backward(g[row])
        per_w += layer.weight.grad.data
        per_b += layer.bias.grad.data
    np.testing.assert_allclose(total_w, per_w, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(total_b, per_b, rtol=1e-10, atol=1e-10)


# ---------------------------------------------------------------- the protocol (module 02) in the layers


def _fresh_net():
    return Sequential(Linear(3, 4, dtype=np.float64, generator=0), ReLU(), Linear(4, 2, dtype=np.float64, generator=1))


X3 = np.random.default_rng(7).normal(size=(5, 3))
G2 = np.random.default_rng(8).normal(size=(5, 2))


def _gradients(net, x=X3, g=G2):
    net(x)
    dx = net.backward(g).data
    return [dx] + [p.grad.data.copy() for p in net.parameters()]


def test_every_layer_is_a_module():
    assert issubclass(Linear, Module) and issubclass(Sequential, Module)


@pytest.mark.parametrize("make", [pytest.param(lambda: Linear(3, 2, dtype=np.float64, generator=0), id="Linear",
                                               marks=pytest.mark.task("03.1")),
                                  pytest.param(_fresh_net, id="Sequential", marks=pytest.mark.task("03.1", "03.2"))])
@pytest.mark.parametrize("changed", ["input", "output", "weights"])
def test_a_callers_in_place_change_after_forward_cannot_alter_the_gradient(make, changed):
    expected = _gradients(make(), X3.copy(), np.ones((5, 2)))
    net, x = make(), X3.copy()
    out = net(x)
    if changed == "input":
        x[...] = 100.0
    elif changed == "output":
        out.data[...] = -3.0
    else:  # an optimizer step between forward and backward
        for p in net.parameters():
            p -= 0.5
    got = [net.backward(np.ones((5, 2))).data] + [p.grad.data for p in net.parameters()]
    for a, b in zip(got, expected):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("make", [pytest.param(lambda: Linear(3, 2, generator=0), id="Linear", marks=pytest.mark.task("03.1")),
                                  pytest.param(_fresh_net, id="Sequential", marks=pytest.mark.task("03.1", "03.2"))])
def test_a_second_backward_for_one_forward_is_a_runtime_error(make):
    net = make()
    net(X3)
    net.backward(np.ones((5, 2)))
    with pytest.raises(RuntimeError, match="already called for the last forward"):
        net.backward(np.ones((5, 2)))


@pytest.mark.task("03.1", "03.2")
def test_a_sequential_forward_that_raised_leaves_nothing_to_backward_in_any_layer():
    net = _fresh_net()
    net(X3)  # a good forward first: it must not be the one a later backward uses
    with pytest.raises(ValueError, match="in_features=3"):
        net(np.ones((5, 7)))
    for module in [net, *net.layers]:
        with pytest.raises(RuntimeError, match=r"the last forward\(\) raised an error"):
            module.backward(np.ones((5, 2)) if module is not net.layers[0] else np.ones((5, 4)))


@pytest.mark.task("03.1", "03.2")
def test_a_forward_under_no_grad_in_the_middle_of_a_step_leaves_the_gradient_alone():
    expected = _gradients(_fresh_net())
    net = _fresh_net()
    net(X3)
    with tinytorch.no_grad():
        accuracy_look = net(X3[:2] * 5.0)  # another batch size, as an evaluation would use
    assert accuracy_look.shape == (2, 2)
    got = [net.backward(G2).data] + [p.grad.data for p in net.parameters()]
    for a, b in zip(got, expected):
        np.testing.assert_array_equal(a, b)


@pytest.mark.task("03.1", "03.2")
def test_a_forward_that_raises_under_no_grad_leaves_the_pending_gradient_alone():
    expected = _gradients(_fresh_net())
    net = _fresh_net()
    net(X3)
    with tinytorch.no_grad(), pytest.raises(ValueError):
        net(np.ones((2, 7)))  # the wrong number of features: the evaluation fails, the step goes on
    got = [net.backward(G2).data] + [p.grad.data for p in net.parameters()]
    for a, b in zip(got, expected):
        np.testing.assert_array_equal(a, b)


@pytest.mark.task("03.1", "03.2")
def test_micro_batches_accumulate_to_the_big_batchs_gradient():
    big = _fresh_net()
    big(X3)
    big.backward(G2)
    small = _fresh_net()
    for rows in (slice(0, 2), slice(2, 5)):
        small(X3[rows])
        small.backward(G2[rows])
    for a, b in zip(small.parameters(), big.parameters()):
        np.testing.assert_allclose(a.grad.data, b.grad.data, rtol=1e-12, atol=1e-14)


@pytest.mark.task("03.1", "03.2")
def test_state_dict_names_parameters_by_position_and_round_trips():
    net = _fresh_net()
    state = net.state_dict()
    assert list(state) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    other = Sequential(Linear(3, 4, dtype=np.float64, generator=5), ReLU(), Linear(4, 2, dtype=np.float64, generator=6))
    other.load_state_dict(state)
    np.testing.assert_array_equal(other(X3).data, net(X3).data)
    with pytest.raises(ValueError, match=re.escape("'0.weight' has shape (4, 3), but the parameter has shape (5, 3)")):
        Sequential(Linear(3, 5), ReLU(), Linear(5, 2)).load_state_dict(state)


@pytest.mark.task("03.1")
def test_linear_without_bias_has_one_parameter_and_no_bias_gradient():
    layer = Linear(3, 2, bias=False, generator=0)
    assert [n for n, _ in layer.named_parameters()] == ["weight"]
    layer(X3)
    layer.backward(np.ones((5, 2)))
    assert layer.weight.grad.shape == (2, 3) and layer.bias is None


@pytest.mark.task("03.1")
def test_the_update_idioms_change_the_layers_weights():
    layer = Linear(3, 2, generator=0)
    before = layer.weight.data.copy()
    layer(X3)
    layer.backward(np.ones((5, 2)))
    for p in layer.parameters():
        p -= 0.1 * p.grad
    np.testing.assert_allclose(layer.weight.data, before - 0.1 * layer.weight.grad.data, rtol=1e-6)
    for p in layer.parameters():
        p.data -= 0.1 * p.grad  # on the arrays: works too
    np.testing.assert_allclose(layer.weight.data, before - 0.2 * layer.weight.grad.data, rtol=1e-6)
    assert layer.weight.dtype == np.float32


@pytest.mark.task("03.1", "03.2")
def test_finite_inputs_raise_nothing_under_seterr_raise():
    net = _fresh_net()
    with np.errstate(all="raise"):
        net(np.full((2, 3), 1e-200))  # products underflow to 0: not an error
        net.backward(np.ones((2, 2)))


@pytest.mark.task("03.1")
def test_loss_backward_on_a_tensor_says_how_gradients_are_obtained():
    out = Linear(3, 2)(X3)
    with pytest.raises(RuntimeError, match=r"loss_fn\.backward\(\).*model\.backward"):
        out.backward()
