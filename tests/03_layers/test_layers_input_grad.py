"""The gradient with respect to a layer's input that is the data: the forward says needs_input_grad[0] False, the
backward leaves it out, and Module returns a Tensor that makes it when something reads it, with the numbers of the
forward that ran, whatever the caller changes in between."""
import numpy as np
import pytest

from tinytorch.core.activations import ReLU
from tinytorch.core.autograd import Context, Function, Module, _InputGrad
from tinytorch.core.layers import Linear, LinearFunction, Sequential
from tinytorch.core.tensor import Tensor

X = np.random.default_rng(5).normal(size=(5, 3))
G = np.random.default_rng(6).normal(size=(5, 2))


def _layer():
    return Linear(3, 2, dtype=np.float64, generator=0)


def _expected(x=X, g=G):
    """g @ W, g.T @ x and g's column sums of a fresh layer, computed here with NumPy."""
    layer = _layer()
    W = layer.weight.data
    return g @ W, g.T @ x, g.sum(axis=0)


@pytest.mark.task("03.1")
def test_backward_computes_only_the_gradients_that_needs_input_grad_asks_for():
    W, b = _layer().weight.data, _layer().bias.data
    dx, dW, db = _expected()
    for flags in [(False, True, True), (True, False, False), (True, True, False), (False, False, True)]:
        ctx = Context()
        ctx.needs_input_grad = flags
        LinearFunction.forward(ctx, X, W, b)
        got = LinearFunction.backward(ctx, G)
        for name, flag, grad, want in zip(("input", "weight", "bias"), flags, got, (dx, dW, db)):
            if flag:
                assert grad is not None, f"with ctx.needs_input_grad = {flags}, the {name}'s gradient is asked for, " \
                                         "got None"
                np.testing.assert_allclose(grad, want, rtol=1e-12, atol=1e-12)
            else:
                assert grad is None, (f"with ctx.needs_input_grad = {flags}, the {name}'s gradient is not needed: "
                                      f"return None for it, as PyTorch's backward may; got {type(grad).__name__}")


def test_a_context_that_no_module_set_asks_for_every_gradient():
    ctx = Context()
    assert all(ctx.needs_input_grad[i] for i in range(10)) and repr(ctx.needs_input_grad) == "(True, ...)"


class Affine(Function):  # y = x W.T + b, with a backward that honours needs_input_grad, as Task 03.1's should
    @staticmethod
    def forward(ctx, x, weight, bias):
        x = np.asarray(x.data if isinstance(x, Tensor) else x, float)
        ctx.save_for_backward(x, weight.data)
        return x @ weight.data.T + bias.data

    @staticmethod
    def backward(ctx, g):
        x, W = ctx.saved_tensors
        ctx.calls = getattr(ctx, "calls", ()) + (tuple(ctx.needs_input_grad),)
        return (g @ W if ctx.needs_input_grad[0] else None, g.T @ x if ctx.needs_input_grad[1] else None,
                g.sum(axis=0) if ctx.needs_input_grad[2] else None)


class AffineLayer(Module):
    function = Affine

    def __init__(self, seed=0):
        rng = np.random.default_rng(seed)
        self.weight, self.bias = Tensor(rng.normal(size=(2, 3))), Tensor(rng.normal(size=2))

    def forward(self, x):
        return self._run(x, self.weight, self.bias)


def _affine_expected(layer, x=X, g=G):
    return g @ layer.weight.data, g.T @ x, g.sum(axis=0)


@pytest.mark.parametrize("data", ["array", "list", "tensor"])
def test_the_datas_gradient_is_made_when_read_with_the_numbers_of_an_eager_one(data):
    layer = AffineLayer()
    want_dx, want_dW, want_db = _affine_expected(layer)
    layer({"array": X, "list": X.tolist(), "tensor": Tensor(X)}[data])
    ctx = layer._saved[0]
    assert ctx.needs_input_grad == (False, True, True)
    dx = layer.backward(G)
    assert isinstance(dx, _InputGrad) and dx._later is not None and ctx.calls == ((False, True, True),)  # not yet
    np.testing.assert_allclose(layer.weight.grad.data, want_dW, rtol=1e-12)
    np.testing.assert_allclose(dx.data, want_dx, rtol=1e-12)  # made now, by the input's gradient alone
    assert ctx.calls == ((False, True, True), (True, False, False)) and dx._later is None and dx.shape == (5, 3)
    np.testing.assert_allclose(layer.weight.grad.data, want_dW, rtol=1e-12)  # reading it added nothing to them
    np.testing.assert_allclose(layer.bias.grad.data, want_db, rtol=1e-12)


@pytest.mark.task("03.2")
def test_a_layer_after_another_module_computes_its_input_gradient_at_once():
    net = Sequential(AffineLayer(0), ReLU(), Linear(2, 2, dtype=np.float64, generator=1))
    net(X)
    first, _, last = net.layers
    assert first._saved[0].needs_input_grad == (False, True, True)
    assert all(last._saved[0].needs_input_grad[i] for i in range(3))  # its input is ReLU's output
    dx = net.backward(G)
    assert isinstance(dx, _InputGrad), "Sequential.backward returns what the first layer's backward returned"
    h = X @ first.weight.data.T + first.bias.data
    np.testing.assert_allclose(dx.data, ((G @ last.weight.data) * (h > 0)) @ first.weight.data, rtol=1e-12)


def test_an_optimizer_step_before_the_gradient_is_read_does_not_change_it():
    layer = AffineLayer()
    want = _affine_expected(layer)[0]
    layer(X)
    dx = layer.backward(G)
    for p in layer.parameters():
        p -= 0.5 * p.grad  # the step of every training loop, before anyone reads dx
    np.testing.assert_allclose(dx.data, want, rtol=1e-12)


def test_a_callers_change_to_its_grad_output_after_backward_does_not_change_the_gradient():
    layer, g = AffineLayer(), G.copy()
    want = _affine_expected(layer)[0]
    layer(X)
    dx = layer.backward(g)
    g[...] = 100.0
    np.testing.assert_allclose(dx.data, want, rtol=1e-12)


@pytest.mark.parametrize("write", ["g *= 3", "g.numpy()[...] = 0", "v = g[1:3]; v *= 100", "p.data -= p.grad.data",
                                   "p.data[...] = 0", "np.copyto(p.data, 7.0)", "row = p[0]; row *= 0",
                                   "wt = p.T; wt -= 1"])
def test_no_write_after_backward_changes_the_gradient_not_read_yet(write):
    relu, layer = ReLU(), AffineLayer()
    want = _affine_expected(layer)[0]
    layer(X)
    relu(np.ones((5, 2)))
    g = relu.backward(G)  # a module's gradient, handed on, as in a Sequential
    dx = layer.backward(g)
    p = layer.weight
    exec(write, {"np": np, "g": g, "p": p})  # through tinytorch, through NumPy alone, through a view
    np.testing.assert_allclose(dx.data, want, rtol=1e-12, err_msg=f"after {write}")


def test_a_backward_that_gives_no_input_gradient_when_asked_is_named():
    class Lazy(Affine):
        @staticmethod
        def backward(ctx, g):
            return None, g.T @ ctx.saved_tensors[0], g.sum(axis=0)

    class LazyLayer(AffineLayer):
        function = Lazy
    layer = LazyLayer()
    layer(X)
    dx = layer.backward(G)
    with pytest.raises(TypeError, match=r"Lazy\.backward gave None for its input's gradient with "
                                        r"ctx\.needs_input_grad\[0\] True"):
        dx.data


@pytest.mark.task("03.1", "03.2")
def test_every_forward_of_a_module_has_one_flag_per_input():
    net = Sequential(Linear(3, 4, generator=0), ReLU(), Linear(4, 2, generator=1))
    net(X)
    assert [layer._saved[0].needs_input_grad for layer in net] == [(False, True, True), (True,), (True, True, True)]
    need_x, need_W, need_b = net[2]._saved[0].needs_input_grad  # unpacks as PyTorch's does


@pytest.mark.task("03.1")
@pytest.mark.parametrize("changed", ["grad_output", "weight", "input"])
def test_linears_input_gradient_is_the_forwards_whenever_it_is_read(changed):
    layer, x, g = _layer(), X.copy(), G.copy()
    want = _expected()[0]
    layer(x)
    dx = layer.backward(g)
    if changed == "grad_output":
        g[...] = 100.0
    elif changed == "weight":
        layer.weight -= 0.5 * layer.weight.grad
    else:
        x[...] = -7.0
    np.testing.assert_allclose(dx.data, want, rtol=1e-12)


@pytest.mark.task("03.1")
def test_the_gradient_read_twice_is_made_once():
    layer = _layer()
    layer(X)
    dx = layer.backward(G)
    first = dx.data
    assert dx.data is first and np.asarray(dx) is first


class Scaled(Function):  # y = w x, a backward that ignores needs_input_grad
    @staticmethod
    def forward(ctx, x, weight):
        ctx.save_for_backward(np.asarray(x, float), weight.data)
        return weight.data * np.asarray(x, float)

    @staticmethod
    def backward(ctx, grad_output):
        x, w = ctx.saved_tensors
        return grad_output * w, grad_output * x


class ScaledModule(Module):
    function = Scaled

    def __init__(self):
        self.weight = Tensor(np.array([2.0, 3.0]))

    def forward(self, x):
        return self._run(x, self.weight)


def test_a_backward_that_ignores_the_flag_gives_its_gradient_as_a_plain_tensor():
    m = ScaledModule()
    m(np.array([1.0, 1.0]))
    dx = m.backward(np.array([1.0, 2.0]))
    assert type(dx) is Tensor and dx.data.tolist() == [2.0, 6.0] and m.weight.grad.data.tolist() == [1.0, 2.0]
