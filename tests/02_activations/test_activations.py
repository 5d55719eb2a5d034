"""Activations: hand-computed values, derived backward vs central differences, extremes, dtypes, errors."""
import re
import warnings

import numpy as np
import pytest
from tasks import marked
from gradcheck import numerical_grad, vjp_numerical
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinytorch
from tinytorch.core.activations import ReLU, Sigmoid, Softmax, Tanh
from tinytorch.core.autograd import Module
from tinytorch.core.tensor import Tensor

ALL = [ReLU, Sigmoid, Tanh, Softmax]
ACTIVATION_TASKS = {ReLU: "02.1", Sigmoid: "02.2", Tanh: "02.3", Softmax: "02.4"}
_by_task = pytest.mark.parametrize("cls", marked(ALL, ACTIVATION_TASKS.get, ids=lambda c: c.__name__))


# ---------------------------------------------------------------- hand-computed values


@pytest.mark.task("02.1")
def test_relu_values_and_gradient():
    relu = ReLU()
    assert relu([-2.0, 0.0, 3.0]).data.tolist() == [0.0, 0.0, 3.0]
    assert relu.backward([5.0, 5.0, 5.0]).data.tolist() == [0.0, 0.0, 5.0]  # slope 0 at the kink, like PyTorch


@pytest.mark.task("02.2")
def test_sigmoid_values_and_gradient():
    sig = Sigmoid()
    y = sig(np.array([0.0, np.log(3.0), -np.log(3.0)]))
    np.testing.assert_allclose(y.data, [0.5, 0.75, 0.25], rtol=1e-15)  # 1/(1+1/3), 1/(1+3)
    np.testing.assert_allclose(sig.backward([1.0, 1.0, 2.0]).data, [0.25, 0.75 * 0.25, 2 * 0.25 * 0.75], rtol=1e-15)


@pytest.mark.task("02.3")
def test_tanh_values_and_gradient():
    tanh = Tanh()
    y = tanh(np.array([0.0, np.log(2.0)]))
    np.testing.assert_allclose(y.data, [0.0, 0.6], atol=1e-15)  # (2 - 1/2) / (2 + 1/2)
    np.testing.assert_allclose(tanh.backward([1.0, 1.0]).data, [1.0, 0.64], rtol=1e-14)


@pytest.mark.task("02.4")
def test_softmax_values_and_gradient():
    sm = Softmax()
    y = sm(np.log([[1.0, 2.0, 5.0], [1.0, 1.0, 2.0]]))
    np.testing.assert_allclose(y.data, [[1 / 8, 2 / 8, 5 / 8], [1 / 4, 1 / 4, 1 / 2]], rtol=1e-14)
    sm([0.0, 0.0])
    np.testing.assert_allclose(sm.backward([1.0, 0.0]).data, [0.25, -0.25])  # y * (g - g.y), y = [1/2, 1/2]


@pytest.mark.task("02.4")
def test_softmax_over_dim_0():
    y = Softmax(dim=0)(np.log([[1.0, 3.0], [3.0, 1.0]]))
    np.testing.assert_allclose(y.data, [[0.25, 0.75], [0.75, 0.25]], rtol=1e-14)


def test_repr():
    assert [repr(a()) for a in (ReLU, Sigmoid, Tanh)] == ["ReLU()", "Sigmoid()", "Tanh()"]
    assert repr(Softmax()) == "Softmax(dim=-1)" and repr(Softmax(dim=0)) == "Softmax(dim=0)"


@_by_task
def test_call_is_forward_and_inputs_may_be_tensor_array_or_list(cls):
    x = [[0.5, -1.0], [2.0, 0.0]]
    outs = [cls()(Tensor(x)), cls().forward(np.array(x, dtype=np.float32)), cls()(x)]
    assert all(isinstance(o, Tensor) for o in outs)
    for o in outs[1:]:
        np.testing.assert_array_equal(o.data, outs[0].data)


@pytest.mark.parametrize("cls", ALL)
def test_activations_have_no_parameters(cls):
    assert cls().parameters() == []


# ---------------------------------------------------------------- gradients: central differences, every element

RNG = np.random.default_rng(1234)
X = RNG.normal(size=(3, 4)) * 2
G = RNG.normal(size=(3, 4))


@pytest.mark.parametrize("make", [pytest.param(Sigmoid, marks=pytest.mark.task("02.2"), id="sigmoid"),
                                  pytest.param(Tanh, marks=pytest.mark.task("02.3"), id="tanh"),
                                  pytest.param(lambda: Softmax(-1), marks=pytest.mark.task("02.4"), id="softmax-last"),
                                  pytest.param(lambda: Softmax(0), marks=pytest.mark.task("02.4"), id="softmax-0"),
                                  pytest.param(ReLU, marks=pytest.mark.task("02.1"), id="relu")])
def test_backward_matches_central_differences(make):
    x = X.copy()
    if make is ReLU:
        x[np.abs(x) < 1e-3] = 0.5  # stay away from the kink, where the derivative does not exist
    act = make()
    act.forward(x)
    analytic = act.backward(G).data
    numeric = vjp_numerical(lambda z: make().forward(z).data, x.copy(), G)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-8)


@pytest.mark.task("02.4")
@pytest.mark.parametrize("dim", [0, 1, 2, -1])
def test_softmax_backward_3d_matches_central_differences(dim):
    x = RNG.normal(size=(2, 3, 4))
    g = RNG.normal(size=(2, 3, 4))
    sm = Softmax(dim)
    sm(x)
    numeric = vjp_numerical(lambda z: Softmax(dim)(z).data, x.copy(), g)
    np.testing.assert_allclose(sm.backward(g).data, numeric, rtol=1e-6, atol=1e-8)


@pytest.mark.task("02.4")
def test_softmax_gradient_of_scalar_loss_matches_numerical_grad():
    x = RNG.normal(size=5)
    target = 2
    sm = Softmax()
    y = sm(x).data
    g = np.zeros(5)
    g[target] = -1 / y[target]  # d(-log y_t)/dy
    numeric = numerical_grad(lambda z: -np.log(Softmax()(z).data[target]), x.copy())
    np.testing.assert_allclose(sm.backward(g).data, numeric, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(numeric, y - np.eye(5)[target], rtol=1e-6, atol=1e-9)  # the well-known y - onehot


@pytest.mark.parametrize("cls", marked([Sigmoid, Tanh], ACTIVATION_TASKS.get, ids=lambda c: c.__name__))
def test_backward_uses_the_last_forward(cls):
    act = cls()
    act(np.array([5.0]))
    act(np.array([0.0]))
    expected = 0.25 if cls is Sigmoid else 1.0
    assert act.backward(np.array([1.0])).data.tolist() == [expected]


# ---------------------------------------------------------------- extremes


@pytest.mark.task("02.2")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_is_exact_and_silent_at_plus_minus_1000(dtype):
    x = np.array([-1000.0, -100.0, 0.0, 100.0, 1000.0], dtype=dtype)
    sig = Sigmoid()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = sig(x).data
        g = sig.backward(np.ones_like(x)).data
    assert y[0] == 0.0 and y[-1] == 1.0 and y[2] == 0.5
    assert y[1] > 0.0  # 3.7e-44 is representable (subnormal) in float32: no needless underflow
    assert np.all(np.isfinite(y)) and np.all(np.isfinite(g)) and g.dtype == dtype
    assert g[0] == 0.0 and g[-1] == 0.0


@pytest.mark.task("02.4")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_is_finite_and_silent_at_plus_minus_1000(dtype):
    x = np.array([[1000.0, 0.0, -1000.0], [1000.0, 1000.0, -1000.0], [-1000.0, -1000.0, -1000.0]], dtype=dtype)
    sm = Softmax()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = sm(x).data
        g = sm.backward(np.arange(9, dtype=dtype).reshape(3, 3)).data
    np.testing.assert_array_equal(y, np.array([[1, 0, 0], [0.5, 0.5, 0], [1 / 3, 1 / 3, 1 / 3]], dtype=dtype))
    assert np.all(np.isfinite(g)) and g.dtype == dtype


@pytest.mark.task("02.3")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_tanh_saturates_exactly(dtype):
    t = Tanh()
    assert t(np.array([-1000.0, 1000.0], dtype=dtype)).data.tolist() == [-1.0, 1.0]
    assert t.backward(np.ones(2, dtype=dtype)).data.tolist() == [0.0, 0.0]


@pytest.mark.task("02.1", "02.2", "02.3", "02.4")
def test_nan_propagates():
    for cls in ALL:
        assert np.isnan(cls()(np.array([np.nan, 1.0])).data[0])


# ---------------------------------------------------------------- dtypes


@_by_task
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_forward_and_backward_keep_the_float_dtype(cls, dtype):
    act = cls()
    x = np.array([[0.5, -1.5, 2.0]], dtype=dtype)
    assert act(x).dtype == dtype
    assert act.backward(np.ones((1, 3), dtype=np.float64)).dtype == dtype


@_by_task
def test_integer_input_becomes_float32(cls):
    act = cls()
    assert act(Tensor([[1, -2, 3]])).dtype == np.float32
    assert act.backward(np.ones((1, 3))).dtype == np.float32


@_by_task
def test_backward_has_the_input_shape(cls):
    act = cls()
    act(np.zeros((2, 3, 4)))
    assert act.backward(np.ones((2, 3, 4))).shape == (2, 3, 4)


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize("cls", ALL)
def test_backward_before_forward_is_a_runtime_error(cls):
    with pytest.raises(RuntimeError, match=rf"{cls.__name__}\.backward\(\) was called before forward\(\)"):
        cls().backward(np.ones(3))


@_by_task
def test_grad_output_of_the_wrong_shape_names_both_shapes(cls):
    act = cls()
    act(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=re.escape("grad_output has shape (3, 2), but the last forward's output has shape (2, 3)")):
        act.backward(np.ones((3, 2)))


def test_softmax_dim_errors():
    with pytest.raises(ValueError, match=re.escape("softmax: dim 2 is out of range for a tensor of shape (2, 3) (valid: -2 to 1)")):
        Softmax(dim=2)(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=re.escape("dim -3 is out of range")):
        Softmax(dim=-3)(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="softmax needs at least one dimension"):
        Softmax()(np.float32(1.0))
    with pytest.raises(TypeError, match="dim must be an int, got 'last'"):
        Softmax(dim="last")
    with pytest.raises(TypeError, match="dim must be an int, got True"):
        Softmax(dim=True)


@pytest.mark.parametrize("cls", ALL)
def test_bad_input_is_refused_by_the_tensor_constructor(cls):
    with pytest.raises(TypeError, match="'abc'"):
        cls()("abc")
    with pytest.raises(ValueError, match="ragged"):
        cls()([[1.0], [1.0, 2.0]])


# ---------------------------------------------------------------- properties (hypothesis)

finite = st.floats(-50, 50, allow_nan=False)
matrices = hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=3, max_side=5), elements=finite)
wide = hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=3, max_side=5), elements=st.floats(-1e4, 1e4))


@pytest.mark.task("02.2")
@settings(max_examples=60, deadline=None)
@given(x=wide)
def test_sigmoid_is_symmetric(x):
    np.testing.assert_allclose(Sigmoid()(-x).data, 1 - Sigmoid()(x).data, atol=1e-15)


@pytest.mark.task("02.2", "02.3")
@settings(max_examples=60, deadline=None)
@given(x=wide)
def test_sigmoid_and_tanh_stay_in_range(x):
    s, t = Sigmoid()(x).data, Tanh()(x).data
    assert np.all((s >= 0) & (s <= 1)) and np.all((t >= -1) & (t <= 1))
    np.testing.assert_allclose(Tanh()(-x).data, -t)


@pytest.mark.task("02.4")
@settings(max_examples=60, deadline=None)
@given(x=wide, data=st.data())
def test_softmax_rows_are_distributions(x, data):
    dim = data.draw(st.integers(-x.ndim, x.ndim - 1))
    y = Softmax(dim)(x).data
    assert np.all(y >= 0)
    np.testing.assert_allclose(y.sum(axis=dim), 1.0, rtol=1e-12)


@pytest.mark.task("02.4")
@settings(max_examples=60, deadline=None)
@given(x=matrices, shift=st.floats(-1e3, 1e3))
def test_softmax_is_shift_invariant(x, shift):
    np.testing.assert_allclose(Softmax()(x + shift).data, Softmax()(x).data, rtol=1e-9, atol=1e-12)


@pytest.mark.task("02.1")
@settings(max_examples=60, deadline=None)
@given(x=matrices)
def test_relu_is_idempotent_and_keeps_positives(x):
    y = ReLU()(x).data
    np.testing.assert_array_equal(ReLU()(y).data, y)
    np.testing.assert_array_equal(y[x > 0], x[x > 0])
    assert np.all(y[x <= 0] == 0)


@pytest.mark.task("02.4")
@settings(max_examples=40, deadline=None)
@given(x=matrices)
def test_softmax_gradient_of_a_constant_upstream_is_zero(x):
    sm = Softmax()
    sm(x)  # sum(y) = 1 whatever x is, so a constant g has no effect
    np.testing.assert_allclose(sm.backward(np.full(x.shape, 3.0)).data, 0.0, atol=1e-12)


def test_every_activation_is_a_module():
    assert all(issubclass(cls, Module) for cls in ALL)


# ---------------------------------------------------------------- the protocol, for every activation


@_by_task
def test_a_second_backward_for_one_forward_is_a_runtime_error(cls):
    act = cls()
    act(X)
    act.backward(G)
    with pytest.raises(RuntimeError, match=rf"{cls.__name__}\.backward\(\) was already called for the last forward"):
        act.backward(G)


@_by_task
def test_backward_after_a_forward_that_raised_is_a_runtime_error(cls):
    act = cls()
    act(X)
    with pytest.raises(TypeError):
        act("abc")
    with pytest.raises(RuntimeError, match=r"the last forward\(\) raised an error"):
        act.backward(G)


@_by_task
def test_a_forward_under_no_grad_leaves_the_saved_forward_alone(cls):
    expected = cls()
    expected(X)
    act = cls()
    act(X)
    with tinytorch.no_grad():
        act(X[::-1] * 3.0)
    np.testing.assert_array_equal(act.backward(G).data, expected.backward(G).data)


@_by_task
def test_only_no_grad_forwards_leave_nothing_to_backward(cls):
    act = cls()
    with tinytorch.no_grad():
        act(X)
    with pytest.raises(RuntimeError, match="before forward"):
        act.backward(G)


@_by_task
@pytest.mark.parametrize("changed", ["input", "output", "grad_output"])
def test_a_callers_in_place_change_after_forward_cannot_alter_the_gradient(cls, changed):
    expected = cls()
    expected(X.copy())
    wanted = expected.backward(G.copy()).data
    x, g = X.copy(), G.copy()
    act = cls()
    out = act(x)
    if changed == "input":
        x *= -3.0
    elif changed == "output":
        out.data[...] = 0.25
    got = act.backward(g)
    if changed == "grad_output":
        g *= 10.0
    np.testing.assert_array_equal(got.data, wanted)


@pytest.mark.task("02.1")
def test_relu_gradient_is_exactly_zero_where_the_input_is_not_positive_even_for_inf_or_nan():
    relu = ReLU()
    relu(np.array([-1.0, 0.0, 2.0, 3.0]))
    got = relu.backward(np.array([np.inf, np.nan, np.inf, np.nan])).data
    assert got[0] == 0.0 and got[1] == 0.0 and got[2] == np.inf and np.isnan(got[3])


@pytest.mark.task("02.4")
@pytest.mark.parametrize("shape, dim", [((3, 0), -1), ((0, 4), 0), ((0, 4), 1), ((2, 0, 3), 1)])
def test_softmax_over_an_empty_dimension_is_empty_as_in_pytorch(shape, dim):
    sm = Softmax(dim)
    out = sm(np.zeros(shape, np.float32))
    assert out.shape == shape and out.dtype == np.float32
    assert sm.backward(np.zeros(shape)).shape == shape


@_by_task
def test_finite_inputs_raise_nothing_under_seterr_raise(cls):
    x = np.array([[-800.0, 0.0, 800.0]])
    with np.errstate(all="raise"):
        act = cls()
        act(x)
        act.backward(np.ones((1, 3)))


@pytest.mark.task("02.3")
def test_a_python_float_grad_output_is_read_at_the_outputs_precision():
    tanh = Tanh()
    tanh(np.array(0.0))  # 0-d float64: dy/dx = 1, so the gradient is grad_output itself
    assert tanh.backward(0.1).item() == 0.1  # not float32's 0.10000000149


@pytest.mark.task("02.1", "02.2")
def test_a_zero_dimensional_output_lets_grad_output_default_to_one():
    sig = Sigmoid()
    sig(np.array(0.0))
    assert sig.backward().item() == 0.25
    relu = ReLU()
    relu(np.ones(2))
    with pytest.raises(ValueError, match=re.escape("ReLU.backward() needs a grad_output of shape (2,)")):
        relu.backward()
